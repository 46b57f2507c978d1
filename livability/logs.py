"""Structured logs: one JSON object per line, as Cloud Logging reads them from stdout/stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Attributes every LogRecord has; anything else came in through `extra=` and is logged.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class CloudLoggingFormatter(logging.Formatter):
    """Formats a record as a Cloud Logging structured entry (`severity`, `message`, fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StandardStream(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout`/`sys.stderr` is at emit time (test capture swaps it)."""

    def __init__(self, name: str) -> None:
        self._stream_name = name
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return getattr(sys, self._stream_name)  # type: ignore[no-any-return]

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


LOGGERS = ("livability", "functions", "scoring", "edge")


def configure_logging(
    level: int = logging.INFO, stream: str = "stdout", *, replace: bool = True
) -> None:
    """Route the platform's loggers to `sys.<stream>` as JSON lines. Call from entry points.

    With `replace=False` an existing set-up is kept: a function runtime configures logging
    unless the process hosting it (the CLI's demo, say) already did.
    """
    if not replace and any(logging.getLogger(name).handlers for name in LOGGERS):
        return
    handler = _StandardStream(stream)
    handler.setFormatter(CloudLoggingFormatter())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
