"""Structured logs: one JSON object per line on stderr.

Every record has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; events add their
own fields with ``log(logger, level, message, field=value, ...)``. Nothing secret is ever passed in:
API keys, client keys and the Redis URL (which may hold a password) are not logged.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

_FIELDS = "lxdms_fields"


class JsonFormatter(logging.Formatter):
    """Format a record as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, _FIELDS, None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with structured ``fields``."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={_FIELDS: fields})


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
