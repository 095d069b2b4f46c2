"""Running mean and standard deviation of observations (saved with the policy)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

#: A float, or an array of them (one per feature).
F = TypeVar("F", float, np.ndarray)


def merge_moments(
    count_a: float, mean_a: F, m2_a: F, count_b: float, mean_b: F, m2_b: F
) -> tuple[float, F, F]:
    """Two batches' count, mean and sum of squared deviations from the mean, merged into one.

    Chan, Golub and LeVeque's pairwise update: exact (to rounding) whatever the batches' sizes,
    so that statistics gathered in parts equal those of one batch. ``count_a + count_b`` must
    be positive.
    """
    total = count_a + count_b
    delta = mean_b - mean_a
    mean = mean_a + delta * count_b / total
    m2 = m2_a + m2_b + delta**2 * count_a * count_b / total
    return total, mean, m2


class RunningNormalizer:
    """Mean and variance of every observation seen, merged batch by batch (Chan et al.).

    Args:
        dim: size of a flattened observation.
    """

    def __init__(self, dim: int) -> None:
        self.mean = np.zeros(dim)
        self.var = np.ones(dim)
        self.count = 0.0

    def update(self, x: np.ndarray) -> None:
        """Merge a batch ``(M, dim)`` into the statistics."""
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if not len(x):
            return
        self._merge(len(x), x.mean(axis=0), x.var(axis=0) * len(x))

    def update_sessions(self, count: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        """Merge per-session statistics, in session order, into the statistics.

        Args:
            count: ``(N,)`` observations of each session.
            mean: ``(N, dim)`` mean of each session's observations.
            m2: ``(N, dim)`` sum of squared deviations from that mean.

        The result depends only on these numbers, not on where each session was played, so that
        workers can send three rows per session instead of every observation.
        """
        count = np.asarray(count, dtype=np.float64)
        n = float(count.sum())
        if n <= 0:
            return
        batch_mean = (count[:, None] * mean).sum(axis=0) / n
        batch_m2 = m2.sum(axis=0) + (count[:, None] * (mean - batch_mean) ** 2).sum(axis=0)
        self._merge(n, batch_mean, batch_m2)

    def _merge(self, n: float, mean: np.ndarray, m2: np.ndarray) -> None:
        """Merge a batch of ``n`` observations with this mean and sum of squared deviations."""
        before = (self.count, self.mean, self.var * self.count)
        self.count, self.mean, merged = merge_moments(*before, n, mean, m2)
        self.var = merged / self.count

    @property
    def std(self) -> np.ndarray:
        """Standard deviation (floored, so constant features do not blow up)."""
        return np.sqrt(np.maximum(self.var, 1e-8))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The statistics as named arrays."""
        return {f"{prefix}mean": self.mean, f"{prefix}var": self.var, f"{prefix}count": np.array(self.count)}

    def load(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        """Restore :meth:`arrays`."""
        self.mean = np.asarray(arrays[f"{prefix}mean"], dtype=np.float64)
        self.var = np.asarray(arrays[f"{prefix}var"], dtype=np.float64)
        self.count = float(arrays[f"{prefix}count"])
