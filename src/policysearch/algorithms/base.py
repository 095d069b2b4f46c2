"""The ask/tell contract every algorithm follows.

The trainer calls ``ask`` for what to sample, a sampler runs the sessions, and ``tell`` updates
the algorithm. An algorithm never steps an environment, and its whole state is plain arrays
(``state_arrays``), which makes checkpoints, transport and determinism tests simple.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from ..policies.base import Actor
from ..sampling.session import Sessions


@dataclass
class Request:
    """What an algorithm wants sampled: ``n_sessions`` sessions played by ``actor``."""

    actor: Actor
    n_sessions: int
    #: With ``common`` > 0, session ``i`` starts like session ``i % common``: candidates played in
    #: groups of ``common`` sessions meet the same start states (common random numbers).
    common: int = 0


class Algorithm(ABC):
    """Base class of the algorithms in the registry.

    Args:
        observation_space: the environment's observation space (already checked).
        action_space: the environment's action space (already checked).
        config: the algorithm's validated hyperparameter dataclass.
        rng: generator for initial parameters.
    """

    #: Name used on the command line (``policysearch train NAME``).
    name: ClassVar[str]
    #: Policy kinds this class implements (``--policy``).
    policies: ClassVar[tuple[str, ...]]
    #: The hyperparameter dataclass.
    config_class: ClassVar[type]

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        config: Any,
        rng: np.random.Generator,
        policy: str,
    ) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self.config = config
        self.policy = policy

    @classmethod
    @abstractmethod
    def check_spaces(
        cls, observation_space: gym.Space[Any], action_space: gym.Space[Any], policy: str
    ) -> None:
        """Raise :class:`~policysearch.errors.EnvError` if the spaces do not suit ``policy``."""

    @abstractmethod
    def ask(self, rng: np.random.Generator) -> Request:
        """What to sample in this iteration."""

    @abstractmethod
    def tell(self, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Update from the sampled sessions; returns the iteration's metrics."""

    @abstractmethod
    def greedy_actor(self) -> Actor:
        """The deterministic policy used for evaluation (argmax, or the Gaussian mean)."""

    @abstractmethod
    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to continue training, as named arrays."""

    @abstractmethod
    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_arrays` returned."""
