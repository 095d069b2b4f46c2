"""The evaluation protocol: the deterministic policy over fresh episodes with held-out seeds.

A long evaluation is played in parts small enough for memory (:func:`evaluation_parts`), so that
its memory does not grow with the number of episodes; the mean and standard deviation of the
parts are combined exactly as those of one batch would be (to rounding).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..config import check_range
from ..envs import EnvOptions, make_env, step_limit
from ..errors import EnvError
from ..policies.base import Actor
from ..policies.normalizer import merge_moments
from ..sampling import Sampler, make_runner, vector_dynamics
from ..seeding import evaluation_seeds
from .guards import OUTCOME_BYTES, available_memory, step_bytes

#: Memory one part of an evaluation may hold (its sessions' arrays), at most.
PART_BYTES = 256 * 10**6
#: Episodes of one part, at most.
PART_EPISODES = 100_000


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

    A part holds as many episodes as fit in :data:`PART_BYTES` (:func:`part_episodes`: at the
    env's time limit where steps are held; at most :data:`PART_EPISODES`, and a quarter of the
    memory available), but no fewer than the envs stepped side by side; the trainer's
    evaluations (100 or 1000 episodes) are one part.
    """
    part = part_episodes(env_id, episodes, n_envs, env_options)
    runner = make_runner(env_id, min(n_envs, episodes), env_options=env_options) if sampler is None else None
    play = runner.run if runner is not None else sampler.run  # type: ignore[union-attr]
    try:
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
    finally:
        if runner is not None:
            runner.close()


def part_episodes(env_id: str, episodes: int, n_envs: int = 32, env_options: EnvOptions | None = None) -> int:
    """Episodes of one part of an evaluation of ``env_id`` (see :func:`evaluation_parts`).

    The evaluation keeps only returns: an env stepped as an object streams them, so an episode
    holds its outcome; the numpy dynamics of the classic-control tasks hold every step until the
    part ends. At least ``n_envs`` (and 64, what a vectorised runner steps at once), so that
    every env slot has an episode to play.
    """
    env = make_env(env_id, options=env_options)
    try:
        if vector_dynamics(env) is None:
            per_episode = OUTCOME_BYTES
        else:
            per_episode = step_limit(env) * step_bytes(env.observation_space, env.action_space, False)
    finally:
        env.close()
    budget = PART_BYTES
    have = available_memory()
    if have is not None:
        budget = min(budget, have // 4)
    return min(episodes, max(n_envs, 64, min(PART_EPISODES, budget // per_episode)))
