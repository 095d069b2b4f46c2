"""One root seed, and every other seed derived from it with ``numpy.random.SeedSequence``.

The tree is keyed by purpose, so that adding a consumer never shifts the seeds of another:

- ``iteration(i)``: everything random in training iteration ``i`` (sampling, the update);
- ``init()``: the initial parameters of a policy;
- ``reference()``: the frames of a reference batch (virtual batch normalisation);
- ``evaluation_seeds(n, seed)``: reset seeds of evaluation episodes. Training never resets an
  environment with a seed at or above ``EVAL_SEED_BASE``, so the two
  sets are disjoint by construction.

Every reset seed, in training and in evaluation, lies in ``[0, 2**32 - 1]``, the range that
``numpy.random.RandomState`` and the envs seeded through it (MinAtar, dm_control) accept:
training's in ``[0, 2**31)``, evaluation's in ``[2**31, 2**32)``.

A training session's own random numbers (its action noise, and the start state of a task stepped
as arrays) are counter-based: the ``t``-th number of the stream keyed by the session's seed is a
hash of the two (:func:`stream_uniform`, :func:`stream_normal`). Any number of sessions draw
their step ``t`` in one vectorised call, with no generator to create per session, and a session's
numbers do not depend on which runner, worker or batch plays it.
"""

from __future__ import annotations

import numpy as np

#: Every reset seed is below this (``RandomState`` takes seeds up to ``2**32 - 1``).
RESET_SEED_LIMIT = 2**32
#: Training reset seeds are drawn from ``[0, TRAIN_SEED_LIMIT)``.
TRAIN_SEED_LIMIT = 2**31
#: Reset seeds of evaluation episodes start here; training reset seeds are always below it.
EVAL_SEED_BASE = TRAIN_SEED_LIMIT
#: Evaluation seed ``s`` starts its episodes' reset seeds at ``EVAL_SEED_BASE + s * EVAL_SEED_STRIDE``.
EVAL_SEED_STRIDE = 10**6
#: Most episodes of one evaluation: their reset seeds must stay below ``RESET_SEED_LIMIT``.
MAX_EVAL_EPISODES = RESET_SEED_LIMIT - EVAL_SEED_BASE

_INIT, _ITERATION, _REFERENCE = 0, 1, 2

#: Purposes of keyed streams (they take disjoint streams even under equal seeds).
NOISE_STREAM, START_STREAM = 0, 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class SeedTree:
    """Derives independent random streams from one root seed.

    Args:
        seed: the root seed (a non-negative integer).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def _child(self, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=key)

    def init(self) -> np.random.Generator:
        """The generator for initial parameters."""
        return np.random.default_rng(self._child(_INIT))

    def reference(self) -> np.random.Generator:
        """The generator of the reference batch's episodes (their reset seeds and random actions)."""
        return np.random.default_rng(self._child(_REFERENCE))

    def iteration(self, i: int) -> np.random.Generator:
        """The generator for training iteration ``i`` (the same ``i`` always gives the same stream)."""
        return np.random.default_rng(self._child(_ITERATION, int(i)))


def train_reset_seeds(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` reset seeds for training episodes, all below :data:`TRAIN_SEED_LIMIT`."""
    return rng.integers(0, TRAIN_SEED_LIMIT, size=n, dtype=np.int64)


def session_reset_seeds(rng: np.random.Generator, n: int, common: int = 0) -> np.ndarray:
    """Reset seeds of ``n`` training sessions.

    With ``common`` > 0, session ``i`` gets the ``i % common``-th of ``common`` seeds: candidates
    played in groups of ``common`` sessions then meet the same start states (common random
    numbers), so that their scores differ by their policies, not by their luck.
    """
    if common > 0:
        return np.tile(train_reset_seeds(rng, common), -(-n // common))[:n]
    return train_reset_seeds(rng, n)


def request_seeds(rng: np.random.Generator, n: int, common: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Reset seeds and noise seeds of a request's ``n`` training sessions, drawn from ``rng``.

    Every sampler draws them here, in this order, before splitting the request, so that a
    session's seeds (and so the session) do not depend on where it is played.
    """
    return session_reset_seeds(rng, n, common), train_reset_seeds(rng, n)


def evaluation_seeds(n: int, seed: int = 0, first: int = 0) -> np.ndarray:
    """Reset seeds of ``n`` evaluation episodes, disjoint from every training seed.

    Args:
        n: number of episodes.
        seed: the evaluation seed; different values give disjoint sets of episodes (of up to
            :data:`EVAL_SEED_STRIDE` episodes each), up to :func:`max_evaluation_seed`.
        first: index of the first episode (to draw a long evaluation in parts).

    Raises:
        ValueError: if a reset seed would reach :data:`RESET_SEED_LIMIT` (callers check the
            seed and the episodes first, with :func:`max_evaluation_seed`).
    """
    start = EVAL_SEED_BASE + int(seed) * EVAL_SEED_STRIDE + int(first)
    if int(seed) < 0 or start + n > RESET_SEED_LIMIT:
        raise ValueError(
            f"evaluation seed {seed} has no reset seeds for episodes {first} to {first + n - 1} "
            f"below 2**32 (at most {max_evaluation_seed(first + n)})"
        )
    return np.arange(start, start + n, dtype=np.int64)


def max_evaluation_seed(episodes: int) -> int:
    """The largest evaluation seed whose ``episodes`` reset seeds stay below 2**32 (-1: none does)."""
    return (RESET_SEED_LIMIT - EVAL_SEED_BASE - int(episodes)) // EVAL_SEED_STRIDE


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele, Lea and Flood, 2014): a bijection of uint64 that spreads bits."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def stream_keys(seeds: np.ndarray, purpose: int = NOISE_STREAM) -> np.ndarray:
    """The keys of the streams of these seeds (non-negative, below 2**56) for one purpose."""
    raw = np.atleast_1d(np.asarray(seeds)).astype(np.uint64) + (np.uint64(purpose) << np.uint64(56))
    return _mix(raw)


def stream_uniform(keys: np.ndarray, counters: np.ndarray | int, dim: int) -> np.ndarray:
    """Numbers ``counters * dim`` to ``counters * dim + dim - 1`` of each keyed stream, on [0, 1).

    Number ``j`` of the stream with key ``k`` is SplitMix64's output ``mix(k + (j + 1) * golden)``
    (its top 53 bits as a double), so any entry is computed without the ones before it.

    Args:
        keys: ``(B,)`` keys from :func:`stream_keys`.
        counters: ``(B,)`` (or one) index of the draw in each stream, in units of ``dim`` numbers.
        dim: numbers per draw.

    Returns:
        ``(B, dim)`` float64.
    """
    counters = np.broadcast_to(np.asarray(counters, dtype=np.uint64), keys.shape)
    j = counters[:, None] * np.uint64(dim) + np.arange(1, dim + 1, dtype=np.uint64)
    bits = _mix(keys[:, None] + j * _GOLDEN)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def stream_normal(keys: np.ndarray, counters: np.ndarray | int, dim: int) -> np.ndarray:
    """Standard normal draws of the keyed streams (Box-Muller on two uniforms each), ``(B, dim)``."""
    u = stream_uniform(keys, counters, 2 * dim)
    return np.sqrt(-2.0 * np.log1p(-u[:, :dim])) * np.cos(2.0 * np.pi * u[:, dim:])
