"""Wire timestamps: ISO-8601 UTC with milliseconds, and a clock whose stamps never repeat."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime

_DAYS: dict[int, str] = {}


def iso_ms(epoch_ms: int) -> str:
    """1447315561561 -> "2015-11-12T08:06:01.561Z" (cheap enough for a million records)."""
    day, ms = divmod(epoch_ms, 86_400_000)
    prefix = _DAYS.get(day)
    if prefix is None:
        t = time.gmtime(day * 86_400)
        prefix = _DAYS[day] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
    seconds, millis = divmod(ms, 1000)
    minutes, sec = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{sec:02d}.{millis:03d}Z"


def date_only(epoch_ms: int) -> str:
    return iso_ms(epoch_ms)[:10]


def parse_time(value: str) -> datetime:
    """Lenient input dates, as the API accepts: ISO with or without time, `21-02-2018`, RFC 2822."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        try:
            parsed = datetime.strptime(text, "%d-%m-%Y")
        except ValueError:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"not a date or time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_to_iso(value: str) -> str:
    """Normalise an input time to the wire format, so string comparison orders like time."""
    parsed = parse_time(value)
    return iso_ms(int(parsed.timestamp() * 1000))


def parse_to_date(value: str) -> str:
    if len(value) == 10 and value[4] == "-":
        return date.fromisoformat(value).isoformat()
    return parse_time(value).date().isoformat()


class Clock:
    """`now()` is strictly increasing within the process: two changes never share an updated_at."""

    def __init__(self) -> None:
        self.started_ms = int(time.time() * 1000)
        self._last = self.started_ms

    def now_ms(self) -> int:
        now = int(time.time() * 1000)
        self._last = now if now > self._last else self._last + 1
        return self._last

    def now(self) -> str:
        return iso_ms(self.now_ms())
