"""A shared noise table (Salimans et al., 2017): one block of Gaussian noise made from one seed.

Every process that holds the table (the learner and each sampling worker) makes the same block
from the same seed, so a perturbation is named by an offset into it: what crosses a process or
machine boundary per candidate is an index (and, on the way back, a return), never a weight vector.
"""

from __future__ import annotations

import functools

import numpy as np

_TABLES: dict[tuple[int, int], NoiseTable] = {}


class NoiseTable:
    """``size`` standard normal float32 numbers from ``seed``.

    Args:
        seed: the table's seed.
        size: how many numbers.
    """

    def __init__(self, seed: int, size: int) -> None:
        self.seed, self.size = int(seed), int(size)
        self.noise = np.random.default_rng(self.seed).standard_normal(self.size, dtype=np.float32)

    @staticmethod
    def held(seed: int, size: int) -> bool:
        """Whether this process has made the table for (seed, size) already."""
        return (int(seed), int(size)) in _TABLES

    @classmethod
    def shared(cls, seed: int, size: int) -> NoiseTable:
        """The process's table for (seed, size), made on first use."""
        key = (int(seed), int(size))
        if key not in _TABLES:
            _TABLES[key] = cls(*key)
        return _TABLES[key]

    @functools.cached_property
    def largest(self) -> float:
        """The largest magnitude of the table's numbers (about 5.5 in the default 10 M)."""
        return max(float(self.noise.max()), -float(self.noise.min()))  # no copy of the table

    def offsets(self, rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
        """``count`` random offsets of ``dim``-long slices."""
        if dim > self.size:
            raise ValueError(f"the noise table ({self.size}) is smaller than the parameters ({dim})")
        return rng.integers(0, self.size - dim + 1, size=count)

    def get(self, offsets: np.ndarray, dim: int) -> np.ndarray:
        """The slices at ``offsets``, ``(len(offsets), dim)``: a copy of those numbers, nothing more.

        (No ``len(offsets) x dim`` index is built: for a million-parameter network that index
        would be eight times the slices.)
        """
        windows = np.lib.stride_tricks.sliding_window_view(self.noise, dim)
        return windows[np.asarray(offsets, dtype=np.int64)]
