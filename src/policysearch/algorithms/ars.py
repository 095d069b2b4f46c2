"""Augmented random search (ARS; Mania, Guy and Recht, 2018) over the weights of a linear policy.

Each iteration draws ``N`` directions delta_k from the shared noise table and plays each in a
mirrored pair, ``M + nu delta_k`` and ``M - nu delta_k`` (the candidates of
:func:`~policysearch.algorithms.population.population_request`), keeps the ``b`` directions with
the largest ``max(r+, r-)``, and takes a plain SGD step along their finite differences, scaled by
the standard deviation sigma_R of the ``2b`` returns it uses (the paper's Algorithm 2):

    M <- M + alpha / (b sigma_R) * sum_k (r+_k - r-_k) delta_k.

V1 plays ``M x``. V2 plays ``M diag(Sigma)^(-1/2) (x - mu)``, with mu and Sigma the mean and
variance of every state visited in training so far: the statistics of the previous iterations,
updated after each step (by :meth:`~policysearch.algorithms.base.Algorithm.tell`), so the first
iteration plays the raw observations. ``M`` starts at zero and has no bias, and the actions are
``M x`` clipped to the action bounds, not squashed by tanh (ARS's policy; Discrete actions take
the argmax).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from ..config import check_range
from ..errors import ConfigError
from ..policies.base import Actor
from ..policies.weights import flatten
from ..sampling.session import Sessions
from .base import Request
from .neural import WeightSearch
from .population import (
    candidate_noise,
    check_reward_shift,
    noise_table_key,
    population_request,
    resolve_reward_shift,
    shifted_returns,
)


@dataclass
class ARSConfig:
    """Hyperparameters of augmented random search (defaults: the paper's Hopper settings)."""

    #: Directions delta_k per iteration (the paper's N); each plays M + noise * delta_k and
    #: M - noise * delta_k, so an iteration plays 2N candidates. ``auto``: by the size of M
    #: (:func:`auto_directions`).
    directions: int | Literal["auto"] = 8
    #: Directions the step uses (b): those with the largest max(r+, r-). Equal to
    #: ``directions``, every direction is used (ARS V1 and V2 without "-t"). At most ``directions``.
    #: ``auto``: half of them (rounded up).
    top_directions: int | Literal["auto"] = 4
    #: Step size of plain SGD (alpha).
    step_size: float = 0.01
    #: Standard deviation of the perturbations (nu): the candidates are M +- noise * delta_k.
    noise: float = 0.025
    #: ``v2``: observations normalised by the running mean and standard deviation of every state
    #: visited in training, as they stood before the iteration; ``v1``: raw observations.
    version: Literal["v1", "v2"] = "v2"
    #: Subtracted from every step's reward when scoring candidates (not from reported returns):
    #: ARS's ``shift``, the survival bonus of locomotion tasks, so that standing still is no longer
    #: a local optimum. ``auto``: the env's own bonus where it pays one beside a reward for moving
    #: forward (Hopper, Walker2d, Ant: 1; Humanoid: 5; :func:`~policysearch.envs.survival_bonus`),
    #: else 0.
    reward_shift: float | Literal["auto"] = "auto"
    #: Episodes each candidate plays; its return is their mean (ARS: 1).
    episodes_per_candidate: int = 1
    #: Common random numbers: 1 makes every candidate of an iteration meet the same start states
    #: (so r+ and r- differ by the direction rather than by the start); 0 gives every session its
    #: own start, as ARS does.
    start_groups: int = 0
    #: Numbers in the shared noise table.
    noise_table_size: int = 10_000_000

    #: The linear policy has no hidden layers (what
    #: :class:`~policysearch.algorithms.neural.NeuralAlgorithm` builds from).
    hidden: ClassVar[tuple[int, ...]] = ()
    #: Unused by a linear policy.
    activation: ClassVar[str] = "tanh"
    #: ARS's actions are ``M x`` clipped to the action bounds, not squashed by tanh.
    squash: ClassVar[str] = "clip"

    def __post_init__(self) -> None:
        for name in ("directions", "top_directions"):
            if getattr(self, name) != "auto":
                check_range(name, getattr(self, name), 1)
        if self.directions != "auto" and self.top_directions != "auto":
            check_top_directions(self.top_directions, self.directions)
        check_range("step_size", self.step_size, 0, low_open=True)
        check_range("noise", self.noise, 0, low_open=True)
        check_reward_shift(self.reward_shift)
        check_range("episodes_per_candidate", self.episodes_per_candidate, 1)
        check_range("start_groups", self.start_groups, 0, 1)
        check_range("noise_table_size", self.noise_table_size, 1000)

    @property
    def population(self) -> int:
        """Candidates per iteration: the two signs of every direction (what the memory guard plans for).

        Known once ``directions`` is resolved (:func:`resolve_auto`); 0 while it is ``auto``.
        """
        return 0 if self.directions == "auto" else 2 * self.directions

    @property
    def normalize_obs(self) -> bool:
        """V2 normalises the observations."""
        return self.version == "v2"


def check_top_directions(top: int, directions: int) -> None:
    """Refuse more top directions than directions."""
    if top > directions:
        raise ConfigError(
            f"top_directions={top} is out of range: it must lie in [1, {directions}] (at most directions)"
        )


#: The fewest directions ``auto`` gives (the paper's Hopper setting, N = 8).
MIN_AUTO_DIRECTIONS = 8


def auto_directions(weights: int) -> int:
    """``directions: auto`` for a matrix M of ``weights`` entries: ``3 sqrt(weights)``, at least 8.

    The N the paper tuned per task (Mania et al. 2018, the hyperparameters of their Table 1 runs,
    as the presets keep them) grows about as the square root of M's size on the MuJoCo v1 tasks:
    Hopper 33 weights and N = 8, HalfCheetah and Walker2d 102 and 32-40, Ant 888 and 60,
    Humanoid 6,392 and 230.

    >>> [auto_directions(n) for n in (2, 16, 33, 102, 840, 5916)]
    [8, 12, 17, 30, 87, 231]

    """
    return max(MIN_AUTO_DIRECTIONS, round(3 * math.sqrt(weights)))


def resolve_auto(config: ARSConfig, weights: int) -> ARSConfig:
    """The config with ``directions`` and ``top_directions`` resolved for M's ``weights`` entries.

    Raises:
        ConfigError: for ``top_directions`` above the resolved ``directions``.
    """
    directions = auto_directions(weights) if config.directions == "auto" else config.directions
    top = -(-directions // 2) if config.top_directions == "auto" else config.top_directions
    check_top_directions(top, directions)
    return dataclasses.replace(config, directions=directions, top_directions=top)


def ars_step(
    r_plus: np.ndarray, r_minus: np.ndarray, deltas: np.ndarray, top: int, step_size: float
) -> tuple[np.ndarray, float]:
    """The step of M and sigma_R from the returns of the directions ``(N,)`` and the directions ``(N, n)``.

    The ``top`` directions with the largest ``max(r+, r-)`` are used (ties: the lower index);
    sigma_R is the standard deviation of their ``2 * top`` returns. Zero when those returns are
    all equal (then every r+ - r- is zero too).
    """
    # --8<-- [start:ars-update]
    best = np.argsort(-np.maximum(r_plus, r_minus), kind="stable")[:top]
    sigma_r = float(np.concatenate([r_plus[best], r_minus[best]]).std())
    if sigma_r == 0:
        return np.zeros(deltas.shape[1]), sigma_r
    step = step_size / (top * sigma_r) * ((r_plus[best] - r_minus[best]) @ deltas[best])
    # --8<-- [end:ars-update]
    return step, sigma_r


class ARS(WeightSearch):
    """Augmented random search (V1 and V2, top-b) over the weights of a linear policy."""

    name = "ars"
    #: The shared noise table's seed and size (every ask draws from it).
    table: tuple[int, int]
    policies = ("linear",)
    config_class = ARSConfig
    config: ARSConfig
    smoke_hyperparameters: ClassVar[dict[str, Any]] = {
        "directions": 4,
        "top_directions": 2,
        "noise_table_size": 100_000,
    }

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        config: ARSConfig,
        rng: np.random.Generator,
        policy: str = "linear",
    ) -> None:
        super().__init__(observation_space, action_space, resolve_reward_shift(config), rng, policy)
        self.searched = self._matrix_slice()
        self.config = config = resolve_auto(self.config, self.searched.stop - self.searched.start)
        #: The policy's weight vector: M (``head.weight``) searched from zero, the rest held at zero.
        self.weights = np.zeros_like(flatten(self.net))
        self.table = noise_table_key(config.noise_table_size, rng, self.weights.size)
        #: The perturbation's scale per weight: nu on M, 0 elsewhere (no bias, no log std).
        self.sigma = np.zeros_like(self.weights)
        self.sigma[self.searched] = config.noise

    def _matrix_slice(self) -> slice:
        """Where the matrix M (the head's weight) lies in the weight vector."""
        start = 0
        for name, shape in self.layout:
            size = int(np.prod(shape))
            if name == "head.weight":
                return slice(start, start + size)
            start += size
        raise AssertionError("a linear policy has a head.weight")  # pragma: no cover

    @classmethod
    def default_policy(cls, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> str | None:
        """Linear, the only policy ARS offers."""
        return "linear"

    def ask(self, rng: np.random.Generator) -> Request:
        """The N directions as mirrored pairs M + nu delta_k, M - nu delta_k (noise-table offsets)."""
        cfg = self.config
        mean, std = self._norm()
        return population_request(
            self.spec,
            self.layout,
            self.table,
            self.weights,
            self.sigma,
            rng,
            cfg.population,
            True,
            cfg.episodes_per_candidate,
            cfg.start_groups,
            mean,
            std,
        )

    def _tell(self, request: Request, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Score each candidate by its mean (shifted) return and step M along the top-b directions."""
        cfg = self.config
        scores = request.scores(shifted_returns(sessions, float(cfg.reward_shift)))
        deltas = candidate_noise(request, self.table, self.weights.size)[0::2, self.searched]
        step, sigma_r = ars_step(scores[0::2], scores[1::2], deltas, int(cfg.top_directions), cfg.step_size)
        self.weights[self.searched] += step
        return {
            "mean_score": float(scores.mean()),
            "max_score": float(scores.max()),
            "sigma_r": sigma_r,
            "step_norm": float(np.linalg.norm(step)),
        }

    def greedy_actor(self) -> Actor:
        """M, acting deterministically (with the current observation statistics under V2)."""
        return self.vector_actor(self.weights[None])

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The weight vector (M, and the zeros of the bias and log std)."""
        return {"ars.weights": self.weights.copy()}

    def _load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`_state_arrays`."""
        self.weights = np.array(arrays["ars.weights"], dtype=np.float64)
