"""Imported once by the forkserver that datatrove's local pool workers are forked from (``build_executors``
adds it to the preload): a worker ignores SIGINT, which a terminal's Ctrl-C sends to every process of the
group, and leaves stopping to the command, which terminates its pool on its own interrupt. A worker killed
by the signal itself could die holding the pool's queue lock (the pool would then wait for it forever), and
one interrupted in Python prints a traceback per worker. Its tasks log as the command's do (``curation.logs``):
to their log files, and on the console at the command's level only, not datatrove's INFO lines."""

import signal

from curation.dependency_check import use_fast_check
from curation.logs import route_datatrove_logs

signal.signal(signal.SIGINT, signal.SIG_IGN)
route_datatrove_logs()
use_fast_check()
