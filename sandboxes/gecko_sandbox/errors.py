"""The API's error answers, as an exception the dispatcher turns into a response."""

from __future__ import annotations

from http import HTTPStatus

from gecko_sandbox.store import dumps


class ApiError(Exception):
    """4xx/5xx with the API's body: {"type": <reason phrase>, "message": ...} unless `body` is given."""

    def __init__(self, status: int, message: str = "", body: object | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"type": HTTPStatus(status).phrase, "message": message}

    def content(self) -> bytes:
        return dumps(self.body)


def not_found(singular: str, key: object) -> ApiError:
    name = singular.replace("_", " ").title().replace(" ", "")
    return ApiError(404, f"Couldn't find {name} with 'id'={key}")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def validation(errors: dict[str, list[str]]) -> ApiError:
    """422 in the Rails shape the API uses: {"errors": {"field": ["message"]}}."""
    return ApiError(422, body={"errors": errors})
