"""Evolution strategies for policy search over the flattened weights of a neural policy.

Each iteration perturbs the policy's weights with noise from a shared noise table (mirrored pairs),
plays every candidate deterministically for ``episodes_per_candidate`` episodes, and hands the
returns to the black-box :class:`~policysearch.optim.es.EvolutionStrategy`. Observations are
normalised with statistics gathered from the population's rollouts, saved with the policy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from ..config import Renamed, check_range
from ..errors import ConfigError
from ..optim.es import ESConfig, EvolutionStrategy
from ..policies.base import Actor
from ..policies.bodies import BODIES
from ..policies.weights import flatten
from ..sampling.session import Sessions
from .base import Request
from .neural import WeightSearch
from .population import (
    CandidateNoise,
    check_reward_shift,
    noise_table_key,
    population_request,
    resolve_reward_shift,
    shifted_returns,
)

#: The hyperparameters ``auto`` resolves by policy kind (each body's ``es_auto``).
AUTO: dict[str, dict[str, float]] = {name: dict(body.es_auto) for name, body in BODIES.items()}
#: ``sigma`` under ``auto``, by policy kind. A linear policy on HalfCheetah-v5 without a preset
#: (50 candidates): with sigma 0.1 seed 1 stayed between 990 and 1110 from iteration 90 to 338,
#: and 0.05 solved seeds 0-4 in 15-43 iterations (0.77-2.25 M env steps). The networks keep 0.1,
#: with which CartPole, Acrobot, the pendulums and the landers were measured.
AUTO_SIGMA: dict[str, float] = {name: auto["sigma"] for name, auto in AUTO.items()}


@dataclass
class ESPolicyConfig(ESConfig):
    """Hyperparameters of ES policy search (those of the black-box ES, and these)."""

    #: Initial standard deviation of the search distribution. ``auto``: 0.05 for a linear policy,
    #: 0.1 for mlp and gru, 0.02 for cnn (:data:`AUTO_SIGMA`).
    sigma: float | Literal["auto"] = "auto"  # type: ignore[assignment]  # resolved before use
    #: Learning rate of the optimiser. ``auto``: 0.05, and 0.01 for the cnn body (:data:`AUTO`):
    #: Adam moves every weight by about the learning rate each step, and at 0.05 the first steps
    #: took a MinAtar network to one action in every state.
    learning_rate: float | Literal["auto"] = "auto"  # type: ignore[assignment]  # resolved before use
    #: L2 weight decay of mu, added to the gradient estimate g, which divides by sigma
    #: (Salimans et al.'s ``l2coeff`` is added to their estimate, sigma * g: theirs is this
    #: times sigma). ``auto``: 0, and 0.005 for the
    #: cnn body (their number, so 1/sigma times weaker than theirs): where every candidate
    #: scores the same (no gradient), it pulls the weights back toward zero, where a
    #: perturbation changes the actions again.
    weight_decay: float | Literal["auto"] = "auto"  # type: ignore[assignment]  # resolved before use

    #: Episodes each candidate plays; its score is their mean return.
    episodes_per_candidate: int = 1
    #: Hidden layer sizes (mlp), or the hidden state size (gru: the first entry).
    hidden: tuple[int, ...] = (32, 32)
    #: Hidden activation.
    activation: Literal["tanh", "relu"] = "tanh"
    #: Normalise observations by running statistics of the population's rollouts.
    normalize_obs: bool = True
    #: Subtracted from every step's reward when scoring candidates (not from reported returns):
    #: ARS's ``shift``, the survival bonus of locomotion tasks, so that standing still is no longer
    #: a local optimum. ``auto``: the env's own bonus where it pays one beside a reward for moving
    #: forward (Hopper, Walker2d, Ant: 1; Humanoid: 5; :func:`~policysearch.envs.survival_bonus`),
    #: else 0.
    reward_shift: float | Literal["auto"] = "auto"
    #: Common random numbers: 1 makes every candidate meet the same start states in an iteration
    #: (its ``k``-th episode starts like every other candidate's ``k``-th), so that scores differ
    #: by policy rather than by the luck of the start; 0 gives every session its own start. (ES
    #: compares all candidates at once, so there is no other number of groups, as CEM has.) On by
    #: default: the lecture's remedy for stochastic starts, free where the starts do not vary.
    start_groups: int = 1
    #: Numbers in the shared noise table.
    noise_table_size: int = 10_000_000
    #: Frames in the reference batch of virtual batch normalisation (Salimans et al., 2017),
    #: gathered once at the start of a run by a random policy and kept in the checkpoint: every
    #: candidate's layers are normalised by their own statistics over these frames, so that a
    #: small change of the weights changes the actions. 0: off. ``auto``: 64 for the cnn body
    #: (:data:`AUTO`), off for the others, which refuse it.
    reference_batch: int | Literal["auto"] = "auto"

    #: Fields added since runs were first stored, with the value those runs trained with.
    stored_before: ClassVar[dict[str, Any]] = {"reference_batch": 0}

    #: Former names of fields (accepted with a deprecation warning).
    renamed: ClassVar[dict[str, Renamed]] = {
        "common_starts": Renamed("start_groups", lambda on: int(on) if isinstance(on, bool) else on)
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("episodes_per_candidate", self.episodes_per_candidate, 1)
        check_reward_shift(self.reward_shift)
        check_range("start_groups", self.start_groups, 0, 1)
        for size in self.hidden:
            check_range("hidden", size, 1)
        check_range("noise_table_size", self.noise_table_size, 1000)
        self._check_tunable("reference_batch", self.reference_batch, 0)

    def _check_tunable(self, name: str, value: float | str, low: float, low_open: bool = False) -> None:
        """Check the value, or allow ``auto`` (resolved by :func:`resolve_auto`)."""
        if value != "auto":
            super()._check_tunable(name, value, low, low_open)  # type: ignore[arg-type]


def resolve_auto(config: ESPolicyConfig, policy: str) -> ESPolicyConfig:
    """The config with the policy kind's values (:data:`AUTO`) where it says ``auto``.

    ``reference_batch`` above 0 for a body without layers to normalise is refused. A
    ``reward_shift`` still ``auto`` (no env known) becomes 0 (:func:`resolve_reward_shift`).
    """
    config = resolve_reward_shift(config)
    auto = AUTO[policy]
    if config.reference_batch not in ("auto", 0) and not auto["reference_batch"]:
        raise ConfigError(f"reference_batch (virtual batch normalisation) needs --policy cnn, not {policy}")
    given: dict[str, Any] = {name: value for name, value in auto.items() if getattr(config, name) == "auto"}
    return dataclasses.replace(config, **given) if given else config


class ES(WeightSearch):
    """Evolution strategies over the weights of a linear, MLP, GRU or convolutional policy."""

    name = "es"
    #: The shared noise table's seed and size (every ask draws from it).
    table: tuple[int, int]
    config_class = ESPolicyConfig
    config: ESPolicyConfig
    smoke_hyperparameters: ClassVar[dict[str, Any]] = {
        "population": 8,
        "hidden": [8],
        "noise_table_size": 100_000,
    }

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        config: ESPolicyConfig,
        rng: np.random.Generator,
        policy: str = "mlp",
    ) -> None:
        config = resolve_auto(config, policy)
        super().__init__(observation_space, action_space, config, rng, policy)
        weights = flatten(self.net)
        self.table = noise_table_key(config.noise_table_size, rng, weights.size)
        self.es = EvolutionStrategy(weights, config, rng)

    def ask(self, rng: np.random.Generator) -> Request:
        """The population, named by noise-table offsets and signs (mirrored pairs adjacent)."""
        cfg = self.config
        mean, std = self._norm()
        return population_request(
            self.spec,
            self.layout,
            self.table,
            self.es.mean,
            self.es.sigma,
            rng,
            cfg.population,
            cfg.mirrored,
            cfg.episodes_per_candidate,
            cfg.start_groups,
            mean,
            std,
            reference=self.reference,
        )

    def _tell(self, request: Request, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Score each candidate by its mean (shifted) return and step mu (and sigma)."""
        noise = CandidateNoise(request, self.table, self.es.mu.numel())  # read in blocks
        shifted = shifted_returns(sessions, float(self.config.reward_shift))
        return self.es.tell(request.scores(shifted), noise)

    def greedy_actor(self) -> Actor:
        """The mean mu, acting deterministically."""
        return self.vector_actor(self.es.mean[None])

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The search distribution, the optimiser's state and the reference batch."""
        arrays = self.es.state_arrays()
        if self.reference is not None:
            arrays["vbn.reference"] = self.reference
        return arrays

    def _load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`_state_arrays` (their shapes checked by :meth:`load_state_arrays`)."""
        self.es.load_state_arrays(arrays)
        if "vbn.reference" in arrays:
            self.set_reference(arrays["vbn.reference"])
