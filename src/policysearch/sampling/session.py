"""Sessions (episodes) as padded, time-major arrays.

A batch of ``N`` sessions stores step ``t`` of session ``i`` at ``[t, i]``; steps at or past a
session's length are padding (zeros) and are excluded by :meth:`Sessions.mask`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Session:
    """One episode: what the agent saw, did and got, and how it ended."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    truncated: bool

    @property
    def total_reward(self) -> float:
        """The session's return R (undiscounted sum of rewards)."""
        return float(self.rewards.sum())


@dataclass
class Sessions:
    """A batch of sessions, padded to the longest one.

    Attributes:
        observations: ``(T, N, *obs_shape)``, the observation each action was taken in.
        actions: ``(T, N, *action_shape)``.
        rewards: ``(T, N)`` float64.
        lengths: ``(N,)`` number of steps of each session.
        terminated: ``(N,)`` the session ended in a terminal state.
        truncated: ``(N,)`` the session was cut by the time limit.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    lengths: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray

    @property
    def n(self) -> int:
        """Number of sessions."""
        return int(self.lengths.shape[0])

    @property
    def returns(self) -> np.ndarray:
        """``(N,)`` total reward of each session, summed step after step.

        A running sum, so that a session's return does not depend on its batch: numpy's ``sum``
        adds a lone column pairwise but several columns row by row, which differ in the last bit.
        """
        if not self.rewards.shape[0]:
            return np.zeros(self.rewards.shape[1:])
        return np.cumsum(self.rewards, axis=0)[-1]

    @property
    def env_steps(self) -> int:
        """Environment steps taken, over all sessions."""
        return int(self.lengths.sum())

    def mask(self) -> np.ndarray:
        """``(T, N)`` True where a step belongs to its session (False on padding)."""
        horizon = self.rewards.shape[0]
        return np.arange(horizon)[:, None] < self.lengths[None, :]

    def pairs(self, select: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Flat (observations, actions) of every step of the selected sessions.

        Args:
            select: boolean ``(N,)`` or integer indices; default all sessions.
        """
        mask = self.mask()
        if select is not None:
            chosen = np.zeros(self.n, dtype=bool)
            chosen[select] = True
            mask &= chosen[None, :]
        return self.observations[mask], self.actions[mask]

    def session(self, i: int) -> Session:
        """Session ``i`` without padding."""
        length = int(self.lengths[i])
        return Session(
            observations=self.observations[:length, i],
            actions=self.actions[:length, i],
            rewards=self.rewards[:length, i],
            terminated=bool(self.terminated[i]),
            truncated=bool(self.truncated[i]),
        )


def concatenate(parts: list[Sessions]) -> Sessions:
    """Sessions of several batches as one batch, in order (padding to the longest)."""
    horizon = max((p.rewards.shape[0] for p in parts), default=0)

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.zeros((horizon - a.shape[0], *a.shape[1:]), a.dtype)])

    return Sessions(
        observations=np.concatenate([pad(p.observations) for p in parts], axis=1),
        actions=np.concatenate([pad(p.actions) for p in parts], axis=1),
        rewards=np.concatenate([pad(p.rewards) for p in parts], axis=1),
        lengths=np.concatenate([p.lengths for p in parts]),
        terminated=np.concatenate([p.terminated for p in parts]),
        truncated=np.concatenate([p.truncated for p in parts]),
    )
