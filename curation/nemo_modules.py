"""NeMo-Curator's filter modules, imported without its package initializers.

`import nemo_curator.stages.text.filters.heuristic.string` first runs the `__init__` of every package above it:
`nemo_curator` imports Ray (through cosmos-xenna, for its executors) and `nemo_curator.stages.text.filters` imports
pandas and every scoring stage — ≈ 0.8 s of CPU in each curation process, for nothing the heuristic string filters
use (they need `re`, `regex` and loguru). `import_module` imports such a module with stand-in parent packages (the
real folders, their `__init__` not run), removed again once it is loaded: an ordinary `import nemo_curator...`
later in the process runs the real initializers and finds the module loaded, so its classes stay the same objects.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types

PACKAGE = "nemo_curator"


def import_module(name: str) -> types.ModuleType:
    """The module NAME; for a module of NeMo-Curator not yet imported, without its packages' initializers."""
    if name in sys.modules or not name.startswith(PACKAGE + ".") or PACKAGE in sys.modules:
        return importlib.import_module(name)
    spec = importlib.util.find_spec(PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return importlib.import_module(name)  # not installed: the usual ImportError
    parts = name.split(".")
    stand_ins = []
    try:
        for depth in range(1, len(parts)):
            package = ".".join(parts[:depth])
            if package in sys.modules:
                continue
            module = types.ModuleType(package)
            module.__path__ = [os.path.join(root, *parts[1:depth]) for root in spec.submodule_search_locations]
            module.__package__ = package
            sys.modules[package] = module
            stand_ins.append(package)
        return importlib.import_module(name)
    finally:
        for package in stand_ins:
            sys.modules.pop(package, None)
