"""datatrove's local executor, sent to its pool's workers without the stages it depends on.

datatrove pickles the executor (through dill) into every task it hands a pool worker, and with it the whole
chain of earlier stages in `depends`, their pipelines included: ≈ 85 kB and ≈ 30 ms of the command's time for
each task of a curation's later stages. A worker runs one task of one stage and never looks at `depends`.
"""

from __future__ import annotations

from datatrove.executor import LocalPipelineExecutor


class LocalExecutor(LocalPipelineExecutor):
    def __getstate__(self) -> dict:
        return {**self.__dict__, "depends": None}
