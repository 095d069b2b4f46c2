"""The algorithm registry: ``policysearch train NAME --policy P`` resolves here."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from ..errors import ConfigError
from .base import Algorithm, Request
from .cem import CEM, CEMConfig
from .cem_tabular import TabularCEM, TabularCEMConfig
from .cmaes import CMAES, CMAESConfig
from .elite import elite_quota, select_elite, select_elite_by_group
from .es import ES, ESPolicyConfig

#: Every algorithm class, by command-line name; each class implements some policy kinds.
ALGORITHMS: dict[str, list[type[Algorithm]]] = {
    "cem": [TabularCEM, CEM],
    "es": [ES],
    "cmaes": [CMAES],
}

#: Every policy kind, for help texts and validation.
POLICY_KINDS = ("tabular", "linear", "mlp", "gru")

__all__ = [
    "ALGORITHMS",
    "CEM",
    "CMAES",
    "ES",
    "POLICY_KINDS",
    "Algorithm",
    "CEMConfig",
    "CMAESConfig",
    "ESPolicyConfig",
    "Request",
    "TabularCEM",
    "TabularCEMConfig",
    "default_policy",
    "elite_quota",
    "resolve",
    "select_elite",
    "select_elite_by_group",
]


def resolve(name: str, policy: str) -> type[Algorithm]:
    """The class that implements algorithm ``name`` with policy kind ``policy``.

    Raises:
        ConfigError: for an unknown algorithm, or a policy kind it does not offer.
    """
    if name not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {name!r} (known: {', '.join(sorted(ALGORITHMS))})")
    for cls in ALGORITHMS[name]:
        if policy in cls.policies:
            return cls
    offered = sorted({p for cls in ALGORITHMS[name] for p in cls.policies})
    if policy not in POLICY_KINDS:
        raise ConfigError(f"unknown policy {policy!r} (known: {', '.join(POLICY_KINDS)})")
    raise ConfigError(
        f"algorithm {name!r} does not offer --policy {policy} (it offers: {', '.join(offered)})"
    )


def default_policy(name: str, observation_space: gym.Space[Any], preset: str | None) -> str:
    """The policy used when ``--policy`` is not given.

    Tabular for Discrete observations with CEM; otherwise the env's preset, else mlp.
    """
    if name == "cem" and isinstance(observation_space, gym.spaces.Discrete):
        return "tabular"
    return preset or "mlp"
