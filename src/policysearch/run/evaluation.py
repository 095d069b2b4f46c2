"""The evaluation protocol: the deterministic policy over fresh episodes with held-out seeds.

A long evaluation is played in parts (:func:`evaluation_parts`), small enough for memory, so that
its memory does not grow with the number of episodes, and short enough that its progress shows
and an interruption has the episodes played so far to report. The mean and standard deviation
of the parts are combined exactly as those of one batch would be (to rounding). The parts
depend on the env and the number of episodes (and, for the numpy dynamics, on the memory
available), never on timing, so the trainer's evaluation and ``evaluate`` with the same episodes
and seed give the same figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import check_range
from ..envs import EnvOptions, probe_env, step_limit
from ..errors import EnvError
from ..policies.base import Actor
from ..policies.normalizer import merge_moments
from ..sampling import Sampler, closed_after, make_runner, vector_dynamics
from ..seeding import evaluation_seeds
from .guards import OUTCOME_BYTES, available_memory, step_bytes

#: Memory one part of an evaluation may hold (its sessions' arrays), at most.
PART_BYTES = 256 * 10**6
#: Episodes of one part, at most.
PART_EPISODES = 100_000
#: Agent steps of one part, at most, counted at the env's episode limit: about a minute of a
#: slow env (Humanoid: 250 episodes), so that progress lines and an interruption's result come
#: while a long evaluation runs.
PART_STEPS = 250_000
#: Episodes of one part, at least: the protocol's 100-episode evaluation is always one part.
MIN_PART_EPISODES = 100


@dataclass(frozen=True)
class Evaluation:
    """Result of an evaluation: the returns' count, mean and standard deviation, and env steps.

    ``returns`` holds every episode's return when the evaluation was played in one part (None
    for a longer one, whose memory does not grow with its episodes).
    """

    episodes: int
    mean: float
    std: float
    env_steps: int
    returns: np.ndarray | None = None

    @classmethod
    def of(cls, returns: np.ndarray, env_steps: int) -> Evaluation:
        """The evaluation of these returns."""
        return cls(int(returns.size), float(returns.mean()), float(returns.std()), int(env_steps), returns)

    def combine(self, other: Evaluation) -> Evaluation:
        """Both evaluations as one (Chan, Golub and LeVeque's pairwise update of mean and variance)."""
        a, b = self, other
        n, mean, m2 = merge_moments(
            a.episodes, a.mean, a.std**2 * a.episodes, b.episodes, b.mean, b.std**2 * b.episodes
        )
        return Evaluation(int(n), mean, math.sqrt(m2 / n), self.env_steps + other.env_steps)

    def counts(self) -> dict[str, float | int]:
        """Everything but the returns: the fields of :meth:`from_counts` (a checkpoint's record)."""
        return {"episodes": self.episodes, "mean": self.mean, "std": self.std, "env_steps": self.env_steps}

    @classmethod
    def from_counts(cls, counts: dict[str, Any]) -> Evaluation:
        """The evaluation :meth:`counts` describes.

        Raises:
            KeyError, TypeError, ValueError: for a record without them.
        """
        episodes, steps = int(counts["episodes"]), int(counts["env_steps"])
        return cls(episodes, float(counts["mean"]), float(counts["std"]), steps)

    def as_dict(self) -> dict[str, float | int]:
        """The contract's JSON object: mean_return, std_return, episodes."""
        return {"mean_return": self.mean, "std_return": self.std, "episodes": self.episodes}


def evaluate_actor(
    actor: Actor,
    env_id: str,
    episodes: int,
    seed: int = 0,
    n_envs: int = 32,
    sampler: Sampler | None = None,
    env_options: EnvOptions | None = None,
) -> Evaluation:
    """Play ``episodes`` fresh episodes of the real environment with a deterministic ``actor``.

    Reset seeds come from :func:`~policysearch.seeding.evaluation_seeds`, disjoint from every
    seed used in training. With a ``sampler``, the episodes are spread over its workers (the
    same returns as in this process). Memory does not grow with ``episodes`` (see
    :func:`evaluation_parts`). ``env_options`` are the run's (its env kwargs, the preprocessing).

    Raises:
        ConfigError: for fewer than one episode.
        EnvError: if the environment fails or returns a non-finite reward.
    """
    check_range("episodes", episodes, 1)
    result = None
    for part in evaluation_parts(actor, env_id, episodes, seed, n_envs, sampler, env_options):
        result = part
    assert result is not None
    return result


def evaluation_parts(
    actor: Actor,
    env_id: str,
    episodes: int,
    seed: int = 0,
    n_envs: int = 32,
    sampler: Sampler | None = None,
    env_options: EnvOptions | None = None,
) -> Iterator[Evaluation]:
    """Evaluate in parts; yields the evaluation of all episodes played so far after each part.

    A part holds as many episodes as fit in :data:`PART_BYTES` and :data:`PART_STEPS`
    (:func:`part_episodes`), but no fewer than the envs stepped side by side and
    :data:`MIN_PART_EPISODES`.
    """
    part = part_episodes(env_id, episodes, n_envs, env_options)
    runner = make_runner(env_id, min(n_envs, episodes), env_options=env_options) if sampler is None else None
    play = runner.run if runner is not None else sampler.run  # type: ignore[union-attr]
    with nullcontext() if runner is None else closed_after(runner):
        total: Evaluation | None = None
        for first in range(0, episodes, part):
            n = min(part, episodes - first)
            seeds = evaluation_seeds(n, seed, first)
            sessions = play(actor, seeds, keep="returns")
            result = Evaluation.of(sessions.returns, sessions.env_steps)
            if not math.isfinite(result.mean):
                raise EnvError(f"environment {env_id!r} returned non-finite rewards in the evaluation")
            total = result if total is None else total.combine(result)
            yield total


def part_episodes(env_id: str, episodes: int, n_envs: int = 32, env_options: EnvOptions | None = None) -> int:
    """Episodes of one part of an evaluation of ``env_id`` (see :func:`evaluation_parts`).

    Memory: the evaluation keeps only returns: an env stepped as an object streams them, so an
    episode holds its outcome; the numpy dynamics of the classic-control tasks hold every step
    until the part ends (:data:`PART_BYTES`, and a quarter of the memory available). Time:
    :data:`PART_STEPS` at the env's episode limit. At least ``n_envs`` (so that every env slot
    has an episode to play), :data:`MIN_PART_EPISODES` (64 and more: what a vectorised runner
    steps at once), and at most :data:`PART_EPISODES`.
    """
    with probe_env(env_id, env_options) as env:
        limit = step_limit(env)
        if vector_dynamics(env) is None:
            per_episode = OUTCOME_BYTES
        else:
            per_episode = limit * step_bytes(env.observation_space, env.action_space, False)
    budget = PART_BYTES
    have = available_memory()
    if have is not None:
        budget = min(budget, have // 4)
    most = min(PART_EPISODES, budget // per_episode, PART_STEPS // limit)
    return min(episodes, max(n_envs, MIN_PART_EPISODES, most))
