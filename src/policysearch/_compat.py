"""Former import paths, kept working: the modules that moved when the package was regrouped.

In release 0.1.0 every module sat at the top of the package (``policysearch.trainer``,
``policysearch.logging``, ...). They now live in the rooms of their roles (``run/``, ``cli/``,
``bandits/``); importing a former path gives the module at its new home, with a
``DeprecationWarning`` that names it. The same module object answers both names, so that
``isinstance`` checks and monkeypatches agree.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

#: Former module path -> where it lives now.
MOVED = {
    "policysearch.trainer": "policysearch.run.trainer",
    "policysearch.factory": "policysearch.run.factory",
    "policysearch.options": "policysearch.run.options",
    "policysearch.guards": "policysearch.run.guards",
    "policysearch.evaluation": "policysearch.run.evaluation",
    "policysearch.runfolder": "policysearch.run.runfolder",
    "policysearch.interrupts": "policysearch.run.interrupts",
    "policysearch.logging": "policysearch.run.callbacks",
    "policysearch.plotting": "policysearch.run.plots",
    "policysearch.tensorboard_logger": "policysearch.run.tensorboard",
    "policysearch.supervisor": "policysearch.cli.supervisor",
    "policysearch.recording": "policysearch.cli.video",
    "policysearch.checks": "policysearch.conformance",
    "policysearch.envs.banners": "policysearch.bandits.envs",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a former module path and loads it as the module at its new home."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new} (the former path works, but may go in a later release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at its new home is already loaded."""


def install() -> None:
    """Make the former paths importable (once)."""
    if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.append(_Alias())
