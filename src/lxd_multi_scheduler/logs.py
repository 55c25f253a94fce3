"""Structured logs: one JSON object per line on stderr, in the shape Go's ``log/slog`` JSON handler writes.

The Go scheduler of shoes-lxd-multi (branch ``feat/add-lxd-scheduler``) logs with
``slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{AddSource: true})``, so tools built for it
read these lines too. Every record has, in this order:

- ``time``: RFC 3339 with the fraction of a second up to nanoseconds, trailing zeros dropped, and
  the local zone (``Z`` for UTC), as Go's ``time.RFC3339Nano`` writes it;
- ``level``: ``DEBUG``, ``INFO``, ``WARN``, ``ERROR`` (``Level.String``; Python's CRITICAL is ``ERROR+4``);
- ``source``: ``{"function", "file", "line"}`` of the logging call (``AddSource``);
- ``msg``;
- then the attributes: ``logger`` (the Python logger), the event's own fields given with
  ``log(logger, level, message, field=value, ...)``, and ``exception`` when there is one.

Nothing secret is ever passed in: API keys, client keys and the Redis URL (which may hold a
password) are not logged.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

_FIELDS = "lxdms_fields"
# slog's levels are Python's shifted and scaled: DEBUG -4, INFO 0, WARN 4, ERROR 8 (Python 10, 20, 30, 40).
_SLOG_LEVELS = ((8, "ERROR"), (4, "WARN"), (0, "INFO"))


def slog_level(levelno: int) -> str:
    """The name ``log/slog``'s ``Level.String`` gives the slog level of a Python level number."""
    level = round((levelno - logging.INFO) * 2 / 5)
    base, name = next(((base, name) for base, name in _SLOG_LEVELS if level >= base), (-4, "DEBUG"))
    offset = level - base
    return name if offset == 0 else f"{name}{offset:+d}"


def rfc3339_nano(seconds: float) -> str:
    """``seconds`` since the epoch (microsecond precision) as Go's ``time.RFC3339Nano`` writes a local time."""
    stamp = datetime.datetime.fromtimestamp(seconds).astimezone()
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{stamp.microsecond:06d}".rstrip("0")
    if fraction:
        text += "." + fraction
    offset = stamp.utcoffset() or datetime.timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class JsonFormatter(logging.Formatter):
    """Format a record as a single JSON line, keys in ``log/slog``'s order."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": rfc3339_nano(record.created),
            "level": slog_level(record.levelno),
            "source": {"function": f"{record.module}.{record.funcName}", "file": record.pathname, "line": record.lineno},
            "msg": record.getMessage(),
            "logger": record.name,
        }
        entry.update(getattr(record, _FIELDS, None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with structured ``fields``."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={_FIELDS: fields}, stacklevel=2)


def configure(level: str = "info", stream=None) -> dict:
    """Send the root logger and uvicorn's loggers to one JSON handler; return uvicorn's ``log_config``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Our middleware writes the access log with structured fields; uvicorn's own is switched off.
    logging.getLogger("uvicorn.access").disabled = True
    return {"version": 1, "disable_existing_loggers": False}
