"""The algorithms: one module each, registered in :mod:`policysearch.registry`."""

from __future__ import annotations

from .base import TRAINER_METRICS, Algorithm, Request
from .elite import EliteMemory, elite_quota, select_elite, select_elite_by_group

__all__ = [
    "TRAINER_METRICS",
    "Algorithm",
    "EliteMemory",
    "Request",
    "elite_quota",
    "select_elite",
    "select_elite_by_group",
]
