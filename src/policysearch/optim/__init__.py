"""Black-box optimisers: evolution strategies for any objective f: R^n -> R."""

from __future__ import annotations

from .es import ESConfig, EvolutionStrategy, maximize, minimize

__all__ = ["ESConfig", "EvolutionStrategy", "maximize", "minimize"]
