"""Evolution strategies for policy search over the flattened weights of a neural policy.

Each iteration perturbs the policy's weights with noise from a shared noise table (mirrored pairs),
plays every candidate deterministically for ``episodes_per_candidate`` episodes, and hands the
returns to the black-box :class:`~policysearch.optim.es.EvolutionStrategy`. Observations are
normalised with statistics gathered from the population's rollouts, saved with the policy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from ..config import Renamed, check_range
from ..errors import ConfigError
from ..optim.es import ESConfig, EvolutionStrategy
from ..optim.noise_table import NoiseTable
from ..policies.base import Actor
from ..policies.numpy_policy import NumpyActor
from ..policies.spec import PolicySpec
from ..policies.weights import Layout, flatten, unflatten
from ..sampling.session import Sessions
from .base import Request
from .neural import WeightSearch


@dataclass
class ESPolicyConfig(ESConfig):
    """Hyperparameters of ES policy search (those of the black-box ES, and these)."""

    #: Episodes each candidate plays; its score is their mean return.
    episodes_per_candidate: int = 1
    #: Hidden layer sizes (mlp), or the hidden state size (gru: the first entry).
    hidden: tuple[int, ...] = (32, 32)
    #: Hidden activation.
    activation: Literal["tanh", "relu"] = "tanh"
    #: Normalise observations by running statistics of the population's rollouts.
    normalize_obs: bool = True
    #: Subtracted from every step's reward when scoring candidates (not from reported returns):
    #: ARS removes the survival bonus of locomotion tasks this way (Hopper: 1), so that standing
    #: still is no longer a local optimum.
    reward_shift: float = 0.0
    #: Common random numbers: 1 makes every candidate meet the same start states in an iteration
    #: (its ``k``-th episode starts like every other candidate's ``k``-th), so that scores differ
    #: by policy rather than by the luck of the start; 0 gives every session its own start. (ES
    #: compares all candidates at once, so there is no other number of groups, as CEM has.) On by
    #: default: the lecture's remedy for stochastic starts, free where the starts do not vary.
    start_groups: int = 1
    #: Numbers in the shared noise table.
    noise_table_size: int = 10_000_000

    #: Former names of fields (accepted with a deprecation warning).
    renamed: ClassVar[dict[str, Renamed]] = {
        "common_starts": Renamed("start_groups", lambda on: int(on) if isinstance(on, bool) else on)
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("episodes_per_candidate", self.episodes_per_candidate, 1)
        check_range("reward_shift", self.reward_shift)  # any finite number
        check_range("start_groups", self.start_groups, 0, 1)
        for size in self.hidden:
            check_range("hidden", size, 1)
        check_range("noise_table_size", self.noise_table_size, 1000)


class PopulationActor:
    """Plays the candidates mu + sigma * sign_i * table[offset_i], built where it runs.

    Pickled, it carries mu, sigma and one offset and sign per candidate: the weights are rebuilt
    from the shared noise table in the process that acts. A sampler that splits a request into
    shares sends the weights once (:meth:`split`: everything but the offsets) and each share its
    own candidates' offsets and signs (:meth:`join` puts them back together where it runs).
    ES reads only the sessions' returns and observation statistics (``keep_steps``).
    """

    noise_dim = 0
    noise_kind: Literal["uniform", "normal"] = "uniform"
    keep_steps = False

    def __init__(
        self,
        spec: PolicySpec,
        layout: Layout,
        mu: np.ndarray,
        sigma: np.ndarray,
        offsets: np.ndarray,
        signs: np.ndarray,
        table: tuple[int, int],
        group: int,
        obs_mean: np.ndarray | None,
        obs_std: np.ndarray | None,
        first: int = 0,
    ) -> None:
        self.spec, self.layout = spec, layout
        self.mu, self.sigma = mu.astype(np.float32), sigma.astype(np.float32)
        self.offsets, self.signs, self.table, self.group = offsets, signs, table, group
        self.obs_mean, self.obs_std = obs_mean, obs_std
        #: Index of the first candidate held (a share's actor holds only its own candidates).
        self.first = first
        self._actor: NumpyActor | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_actor": None}

    def split(self, bounds: list[tuple[int, int]]) -> tuple[PopulationActor, list[Any]]:
        """The weights without offsets, and per share ``[lo, hi)`` of sessions its candidates' part."""
        common = copy.copy(self)
        common.offsets, common.signs, common._actor = self.offsets[:0], self.signs[:0], None
        parts = []
        for lo, hi in bounds:
            first, last = lo // self.group, -(-hi // self.group)
            parts.append((first, self.offsets[first:last], self.signs[first:last]))
        return common, parts

    def join(self, part: tuple[int, np.ndarray, np.ndarray]) -> PopulationActor:
        """The actor of one share: these weights with the share's candidates (from :meth:`split`)."""
        joined = copy.copy(self)
        joined.first, joined.offsets, joined.signs = part
        joined._actor = None
        return joined

    def _built(self) -> NumpyActor:
        if self._actor is None:
            offsets, signs = self.offsets, self.signs
            if len(offsets) == 1:
                # One candidate would take NumpyActor's single-network path, which rounds
                # differently from the population's: a dummy second keeps every share alike.
                offsets, signs = np.repeat(offsets, 2), np.repeat(signs, 2)
            noise = NoiseTable.shared(*self.table).get(offsets, self.mu.size)
            vectors = self.mu + self.sigma * signs[:, None] * noise
            params = unflatten(vectors, self.layout)
            self._actor = NumpyActor(
                self.spec, params, self.obs_mean, self.obs_std, group=self.group, deterministic=True
            )
        return self._actor

    def start(self, index: np.ndarray) -> None:
        """Sessions begin (resets a GRU's hidden state)."""
        self._built().start(np.asarray(index) - self.first * self.group)

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Each session plays its candidate deterministically."""
        return self._built().act(obs, np.asarray(index) - self.first * self.group, None)


class ES(WeightSearch):
    """Evolution strategies over the weights of a linear, MLP or GRU policy."""

    name = "es"
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
        super().__init__(observation_space, action_space, config, rng, policy)
        self.table = (int(rng.integers(2**31)), config.noise_table_size)
        self.es = EvolutionStrategy(flatten(self.net), config, rng)

    def ask(self, rng: np.random.Generator) -> Request:
        """The population, named by noise-table offsets and signs (mirrored pairs adjacent)."""
        cfg = self.config
        table = NoiseTable.shared(*self.table)
        n = self.es.mu.numel()
        pairs = cfg.population // 2 if cfg.mirrored else cfg.population
        offsets = table.offsets(rng, pairs, n)
        if cfg.mirrored:
            offsets = np.repeat(offsets, 2)
            signs = np.tile([1.0, -1.0], pairs).astype(np.float32)
        else:
            signs = np.ones(cfg.population, dtype=np.float32)
        mean, std = self._norm()
        k = cfg.episodes_per_candidate
        actor = PopulationActor(
            self.spec, self.layout, self.es.mean, self.es.sigma, offsets, signs, self.table, k, mean, std
        )
        candidates = {"offsets": offsets, "signs": signs}
        return Request(actor, cfg.population, k, cfg.start_groups, candidates)

    def _tell(self, request: Request, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Score each candidate by its mean (shifted) return and step mu (and sigma)."""
        assert request.candidates is not None
        offsets, signs = request.candidates["offsets"], request.candidates["signs"]
        noise = signs[:, None] * NoiseTable.shared(*self.table).get(offsets, self.es.mu.numel())
        shifted = sessions.returns - self.config.reward_shift * sessions.lengths
        return self.es.tell(request.scores(shifted), noise.astype(np.float64))

    def greedy_actor(self) -> Actor:
        """The mean mu, acting deterministically."""
        return self.vector_actor(self.es.mean[None])

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The search distribution and the optimiser's state."""
        return self.es.state_arrays()

    def _load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`_state_arrays`."""
        if np.asarray(arrays["es.mu"]).shape != (self.es.mu.numel(),):
            raise ConfigError("checkpoint weights do not fit this policy")
        self.es.load_state_arrays(arrays)
