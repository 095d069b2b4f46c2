"""Sessions (episodes) as padded, time-major arrays.

A batch of ``N`` sessions stores step ``t`` of session ``i`` at ``[t, i]``; steps at or past a
session's length are padding (zeros) and are excluded by :meth:`Sessions.mask`.

Everything computed per session (its return, its observation statistics) depends on that
session's own steps only, never on the batch it was played in: a request split over workers
gives the same numbers as one played in one piece. An update that needs only those numbers (ES)
receives sessions whose steps were dropped where they ran (:meth:`Sessions.without_steps`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

#: What sampling keeps of each session: every step (``steps``: CEM's fit over actions, the
#: tabular CEM), its return and observation statistics (``stats``: a search over weights that
#: normalises observations), or its return alone (``returns``: the evaluation, a search over
#: pixels). Besides the return, every kind keeps the session's length and how it ended.
Keep = Literal["steps", "stats", "returns"]


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


def sequential_sum(x: np.ndarray) -> np.ndarray:
    """Sums over the first (time) axis, added step after step: ``((x[0] + x[1]) + x[2]) + ...``.

    ``x.sum(axis=0)`` adds a batch of two or more columns this way, but a single column
    pairwise, which rounds differently: a session's return would depend on its batch.
    """
    if not len(x):
        return np.zeros(x.shape[1:], dtype=x.dtype)
    return np.cumsum(x, axis=0)[-1]


@dataclass(frozen=True)
class Outcomes:
    """What is kept of sessions whose steps were dropped: per-session returns and statistics.

    Attributes:
        returns: ``(N,)`` total reward of each session.
        obs_count: ``(N,)`` observations of each session (its length).
        obs_mean: ``(N, obs_dim)`` mean of each session's flattened observations.
        obs_m2: ``(N, obs_dim)`` sum of squared deviations from that mean.
    """

    returns: np.ndarray
    obs_count: np.ndarray
    obs_mean: np.ndarray
    obs_m2: np.ndarray


def _observation_stats(observations: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sum of squared deviations of each session's observations, ``(N, obs_dim)`` each."""
    n = len(lengths)
    dim = int(np.prod(observations.shape[2:], dtype=np.int64))
    mean, m2 = np.zeros((n, dim)), np.zeros((n, dim))
    for i, length in enumerate(lengths):
        x = np.ascontiguousarray(observations[: int(length), i], dtype=np.float64).reshape(int(length), dim)
        if len(x):
            mean[i] = x.mean(axis=0)
            m2[i] = ((x - mean[i]) ** 2).sum(axis=0)
    return mean, m2


def step_mask(lengths: np.ndarray, horizon: int) -> np.ndarray:
    """``(horizon, N)`` True where a step of time-major padded arrays belongs to its session."""
    return np.arange(horizon)[:, None] < np.asarray(lengths)[None, :]


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
        outcomes: set when the steps were dropped (:meth:`without_steps`); the step arrays are
            then empty.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    lengths: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    outcomes: Outcomes | None = None

    @property
    def n(self) -> int:
        """Number of sessions."""
        return int(self.lengths.shape[0])

    @property
    def returns(self) -> np.ndarray:
        """``(N,)`` total reward of each session (its rewards added in order)."""
        if self.outcomes is not None:
            return self.outcomes.returns
        return sequential_sum(self.rewards)

    @property
    def has_steps(self) -> bool:
        """Whether the step arrays are kept (False after :meth:`without_steps`)."""
        return self.outcomes is None

    def observation_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per session: observation count ``(N,)``, mean and sum of squared deviations ``(N, d)``."""
        if self.outcomes is not None:
            o = self.outcomes
            return o.obs_count, o.obs_mean, o.obs_m2
        return (self.lengths.astype(np.int64), *_observation_stats(self.observations, self.lengths))

    def without_steps(self, stats: bool = True) -> Sessions:
        """These sessions with only their per-session numbers (:class:`Outcomes`), not their steps.

        Without ``stats`` the observation statistics are left out too (zero-width arrays).
        """
        if self.outcomes is not None:
            return self
        n = self.n
        if stats:
            count, mean, m2 = self.observation_stats()
        else:
            count, mean, m2 = self.lengths.astype(np.int64), np.zeros((n, 0)), np.zeros((n, 0))

        def empty(a: np.ndarray) -> np.ndarray:
            return np.zeros((0, n, *a.shape[2:]), a.dtype)

        return Sessions(
            empty(self.observations),
            empty(self.actions),
            empty(self.rewards),
            self.lengths,
            self.terminated,
            self.truncated,
            Outcomes(self.returns, count, mean, m2),
        )

    @property
    def env_steps(self) -> int:
        """Environment steps taken, over all sessions."""
        return int(self.lengths.sum())

    def mask(self) -> np.ndarray:
        """``(T, N)`` True where a step belongs to its session (False on padding)."""
        if self.outcomes is not None:
            raise ValueError("these sessions were sampled without their steps")
        return step_mask(self.lengths, self.rewards.shape[0])

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


def kept(sessions: Sessions, keep: Keep) -> Sessions:
    """What ``keep`` asks to keep of ``sessions`` (they may already hold no more than that)."""
    return sessions if keep == "steps" else sessions.without_steps(stats=keep == "stats")


def concatenate(parts: list[Sessions]) -> Sessions:
    """Sessions of several batches as one batch, in order (padding to the longest).

    Batches without steps (:meth:`Sessions.without_steps`) concatenate their outcomes.
    """
    if len(parts) == 1:
        return parts[0]
    kept = [p.outcomes for p in parts if p.outcomes is not None]
    if kept and len(kept) != len(parts):
        raise ValueError("cannot concatenate sessions with and without their steps")
    outcomes = None
    if kept:
        outcomes = Outcomes(
            *(np.concatenate([getattr(o, f.name) for o in kept]) for f in dataclasses.fields(Outcomes))
        )
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
        outcomes=outcomes,
    )
