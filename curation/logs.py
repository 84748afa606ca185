"""Console logging for datatrove pipelines run from the CLI.

datatrove's executors re-add an INFO-level stderr sink for every task; from the command line that buries
the one-line warnings about bad input. `route_datatrove_logs` keeps datatrove's per-task log files
(RUN/.work/logs/<stage>/logs/task_*.log, at DEBUG) and shows only `console_level` and above on stderr.
"""

from __future__ import annotations

import sys

from loguru import logger


def CONSOLE_FORMAT(record) -> str:  # noqa: N802 - a loguru format; being a function, no traceback is appended
    return "<level>{level: <8}</level> {message}\n"

FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}"


BENIGN = ("No .remove file for rank",)  # MinHash found no duplicates in that task: nothing is wrong


def _not_benign(record) -> bool:
    return not record["message"].startswith(BENIGN)


def route_datatrove_logs(console_level: str = "WARNING") -> None:
    import datatrove.executor.base as executor_base
    import datatrove.utils.logging as dt_logging

    def console() -> None:
        logger.remove()
        logger.add(sys.stderr, level=console_level, format=CONSOLE_FORMAT, colorize=sys.stderr.isatty(),
                   filter=_not_benign)

    def add_task_logger(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
        console()
        logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        # catch=False: when the log file cannot be written (a full disk) the error reaches the caller, which
        # reports it in one line, instead of loguru printing its own traceback
        logger.add(logfile, level="DEBUG", format=FILE_FORMAT, colorize=False, catch=False)
        return logfile

    executor_base.add_task_logger = add_task_logger
    dt_logging.add_task_logger = add_task_logger
    dt_logging.setup_default_logger = console
    console()
