"""Console logging while datatrove pipelines run.

datatrove's executors re-add an INFO-level stderr sink for every task; from the command line that buries
the one-line warnings about bad input. `route_datatrove_logs` keeps datatrove's per-task log files
(RUN/.work/logs/<stage>/logs/task_*.log, at DEBUG) and keeps the one console sink that `common.logs`
configured (warnings and errors, everything with --verbose).
"""

from __future__ import annotations

import contextlib

from loguru import logger

from common.logs import FILE_FORMAT, console_sink


def route_datatrove_logs() -> None:
    import datatrove.executor.base as executor_base
    import datatrove.utils.logging as dt_logging

    task_sink: dict[str, int] = {}  # the running task's log file sink

    # Adding a loguru sink costs ≈ 5 ms, and datatrove re-installs the console sink at every task's start and end.
    # Here the console sink is installed once, below, in the process that routes the logs (the command, and the
    # forkserver its pool workers are forked from); a task adds and removes only its log file.
    def add_task_logger(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
        end_task_logger()
        logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        # catch=False: when the log file cannot be written (a full disk) the error reaches the caller, which
        # reports it in one line, instead of loguru printing its own traceback
        task_sink["sink"] = logger.add(logfile, level="DEBUG", format=FILE_FORMAT, colorize=False, catch=False)
        return logfile

    def end_task_logger():
        if "sink" in task_sink:
            with contextlib.suppress(ValueError):  # removed already (a console_sink() call in between)
                logger.remove(task_sink.pop("sink"))

    executor_base.add_task_logger = add_task_logger
    dt_logging.add_task_logger = add_task_logger
    dt_logging.setup_default_logger = end_task_logger  # called when a task ends
    console_sink()
