"""Logging, configured once (by the CLI): loguru on stderr, with the standard library's ``logging`` routed
into it, so that every module's messages (ours, datatrove's, Megatron's) reach the same place.

``configure(verbose)`` shows warnings and errors (everything with ``verbose``). Stages that start datatrove
executors re-apply ``console_sink()`` after datatrove replaces the sinks (see ``curation.logs``).
"""

from __future__ import annotations

import logging
import os
import sys

from loguru import logger

LEVEL_ENV = "HEBATRON_LOG_LEVEL"  # the configured level, for worker processes started from a fresh interpreter
_state = {"level": os.environ.get(LEVEL_ENV, "WARNING")}


def CONSOLE_FORMAT(record) -> str:  # noqa: N802 - a loguru format; being a function, no traceback is appended
    return "<level>{level: <8}</level> {message}\n"


FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}"
BENIGN = ("No .remove file for rank",)  # MinHash found no duplicates in that task: nothing is wrong


def _not_benign(record) -> bool:
    return not record["message"].startswith(BENIGN)


class _ToLoguru(logging.Handler):
    """Hands standard-library log records to loguru, at their level and with their logger's name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.patch(lambda r: r.update(name=record.name, function=record.funcName, line=record.lineno)).opt(
            exception=record.exc_info
        ).log(level, record.getMessage())


def console_level() -> str:
    return _state["level"]


def console_sink() -> None:
    """(Re)install the one stderr sink, at the configured level."""
    logger.remove()
    logger.add(
        sys.stderr, level=_state["level"], format=CONSOLE_FORMAT, colorize=sys.stderr.isatty(), filter=_not_benign
    )


def configure(verbose: bool = False) -> None:
    """Warnings and errors on stderr (everything from INFO with ``verbose``); stdlib logging routed in."""
    _state["level"] = os.environ[LEVEL_ENV] = "INFO" if verbose else "WARNING"
    console_sink()
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.INFO if verbose else logging.WARNING, force=True)
