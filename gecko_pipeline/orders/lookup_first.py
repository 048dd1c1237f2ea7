"""Sending one API write whose answer may be lost: look before posting again.

After a 5xx, a dropped connection or a truncated answer, the API may have applied the write anyway
(the real one may leave a write behind a 500, and may not have recorded the Idempotency-Key either).
So the write is never retried blindly: the client sends it once (`max_retries=0`), and before each
new attempt the caller's `applied()` asks the API whether it took effect (an order found by its
reference_number, a payment status, a matching fulfillment). The number of attempts is bounded; then
the last error is raised and the order is retried by a later run, which looks first as well.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from gecko_pipeline.api import GeckoApiError, GeckoClient, ValidationError
from gecko_pipeline.api.errors import AuthenticationError, PaymentRequiredError, TransportError

ATTEMPTS = 3  # posts per push; each one after the first is preceded by a look
_PAUSE_CAP_SECONDS = 5.0

log = logging.getLogger("gecko_pipeline.orders")


def _answer_lost(exc: Exception) -> bool:
    """True when the write may have been applied although no usable answer came back."""
    if isinstance(exc, json.JSONDecodeError):
        return True  # a 2xx whose body was cut short
    if isinstance(exc, TransportError):
        return exc.may_have_reached_server
    return isinstance(exc, GeckoApiError) and (exc.status is None or exc.status >= 500)


def post_looking_first(
    client: GeckoClient,
    path: str,
    body: Mapping[str, Any],
    key: str,
    applied: Callable[[], bool],
    *,
    refusal_may_mean_applied: bool = False,
    attempts: int = ATTEMPTS,
) -> dict[str, Any] | None:
    """POSTs `body` once per attempt under `key`. Returns the answer, or None when `applied()` found
    that an earlier attempt took effect. A 422 is raised as it is, unless `refusal_may_mean_applied`
    (an action refused as already done: "already paid") and `applied()` confirms it."""
    for attempt in range(1, attempts + 1):
        try:
            return client.post(path, body, idempotency_key=key, max_retries=0)
        except (AuthenticationError, PaymentRequiredError):
            raise  # nothing else can work either
        except ValidationError:
            if refusal_may_mean_applied and applied():
                return None
            raise
        except (GeckoApiError, json.JSONDecodeError) as exc:
            lost = _answer_lost(exc)
            if lost and applied():
                return None
            if attempt == attempts or not (lost or isinstance(exc, TransportError)):
                raise  # a definitive answer (403, 404, ...) or out of attempts
            log.warning("POST %s: %s; it did not take effect, posting again", path, exc)
            time.sleep(random.uniform(0, min(_PAUSE_CAP_SECONDS, 0.2 * 2**attempt)))
    raise AssertionError("unreachable")  # pragma: no cover
