"""Candidates named by noise-table offsets: mu + sigma * sign * table[offset], built where they play.

ES, ARS and CEM over weights (``search=weights``) sample their candidates this one way, so that a
sampler sends each worker the weights once and each share a few numbers per candidate, whatever
the number of policy parameters.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal

import numpy as np

from ..config import LARGEST, check_range
from ..errors import ConfigError
from ..optim.noise_table import NoiseTable
from ..policies.numpy_policy import NumpyActor
from ..policies.spec import PolicySpec
from ..policies.weights import Layout, unflatten
from ..sampling.session import Sessions
from .base import Request


def noise_table_key(size: int, rng: np.random.Generator, dim: int) -> tuple[int, int]:
    """The shared noise table a population draws from: its seed (from ``rng``) and its size.

    Every process makes the same table from these two numbers
    (:class:`~policysearch.optim.noise_table.NoiseTable`).

    Raises:
        ConfigError: if the table is smaller than ``dim``, the parameters a candidate's slice of
            it perturbs (refused when the algorithm is built, before any env or worker starts).
    """
    if dim > size:
        raise ConfigError(
            f"noise_table_size={size:,} is smaller than the policy's {dim:,} parameters (each candidate's "
            f"noise is a slice of the table): use at least {dim:,}, or the default 10,000,000"
        )
    from ..run.guards import format_bytes, short_of_memory  # the guard's reading of the machine

    if (have := short_of_memory(4 * size)) is not None:
        raise ConfigError(
            f"noise_table_size={size:,} needs {format_bytes(4 * size)} of memory (float32 numbers), "
            f"but {format_bytes(have)} is available: use a smaller table, at least the policy's "
            f"{dim:,} parameters (the default: 10,000,000)"
        )
    return int(rng.integers(2**31)), size


def resolve_reward_shift(config: Any, bonus: float = 0.0) -> Any:
    """The config with ``reward_shift=auto`` replaced by the env's survival ``bonus``.

    The run factory passes :func:`~policysearch.envs.survival_bonus` of the env it made; an
    algorithm built without an env (no bonus known) takes 0. Any other value stays.
    """
    if getattr(config, "reward_shift", None) != "auto":
        return config
    return dataclasses.replace(config, reward_shift=float(bonus))


def check_reward_shift(value: float | str) -> None:
    """Check ``reward_shift``: any finite number, or ``auto``."""
    if value != "auto":
        check_range("reward_shift", value)  # type: ignore[arg-type]


def shifted_returns(sessions: Sessions, shift: float) -> np.ndarray:
    """Each session's return with ``shift`` subtracted from every step's reward, ``(N,)``.

    ARS scores candidates this way on locomotion tasks (``reward_shift``): taking out the survival
    bonus that every step pays, standing still is no longer a local optimum. The returns the
    trainer reports stay the env's own.
    """
    return sessions.returns - shift * sessions.lengths


#: Bytes of float32 candidate weights a worker builds at once. A share whose candidates' weights
#: take more (an Atari-size network: 500 candidates of the Nature-DQN body are 3.4 GB) builds
#: each candidate's weights when its first session starts and drops them after its last.
STACKED_BYTES = 256 * 2**20


class PopulationActor:
    """Plays the candidates mu + sigma * sign_i * table[offset_i], built where it runs.

    Pickled, it carries mu, sigma and one offset and sign per candidate: the weights are rebuilt
    from the shared noise table in the process that acts. A sampler that splits a request into
    shares sends the weights once (:meth:`split`: everything but the offsets) and each share its
    own candidates' offsets and signs (:meth:`join` puts them back together where it runs).

    The candidates of a share are stacked in one actor when their weights fit in
    :data:`STACKED_BYTES`; else each is built alone, only while it plays. Both give the same
    actions: the numpy actor computes every row alone (``_rows_matmul``), whatever its batch.
    """

    noise_dim = 0
    noise_kind: Literal["uniform", "normal"] = "uniform"

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
        reference: np.ndarray | None = None,
    ) -> None:
        self.spec, self.layout = spec, layout
        self.mu, self.sigma = mu.astype(np.float32), sigma.astype(np.float32)
        self.offsets, self.signs, self.table, self.group = offsets, signs, table, group
        self.obs_mean, self.obs_std = obs_mean, obs_std
        self.reference = reference  # sent with the weights, once per request and worker
        #: Index of the first candidate held (a share's actor holds only its own candidates).
        self.first = first
        self._actors: dict[int, NumpyActor] = {}  # -1: all stacked; else one candidate each

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_actors": {}}

    def split(self, bounds: list[tuple[int, int]]) -> tuple[PopulationActor, list[Any]]:
        """The weights without offsets, and per share ``[lo, hi)`` of sessions its candidates' part."""
        common = copy.copy(self)
        common.offsets, common.signs, common._actors = self.offsets[:0], self.signs[:0], {}
        parts = []
        for lo, hi in bounds:
            first, last = lo // self.group, -(-hi // self.group)
            parts.append((first, self.offsets[first:last], self.signs[first:last]))
        return common, parts

    def join(self, part: tuple[int, np.ndarray, np.ndarray]) -> PopulationActor:
        """The actor of one share: these weights with the share's candidates (from :meth:`split`)."""
        joined = copy.copy(self)
        joined.first, joined.offsets, joined.signs = part
        joined._actors = {}
        return joined

    @property
    def stacked(self) -> bool:
        """Whether the share's candidates are built together (their weights fit STACKED_BYTES)."""
        return len(self.offsets) * self.mu.size * 4 <= STACKED_BYTES

    def _build(self, offsets: np.ndarray, signs: np.ndarray) -> NumpyActor:
        if len(offsets) == 1:
            # One candidate would take NumpyActor's single-network path, which rounds
            # differently from the population's: a dummy second keeps every share alike.
            offsets, signs = np.repeat(offsets, 2), np.repeat(signs, 2)
        noise = NoiseTable.shared(*self.table).get(offsets, self.mu.size)
        vectors = self.mu + self.sigma * signs[:, None] * noise
        params = unflatten(vectors, self.layout)
        return NumpyActor(
            self.spec,
            params,
            self.obs_mean,
            self.obs_std,
            group=self.group,
            deterministic=True,
            reference=self.reference,
        )

    def _stacked(self) -> NumpyActor:
        """Every candidate of the share in one actor, built on first use."""
        if -1 not in self._actors:
            self._actors[-1] = self._build(self.offsets, self.signs)
        return self._actors[-1]

    def _candidate(self, c: int) -> NumpyActor:
        """Candidate ``c`` (of this share) alone, built on first use."""
        if c not in self._actors:
            self._actors[c] = self._build(self.offsets[c : c + 1], self.signs[c : c + 1])
        return self._actors[c]

    def start(self, index: np.ndarray) -> None:
        """Sessions begin (resets a GRU's hidden state)."""
        local = np.asarray(index) - self.first * self.group
        if self.stacked:
            self._stacked().start(local)
            return
        for c in np.unique(local // self.group):
            self._candidate(int(c)).start(local[local // self.group == c] - c * self.group)

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Each session plays its candidate deterministically."""
        local = np.asarray(index) - self.first * self.group
        if self.stacked:
            return self._stacked().act(obs, local, None)
        cand = local // self.group
        playing = np.unique(cand)
        for c in [c for c in self._actors if c not in playing]:
            del self._actors[c]  # its sessions have ended: they are played in order
        actions: np.ndarray | None = None
        for c in playing:
            rows = cand == c
            chosen = self._candidate(int(c)).act(obs[rows], local[rows] - c * self.group, None)
            if actions is None:
                actions = np.empty((len(obs), *chosen.shape[1:]), chosen.dtype)
            actions[rows] = chosen
        assert actions is not None
        return actions


def check_float32(mu: np.ndarray, sigma: np.ndarray, largest: float) -> None:
    """Refuse candidates mu + sigma * xi beyond float32's range, in which policies compute.

    ``largest`` is the noise table's largest magnitude. The search keeps its numbers in float64:
    beyond float32's largest (3.4e38) a candidate's weights would become infinite where the
    actor builds them, and its actions NaN, without a word.

    Raises:
        ConfigError: naming what went beyond: the search's mean (it diverged: its steps were too
            large) or the noise (its scale is too large).
    """
    mean = float(np.max(np.abs(mu), initial=0.0))
    scale = float(np.max(np.abs(sigma), initial=0.0))
    if mean > LARGEST:
        raise ConfigError(
            f"the search diverged: its weights reached {mean:.3g}, beyond the float32 numbers "
            f"policies compute with (at most {LARGEST:.3g}); use a smaller step size"
        )
    if mean + scale * largest > LARGEST:
        raise ConfigError(
            f"the noise's scale ({scale:.3g}) times the noise table's largest number "
            f"({largest:.3g}) puts candidates' weights beyond the float32 numbers policies "
            f"compute with (at most {LARGEST:.3g}); use a smaller noise"
        )


def population_request(
    spec: PolicySpec,
    layout: Layout,
    table: tuple[int, int],
    mu: np.ndarray,
    sigma: np.ndarray,
    rng: np.random.Generator,
    population: int,
    mirrored: bool,
    episodes_per_candidate: int,
    start_groups: int,
    obs_mean: np.ndarray | None,
    obs_std: np.ndarray | None,
    reference: np.ndarray | None = None,
) -> Request:
    """``population`` candidates mu + sigma * xi (mirrored pairs adjacent), as noise-table offsets.

    The request's ``candidates`` hold the offsets and signs, from which :func:`candidate_noise`
    gives ``tell`` the same xi. ``reference``: virtual batch normalisation's reference batch.
    """
    pairs = population // 2 if mirrored else population
    noise_table = NoiseTable.shared(*table)
    check_float32(mu, sigma, noise_table.largest)
    offsets = noise_table.offsets(rng, pairs, mu.size)
    if mirrored:
        offsets = np.repeat(offsets, 2)
        signs = np.tile([1.0, -1.0], pairs).astype(np.float32)
    else:
        signs = np.ones(population, dtype=np.float32)
    k = episodes_per_candidate
    actor = PopulationActor(
        spec, layout, mu, sigma, offsets, signs, table, k, obs_mean, obs_std, reference=reference
    )
    return Request(actor, population, k, start_groups, {"offsets": offsets, "signs": signs})


class CandidateNoise:
    """The perturbations xi of a :func:`population_request`'s candidates, read a block at a time.

    ``(population, dim)`` as a whole would be population x parameters float64 numbers (13.5 GB
    for 1,000 candidates of a Nature-DQN network); :meth:`columns` gives the numbers of a block
    of parameters, which is what :class:`~policysearch.optim.es.EvolutionStrategy` reads.
    """

    def __init__(self, request: Request, table: tuple[int, int], dim: int) -> None:
        assert request.candidates is not None
        self.offsets, self.signs = request.candidates["offsets"], request.candidates["signs"]
        self.table, self.dim = NoiseTable.shared(*table), dim

    def __len__(self) -> int:
        return len(self.offsets)

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Xi's parameters ``lo`` to ``hi - 1`` for every candidate, ``(population, hi - lo)`` float64."""
        block = self.signs[:, None] * self.table.get(self.offsets + lo, hi - lo)
        return block.astype(np.float64)


def candidate_noise(request: Request, table: tuple[int, int], dim: int) -> np.ndarray:
    """The perturbations xi of a :func:`population_request`'s candidates, ``(population, dim)``."""
    return CandidateNoise(request, table, dim).columns(0, dim)
