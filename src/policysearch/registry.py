"""The algorithm registry: the one list that every other list of algorithms is derived from.

The command line's choices and help, the Python API classes (``policysearch.CEM``, ...), the
package's public names, the presets' keys and the conformance test all read :data:`REGISTRY`.
Registering an algorithm is its module under ``policysearch/algorithms/`` plus one line here::

    Entry("cem", "CEM", "the crossentropy method", ("cem_tabular:TabularCEM", "cem:CEM")),

This module imports nothing heavy: classes are imported when first asked for, so that the package
(and a sampling worker) can import without torch.

>>> names()
('cem', 'es', 'cmaes', 'ars')
>>> resolve("cem", "tabular").__name__
'TabularCEM'
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .policies.bodies import BODIES

if TYPE_CHECKING:
    import gymnasium as gym

    from .algorithms.base import Algorithm

#: Every policy kind an implementation may offer (``--policy``): the tabular matrix and the
#: neural bodies (:data:`~policysearch.policies.bodies.BODIES`).
POLICY_KINDS = ("tabular", *BODIES)


@dataclass(frozen=True)
class Entry:
    """One registered algorithm.

    Attributes:
        name: the command-line name (``policysearch train NAME``) and the presets' file name.
        api_name: the Python API class (``policysearch.<api_name>``).
        summary: one line for help texts and the docs.
        implementations: ``"module:Class"`` under :mod:`policysearch.algorithms`, each class
            implementing some policy kinds (disjoint); the order in which the default policy
            for the env's spaces is looked up.
        extra: the pip extra the algorithm needs (``pip install 'policysearch[extra]'``), if any.
    """

    name: str
    api_name: str
    summary: str
    implementations: tuple[str, ...]
    extra: str | None = None

    def classes(self) -> list[type[Algorithm]]:
        """The implementing classes, imported on first use."""
        out = []
        for path in self.implementations:
            module, _, cls = path.partition(":")
            out.append(getattr(importlib.import_module(f".algorithms.{module}", __package__), cls))
        return out

    def policies(self) -> tuple[str, ...]:
        """Every policy kind this algorithm offers, in :data:`POLICY_KINDS` order."""
        offered = {p for cls in self.classes() for p in cls.policies}
        return tuple(p for p in POLICY_KINDS if p in offered)


#: The registered algorithms, by command-line name.
REGISTRY: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(
            "cem",
            "CEM",
            "the crossentropy method (tabular for Discrete observations and actions, else a neural policy)",
            ("cem_tabular:TabularCEM", "cem:CEM"),
        ),
        Entry("es", "ES", "evolution strategies over the weights of a neural policy", ("es:ES",)),
        Entry(
            "cmaes", "CMAES", "CMA-ES (pycma) over the weights of a neural policy", ("cmaes:CMAES",), "cma"
        ),
        Entry(
            "ars",
            "ARS",
            "augmented random search (Mania et al., 2018) over the weights of a linear policy",
            ("ars:ARS",),
        ),
    )
}


def names() -> tuple[str, ...]:
    """The command-line names of the registered algorithms."""
    return tuple(REGISTRY)


def entry(name: str) -> Entry:
    """The registered algorithm ``name``.

    Raises:
        ConfigError: for a name that is not registered.
    """
    if name not in REGISTRY:
        raise ConfigError(f"unknown algorithm {name!r} (known: {', '.join(REGISTRY)})")
    return REGISTRY[name]


def resolve(name: str, policy: str) -> type[Algorithm]:
    """The class that implements algorithm ``name`` with policy kind ``policy``.

    Raises:
        ConfigError: for an unknown algorithm, or a policy kind it does not offer.
    """
    registered = entry(name)
    for cls in registered.classes():
        if policy in cls.policies:
            return cls
    if policy not in POLICY_KINDS:
        raise ConfigError(f"unknown policy {policy!r} (known: {', '.join(POLICY_KINDS)})")
    raise ConfigError(
        f"algorithm {name!r} does not offer --policy {policy} (it offers: {', '.join(registered.policies())})"
    )


def default_policy(name: str, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> str:
    """The policy kind used when neither ``--policy`` nor a preset names one.

    The first implementation (in registry order) that suggests a kind for these spaces decides:
    tabular CEM for Discrete observations and actions, else the neural default (cnn for images,
    linear for Box actions with at least 10 observations, else mlp:
    :meth:`~policysearch.algorithms.neural.NeuralAlgorithm.default_policy`); an implementation
    of one kind suggests it wherever its spaces suit (ARS: linear).

    Raises:
        ConfigError: if no implementation suggests a kind, or the kind suggested is one the
            algorithm does not offer (cmaes on images, whose default is cnn).
    """
    registered = entry(name)
    for cls in registered.classes():
        kind = cls.default_policy(observation_space, action_space)
        if kind is None:
            continue
        if kind not in registered.policies():  # cmaes on images: the default is cnn
            others = [n for n, r in REGISTRY.items() if kind in r.policies()]
            shape = getattr(observation_space, "shape", None)
            what = type(observation_space).__name__ + (f" {shape}" if shape else "")
            instead = f"train {' or '.join(others)}, or " if others else ""
            raise ConfigError(
                f"{name} has no default policy for these observations ({what}): their default is "
                f"--policy {kind}, which {name} does not offer (it offers: "
                f"{', '.join(registered.policies())}); {instead}choose a policy with --policy"
            )
        return kind
    raise ConfigError(f"algorithm {name!r} has no policy for these spaces")


def hyperparameter_names() -> dict[str, tuple[str, ...]]:
    """Every hyperparameter name (fields, aliases and former names) -> the algorithms that take it."""
    import dataclasses

    owners: dict[str, list[str]] = {}
    for name, registered in REGISTRY.items():
        for cls in registered.classes():
            config = cls.config_class
            fields = [f.name for f in dataclasses.fields(config) if f.init]
            for key in [*fields, *getattr(config, "aliases", {}), *getattr(config, "renamed", {})]:
                if name not in owners.setdefault(key, []):
                    owners[key].append(name)
    return {key: tuple(algos) for key, algos in owners.items()}


def implementations() -> Iterator[tuple[str, str, type[Algorithm]]]:
    """Every (algorithm name, policy kind, class) the registry offers, for conformance checks."""
    for name, registered in REGISTRY.items():
        for cls in registered.classes():
            for policy in cls.policies:
                yield name, policy, cls
