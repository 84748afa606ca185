"""Stopping a command cleanly: Ctrl-C, SIGTERM and SIGHUP (a kill, a closed terminal, a scheduler's
preemption) all become ``KeyboardInterrupt`` in the command's process, and no helper process outlives it.

On the first signal the stage unwinds as on Ctrl-C: its executors stop their workers (a worker is not
killed before its pool lets go of the pool's shared locks, or the pool would wait for it forever), its
staging folders are removed, its run lock released, and what was finished is kept for the re-run. Then
every helper process still running (datatrove's managers and forkserver, Megatron's checkpoint writers and
result queue, Ray's local workers) is terminated; its unfinished work is discarded as after a crash (every
stage resumes from its completed tasks). A second signal while stopping ends the command at once.

Helpers are found through ``/proc`` (Linux); elsewhere only multiprocessing's own children are stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

__all__ = ["STOP_SIGNALS", "stop_children", "stop_on_signals"]

#: The signals that stop a command, each with exit code 128 + its number (130, 143, 129).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def stop_on_signals() -> list[int]:
    """Installs the handler in this process; returns the list that the signals received are appended to.
    A process forked from this one inherits the handler and dies of the signal quietly instead, so a
    terminal's Ctrl-C (sent to every process of the group) prints no traceback per helper. An interrupt
    that lands where Python cannot raise it (a fork hook, a finalizer) is raised again just after."""
    main_pid, received, again = os.getpid(), [], []

    def handler(signum, _frame) -> None:
        if os.getpid() != main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if again:
            again.clear()
            raise KeyboardInterrupt
        received.append(signum)
        if len(received) == 1:
            raise KeyboardInterrupt
        _signal_all(_helpers(), signal.SIGKILL)
        os._exit(128 + received[0])

    def unraisable(info) -> None:
        if received and issubclass(info.exc_type, KeyboardInterrupt) and os.getpid() == main_pid:
            again.append(True)  # the signal again in a moment, from outside this hook (a real one: it wakes a wait)
            threading.Timer(0.01, signal.pthread_kill, (threading.main_thread().ident, received[0])).start()
        else:
            default_unraisable(info)

    default_unraisable = sys.unraisablehook
    sys.unraisablehook = unraisable
    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
    return received


def stop_children(timeout: float = 5.0) -> None:
    """Terminates the helper processes still running and waits for them (SIGKILL after TIMEOUT seconds)."""
    for lib in ("multiprocessing", "multiprocess"):
        if (mp := sys.modules.get(lib)) is None:
            continue
        children = mp.active_children()
        for child in children:
            child.terminate()
        for child in children:
            child.join(timeout)
            if child.is_alive():
                child.kill()
                child.join(1)
        if (forkserver := sys.modules.get(f"{lib}.forkserver")) is not None:
            with contextlib.suppress(Exception):
                forkserver._forkserver._stop()
    left = _helpers()
    _signal_all(left, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while (left := _helpers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_all(left, signal.SIGKILL)


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _trackers() -> set[int]:
    """multiprocessing's resource trackers: they exit by themselves once the command has, and the command
    still talks to them while it unwinds."""
    pids = set()
    for lib in ("multiprocessing", "multiprocess"):
        if (tracker := sys.modules.get(f"{lib}.resource_tracker")) is not None:
            pid = getattr(tracker._resource_tracker, "_pid", None)
            if pid:
                pids.add(pid)
    return pids


def _helpers() -> list[int]:
    """The live descendants of this process (children first), resource trackers excepted."""
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(b")") + 2 :].split()[:2]
        if state != b"Z":
            parents.setdefault(int(ppid), []).append(int(entry))
    skip, out, todo = _trackers(), [], [os.getpid()]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in skip:
                out.append(child)
                todo.append(child)
    return out
