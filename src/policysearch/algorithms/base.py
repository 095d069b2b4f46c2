"""The ask/tell contract every algorithm follows.

The trainer calls ``ask`` for what to sample, a sampler runs the sessions, and ``tell`` updates
the algorithm from the :class:`Request` that ``ask`` returned and its sessions (pycma's and
evosax's contract: nothing is carried between the two calls but what the request holds). An
algorithm never steps an environment, and its whole state is plain arrays (``state_arrays``),
which makes checkpoints, transport and determinism tests simple.

``tell``, ``state_arrays`` and ``load_state_arrays`` are template methods (evosax's
``tell -> _tell``): the base class does what every algorithm shares (checking the sessions
against the request, the observation normaliser, the elite memory) and calls the algorithm's
``_tell``, ``_state_arrays`` and ``_load_state_arrays`` for the rest.
:func:`policysearch.check_algorithm` checks the contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from ..errors import EnvError
from ..policies.base import Actor
from ..policies.normalizer import RunningNormalizer
from ..sampling.session import Keep, Sessions
from .elite import EliteMemory

#: Metrics the trainer computes itself; an algorithm's ``_tell`` must not return them.
TRAINER_METRICS = frozenset(
    {"iteration", "env_steps", "episodes", "wall_time_s", "steps_per_s", "mean_return", "max_return"}
)


@dataclass
class Request:
    """What an algorithm wants sampled, and what ``tell`` needs to know about it.

    ``n_candidates`` candidates each play ``episodes_per_candidate`` sessions: the sessions of
    candidate ``c`` are ``c * episodes_per_candidate`` to ``(c + 1) * episodes_per_candidate - 1``.
    """

    #: Plays every session (it may play a different candidate in each).
    actor: Actor
    #: Candidates: sampled policies, or groups of sessions of one stochastic policy.
    n_candidates: int
    #: Sessions each candidate plays; a candidate's score is their mean return.
    episodes_per_candidate: int = 1
    #: Common random numbers (0: off): candidate ``c`` is in start group ``c % start_groups``, and
    #: a group's candidates meet the same start states (each its ``k``-th session like the
    #: others' ``k``-th).
    start_groups: int = 0
    #: What ``tell`` needs to know about the candidates (plain arrays; e.g. ES's noise offsets).
    candidates: dict[str, np.ndarray] | None = None

    @property
    def n_sessions(self) -> int:
        """Sessions to sample."""
        return self.n_candidates * self.episodes_per_candidate

    @property
    def start_period(self) -> int:
        """Session ``i`` starts like session ``i % start_period`` (0: every session its own start)."""
        return self.start_groups * self.episodes_per_candidate

    def scores(self, session_scores: np.ndarray) -> np.ndarray:
        """Each candidate's score: the mean of its sessions' scores, ``(n_candidates,)``."""
        return np.asarray(session_scores).reshape(self.n_candidates, self.episodes_per_candidate).mean(axis=1)


class Algorithm(ABC):
    """Base class of the algorithms in the registry (:mod:`policysearch.registry`).

    Args:
        observation_space: the environment's observation space (already checked).
        action_space: the environment's action space (already checked).
        config: the algorithm's validated hyperparameter dataclass.
        rng: generator for initial parameters.
        policy: the policy kind (one of :attr:`policies`).
    """

    #: Name used on the command line (``policysearch train NAME``), as registered.
    name: ClassVar[str]
    #: Policy kinds this class implements (``--policy``).
    policies: ClassVar[tuple[str, ...]]
    #: The hyperparameter dataclass.
    config_class: ClassVar[type]
    #: Hyperparameters that make an iteration take well under a second on a small task, for
    #: :func:`~policysearch.check_algorithm`.
    smoke_hyperparameters: ClassVar[dict[str, Any]] = {}

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
        #: Running statistics of the observations, when the algorithm normalises them.
        self.normalizer: RunningNormalizer | None = None
        #: The elite of past iterations, when the algorithm remembers it.
        self.memory: EliteMemory | None = None
        #: The shared noise table's seed and size, when the candidates are drawn from one
        #: (:func:`~policysearch.algorithms.population.noise_table_key`): every process that
        #: samples them makes its own copy.
        self.table: tuple[int, int] | None = None

    @classmethod
    @abstractmethod
    def check_spaces(
        cls, observation_space: gym.Space[Any], action_space: gym.Space[Any], policy: str
    ) -> None:
        """Raise :class:`~policysearch.errors.EnvError` if the spaces do not suit ``policy``."""

    @classmethod
    def default_policy(cls, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> str | None:
        """The policy kind this class suggests for these spaces, or None to let the next one decide.

        Here: a class that offers one policy kind suggests it wherever :meth:`check_spaces`
        takes the spaces; a class that offers several chooses by overriding this.
        """
        if len(cls.policies) != 1:
            return None
        try:
            cls.check_spaces(observation_space, action_space, cls.policies[0])
        except EnvError:
            return None
        return cls.policies[0]

    @property
    def keep(self) -> Keep:
        """What :meth:`tell` reads of each session (:data:`~policysearch.sampling.session.Keep`).

        The trainer samples with it, so that nothing else is held: every step by default.
        """
        return "steps"

    @property
    def keeps_less(self) -> str:
        """Another way to hold less per session than :attr:`keep`, beside fewer sessions (or "").

        The memory guard offers it when it refuses a batch.
        """
        return ""

    @abstractmethod
    def ask(self, rng: np.random.Generator) -> Request:
        """What to sample in this iteration."""

    def tell(self, request: Request, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Update from the sessions sampled for ``request``; returns the algorithm's metrics.

        Raises:
            ValueError: if ``sessions`` do not answer ``request`` (another number of sessions).
        """
        if sessions.n != request.n_sessions:
            raise ValueError(f"tell expects {request.n_sessions} sessions for the request, got {sessions.n}")
        metrics = self._tell(request, sessions, rng)
        if self.normalizer is not None:
            if sessions.has_steps:
                self.normalizer.update(sessions.observations[sessions.mask()])
            else:  # only per-session statistics came back (ES asks for no steps)
                self.normalizer.update_sessions(*sessions.observation_stats())
        clash = TRAINER_METRICS & metrics.keys()
        if clash:
            raise ValueError(
                f"{type(self).__name__}._tell returned metrics the trainer owns: {sorted(clash)}"
            )
        return metrics

    @abstractmethod
    def _tell(self, request: Request, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """The algorithm's own update (the normaliser is updated afterwards by :meth:`tell`)."""

    @abstractmethod
    def greedy_actor(self) -> Actor:
        """The deterministic policy used for evaluation (argmax, or the Gaussian mean)."""

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to continue training, as named arrays."""
        arrays = self._state_arrays()
        if self.normalizer is not None:
            arrays.update(self.normalizer.arrays("obs."))
        if self.memory is not None:
            arrays.update(self.memory.arrays("memory."))
        return arrays

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_arrays` returned.

        Raises:
            ValueError: for an array whose shape or type is not this algorithm's own (a checkpoint
                edited, or of another run), one holding NaN or infinities, or an elite memory
                unlike the one it keeps.
            KeyError: for a missing array.
        """
        for key, own in self.state_arrays().items():
            given = None if key not in arrays else np.asarray(arrays[key])
            if given is None:
                continue
            if given.shape != own.shape or not _numeric_like(given, own):
                raise ValueError(
                    f"its {key} has shape {given.shape} and type {given.dtype}, "
                    f"where this run's has {own.shape} and {own.dtype}"
                )
            if given.dtype.kind == "f" and not np.isfinite(given).all():
                raise ValueError(f"its {key} holds NaN or infinite values")
        self._load_state_arrays(arrays)
        if self.normalizer is not None:
            self.normalizer.load(arrays, "obs.")
        if self.memory is not None:
            self.memory.load(arrays, "memory.")

    @abstractmethod
    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The algorithm's own state (not the normaliser's or the elite memory's)."""

    @abstractmethod
    def _load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`_state_arrays`."""


def _numeric_like(given: np.ndarray, own: np.ndarray) -> bool:
    """``given`` holds numbers where ``own`` does (any width: a float32 checkpoint of float64 state)."""
    numeric = "biuf"
    return given.dtype.kind in numeric or own.dtype.kind not in numeric
