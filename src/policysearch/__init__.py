"""policysearch: direct (gradient-free) policy search for reinforcement learning.

The crossentropy method, evolution strategies, augmented random search and CMA-ES over Gymnasium
environments, from the command line (``policysearch train cem --env Taxi-v4``) or from Python
(``CEM("Taxi-v4").train()``).

Public names are imported lazily, so that sampling workers can import the package without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from . import _compat
from . import envs as envs  # registers the policysearch/ environments
from .registry import REGISTRY

#: Public name -> the module that defines it; the algorithms' API classes come from the registry.
_PUBLIC = {
    **{entry.api_name: "api" for entry in REGISTRY.values()},
    "Agent": "api",
    "BackendError": "errors",
    "check_algorithm": "conformance",
    "CheckpointError": "errors",
    "ConfigError": "errors",
    "EnvError": "errors",
    "OutOfMemory": "errors",
    "PolicySearchError": "errors",
    "RunFolderError": "errors",
    "TrainOptions": "run.trainer",
    "Trainer": "run.trainer",
    "WorkerStallWarning": "errors",
}

__all__ = [*sorted(_PUBLIC), "__version__"]

_compat.install()


def __dir__() -> list[str]:
    """The public names too (imported on first use), for ``dir()`` and tab completion."""
    return sorted({*globals(), *_PUBLIC})


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'policysearch' has no attribute {name!r}")
