"""One root seed, and every other seed derived from it with ``numpy.random.SeedSequence``.

The tree is keyed by purpose, so that adding a consumer never shifts the seeds of another:

- ``iteration(i)``: everything random in training iteration ``i`` (sampling, the update);
- ``init()``: the initial parameters of a policy;
- ``evaluation_seeds(n, seed)``: reset seeds of evaluation episodes. Training never resets an
  environment with a seed at or above ``EVAL_SEED_BASE``, so the two
  sets are disjoint by construction.
"""

from __future__ import annotations

import numpy as np

#: Reset seeds of evaluation episodes start here; training reset seeds are always below it.
EVAL_SEED_BASE = 2**40
#: Training reset seeds are drawn from ``[0, TRAIN_SEED_LIMIT)``.
TRAIN_SEED_LIMIT = 2**31

_INIT, _ITERATION = 0, 1


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


def evaluation_seeds(n: int, seed: int = 0) -> np.ndarray:
    """Reset seeds of ``n`` evaluation episodes, disjoint from every training seed.

    Args:
        n: number of episodes.
        seed: the evaluation seed; different values give disjoint sets of episodes.
    """
    start = EVAL_SEED_BASE + int(seed) * 10**9
    return np.arange(start, start + n, dtype=np.int64)
