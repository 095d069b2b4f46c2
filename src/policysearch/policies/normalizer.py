"""Running mean and standard deviation of observations (saved with the policy)."""

from __future__ import annotations

import numpy as np


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
        n, mean, var = len(x), x.mean(axis=0), x.var(axis=0)
        total = self.count + n
        delta = mean - self.mean
        m2 = self.var * self.count + var * n + delta**2 * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.var = m2 / total
        self.count = total

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
        total = self.count + n
        delta = batch_mean - self.mean
        merged = self.var * self.count + batch_m2 + delta**2 * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.var = merged / total
        self.count = total

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
