"""The evaluation protocol: the deterministic policy over fresh episodes with held-out seeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .policies.base import Actor
from .sampling import Sampler, make_runner
from .seeding import evaluation_seeds


@dataclass(frozen=True)
class Evaluation:
    """Result of an evaluation."""

    returns: np.ndarray
    env_steps: int

    @property
    def mean(self) -> float:
        """Mean return."""
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        """Standard deviation of the returns."""
        return float(self.returns.std())

    def as_dict(self) -> dict[str, float | int]:
        """The contract's JSON object: mean_return, std_return, episodes."""
        return {
            "mean_return": self.mean,
            "std_return": self.std,
            "episodes": int(self.returns.size),
        }


def evaluate_actor(
    actor: Actor,
    env_id: str,
    episodes: int,
    seed: int = 0,
    n_envs: int = 32,
    sampler: Sampler | None = None,
) -> Evaluation:
    """Play ``episodes`` fresh episodes of the real environment with a deterministic ``actor``.

    Reset seeds come from :func:`~policysearch.seeding.evaluation_seeds`, disjoint from every
    seed used in training. With a ``sampler``, the episodes are spread over its workers (the
    same returns as in this process).
    """
    if sampler is not None:
        sessions = sampler.run(actor, evaluation_seeds(episodes, seed))
        return Evaluation(sessions.returns, sessions.env_steps)
    runner = make_runner(env_id, min(n_envs, episodes))
    try:
        sessions = runner.run(actor, evaluation_seeds(episodes, seed))
    finally:
        runner.close()
    return Evaluation(sessions.returns, sessions.env_steps)
