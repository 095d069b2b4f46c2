"""The tabular policy: a matrix pi(a|s), and the actors that play it."""

from __future__ import annotations

from typing import Literal

import numpy as np


def new_policy(
    states: np.ndarray, actions: np.ndarray, n_states: int, n_actions: int, smoothing: float
) -> np.ndarray:
    """The lecture's update: pi(a|s) = ([took a at s] + lambda) / ([was at s] + lambda * n_actions).

    Rows of states that were never visited are uniform (never NaN), whatever ``smoothing`` is.

    Args:
        states: flat array of the elite's states.
        actions: the action taken at each of those states.
        n_states: number of states.
        n_actions: number of actions.
        smoothing: Laplace smoothing lambda >= 0.

    >>> new_policy(np.array([0, 0, 1]), np.array([1, 1, 0]), 3, 2, 0.0).tolist()
    [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]
    """
    flat = np.asarray(states, dtype=np.int64) * n_actions + np.asarray(actions, dtype=np.int64)
    visits = np.bincount(flat, minlength=n_states * n_actions).reshape(n_states, n_actions)
    counts = visits.astype(np.float64) + smoothing
    totals = counts.sum(axis=1, keepdims=True)
    uniform = np.full((1, n_actions), 1.0 / n_actions)
    safe = np.where(totals > 0, totals, 1.0)
    return np.where(totals > 0, counts / safe, uniform)


class StochasticTableActor:
    """Samples a ~ pi(.|s) by inverse transform of one uniform number per step."""

    noise_dim = 1
    noise_kind: Literal["uniform", "normal"] = "uniform"

    def __init__(self, probs: np.ndarray) -> None:
        self.cdf = np.cumsum(probs, axis=1)
        self.cdf[:, -1] = 1.0
        self.n_actions = probs.shape[1]

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Sample one action per observation."""
        assert noise is not None
        a = (noise[:, :1] >= self.cdf[np.asarray(obs, dtype=np.int64)]).sum(axis=1)
        return np.minimum(a, self.n_actions - 1)


class TableActor:
    """Deterministic tables, one per candidate; session ``i`` plays candidate ``i // group``.

    Args:
        tables: ``(n_candidates, n_states)`` action of each candidate in each state.
        group: sessions per candidate (several simulations of the same candidate).
    """

    noise_dim = 0
    noise_kind: Literal["uniform", "normal"] = "uniform"

    def __init__(self, tables: np.ndarray, group: int = 1) -> None:
        self.tables = np.atleast_2d(np.asarray(tables, dtype=np.int64))
        self.group = group

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """The candidate's action in each observed state."""
        candidate = np.asarray(index) // self.group if self.tables.shape[0] > 1 else 0
        return self.tables[candidate, np.asarray(obs, dtype=np.int64)]


def sample_tables(probs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` deterministic policies, each drawing one action per state from ``probs``."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((n, probs.shape[0], 1))
    return np.minimum((u >= cdf[None]).sum(axis=2), probs.shape[1] - 1)
