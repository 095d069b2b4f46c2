"""Evolution strategies for policy search over the flattened weights of a neural policy.

Each iteration perturbs the policy's weights with noise from a shared noise table (mirrored pairs),
plays every candidate deterministically for ``episodes_per_candidate`` episodes, and hands the
returns to the black-box :class:`~policysearch.optim.es.EvolutionStrategy`. Observations are
normalised with statistics gathered from the population's rollouts, saved with the policy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch.nn.utils import parameters_to_vector

from ..config import check_range
from ..errors import ConfigError
from ..optim.es import ESConfig, EvolutionStrategy
from ..optim.noise_table import NoiseTable
from ..policies.base import Actor
from ..policies.numpy_policy import NumpyActor
from ..policies.spec import PolicySpec
from ..sampling.session import Sessions
from .base import Request
from .neural import NeuralAlgorithm


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
    #: Common random numbers: every candidate meets the same start states in an iteration (its
    #: ``k``-th episode starts like every other candidate's ``k``-th), so that scores differ by
    #: policy rather than by the luck of the start.
    common_starts: bool = False
    #: Numbers in the shared noise table.
    noise_table_size: int = 10_000_000

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("episodes_per_candidate", self.episodes_per_candidate, 1)
        for size in self.hidden:
            check_range("hidden", size, 1)
        check_range("noise_table_size", self.noise_table_size, 1000)


def layout_of(net: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of the parameters, in ``parameters_to_vector`` order."""
    return [(name, tuple(p.shape)) for name, p in net.named_parameters()]


def unflatten(vectors: np.ndarray, layout: list[tuple[str, tuple[int, ...]]]) -> dict[str, np.ndarray]:
    """Flat weight vectors ``(C, n)`` as named arrays ``(C, *shape)``, for many candidates at once.

    The inverse of ``parameters_to_vector`` (``vector_to_parameters`` for a population).
    """
    out, start = {}, 0
    for name, shape in layout:
        size = int(np.prod(shape))
        out[name] = vectors[:, start : start + size].reshape(len(vectors), *shape)
        start += size
    return out


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
        layout: list[tuple[str, tuple[int, ...]]],
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


class ES(NeuralAlgorithm):
    """Evolution strategies over the weights of a linear, MLP or GRU policy."""

    name = "es"
    config_class = ESPolicyConfig
    config: ESPolicyConfig

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        config: ESPolicyConfig,
        rng: np.random.Generator,
        policy: str = "mlp",
    ) -> None:
        super().__init__(observation_space, action_space, config, rng, policy)
        self.layout = layout_of(self.net)
        self.table = (int(rng.integers(2**31)), config.noise_table_size)
        self.es = EvolutionStrategy(parameters_to_vector(self.net.parameters()).detach().numpy(), config, rng)
        self._pending: np.ndarray | None = None

    def ask(self, rng: np.random.Generator) -> Request:
        """The population, named by noise-table offsets."""
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
        self._pending = signs[:, None] * table.get(offsets, n).astype(np.float64)
        mean, std = self._norm()
        actor = PopulationActor(
            self.spec,
            self.layout,
            self.es.mean,
            self.es.sigma,
            offsets,
            signs,
            self.table,
            cfg.episodes_per_candidate,
            mean,
            std,
        )
        common = cfg.episodes_per_candidate if cfg.common_starts else 0
        return Request(actor, cfg.population * cfg.episodes_per_candidate, common)

    def tell(self, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Score each candidate by its mean return and step mu (and sigma)."""
        returns = sessions.returns
        shifted = returns - self.config.reward_shift * sessions.lengths
        scores = shifted.reshape(self.config.population, -1).mean(axis=1)
        stats = self.es.tell(scores, self._pending)
        if self.normalizer is not None:
            self.normalizer.update_sessions(*sessions.observation_stats())
        return {"mean_return": float(returns.mean()), "max_return": float(returns.max()), **stats}

    def greedy_actor(self) -> Actor:
        """The mean mu, acting deterministically."""
        mean, std = self._norm()
        params = unflatten(self.es.mean[None].astype(np.float32), self.layout)
        return NumpyActor(self.spec, params, mean, std, deterministic=True)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The search distribution, optimiser state and normaliser."""
        arrays = self.es.state_arrays()
        if self.normalizer is not None:
            arrays.update(self.normalizer.arrays("obs."))
        return arrays

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_arrays`."""
        if np.asarray(arrays["es.mu"]).shape != (self.es.mu.numel(),):
            raise ConfigError("checkpoint weights do not fit this policy")
        self.es.load_state_arrays(arrays)
        if self.normalizer is not None:
            self.normalizer.load(arrays, "obs.")
