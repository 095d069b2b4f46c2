"""Vectorised sampling of tabular (toy-text) MDPs from their own transition tables.

Gymnasium's FrozenLake, CliffWalking and Taxi step by drawing from ``env.unwrapped.P[s][a]``, a
list of ``(probability, next_state, reward, terminated)``, and reset by drawing from
``initial_state_distrib``. :class:`TabularModel` copies those tables into arrays and steps all
sessions of a batch at once with numpy, which draws from exactly the same distribution as the
environment (a test compares the two) at many times the speed of stepping it in Python.

Only environments known to step exactly from ``P`` are accepted (Taxi's ``fickle_passenger``
option, for one, changes the destination outside ``P``); any other env uses the env runner.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ..envs.make import only_passive_wrappers
from ..policies.base import Actor, start_sessions
from .session import Sessions

_EXACT_P_ENVS = {
    "gymnasium.envs.toy_text.frozen_lake.FrozenLakeEnv",
    "gymnasium.envs.toy_text.cliffwalking.CliffWalkingEnv",
    "gymnasium.envs.toy_text.taxi.TaxiEnv",
}


class TabularModel:
    """Transition tables of a tabular MDP, stepped for many sessions at once.

    Args:
        P: ``P[s][a]`` lists of ``(probability, next_state, reward, terminated)``.
        initial: initial state distribution, ``(n_states,)``.
        max_steps: episode time limit (sessions reaching it are truncated).
    """

    def __init__(self, P: Any, initial: np.ndarray, max_steps: int) -> None:
        n_states, n_actions = len(P), len(P[0])
        width = max(len(P[s][a]) for s in range(n_states) for a in range(n_actions))
        shape = (n_states, n_actions, width)
        self.next_state = np.zeros(shape, dtype=np.int64)
        self.cum_prob = np.ones(shape, dtype=np.float64)
        self.reward = np.zeros(shape, dtype=np.float64)
        self.terminal = np.zeros(shape, dtype=bool)
        for s in range(n_states):
            for a in range(n_actions):
                outcomes = P[s][a]
                probs = np.array([o[0] for o in outcomes], dtype=np.float64)
                for k, (_, ns, r, term) in enumerate(outcomes):
                    self.next_state[s, a, k] = ns
                    self.reward[s, a, k] = r
                    self.terminal[s, a, k] = term
                # Pad with copies of the last outcome, whose cumulative probability is 1.
                self.next_state[s, a, len(outcomes) :] = self.next_state[s, a, len(outcomes) - 1]
                self.reward[s, a, len(outcomes) :] = self.reward[s, a, len(outcomes) - 1]
                self.terminal[s, a, len(outcomes) :] = self.terminal[s, a, len(outcomes) - 1]
                self.cum_prob[s, a, : len(outcomes)] = np.cumsum(probs) / probs.sum()
        self.cum_prob[..., -1] = 1.0
        self.stochastic = width > 1
        self.initial_cdf = np.cumsum(np.asarray(initial, dtype=np.float64))
        self.initial_cdf /= self.initial_cdf[-1]
        self.n_states, self.n_actions, self.max_steps = n_states, n_actions, int(max_steps)

    @classmethod
    def from_env(cls, env: gym.Env) -> TabularModel | None:
        """The model of ``env`` if it is known to step exactly from its tables, else None."""
        if not only_passive_wrappers(env):
            return None
        base: Any = env.unwrapped
        name = f"{type(base).__module__}.{type(base).__qualname__}"
        if name not in _EXACT_P_ENVS or getattr(base, "fickle_passenger", False):
            return None
        if env.spec is None or env.spec.max_episode_steps is None:
            return None
        return cls(base.P, base.initial_state_distrib, env.spec.max_episode_steps)

    def sample(self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0) -> Sessions:
        """Run ``n`` sessions of ``actor`` to their end (terminal state or time limit).

        With ``common`` > 0, session ``i`` starts in the same state as session ``i % common``.
        """
        horizon = self.max_steps
        obs = np.zeros((horizon, n), dtype=np.int64)
        actions = np.zeros((horizon, n), dtype=np.int64)
        rewards = np.zeros((horizon, n), dtype=np.float64)
        lengths = np.full(n, horizon, dtype=np.int64)
        terminated = np.zeros(n, dtype=bool)
        starts = np.tile(rng.random(common), -(-n // common))[:n] if common > 0 else rng.random(n)
        state = np.searchsorted(self.initial_cdf, starts, side="right")
        live = np.arange(n)
        start_sessions(actor, live)
        t = 0
        while live.size and t < horizon:
            s = state[live]
            noise = _draw(rng, actor, live.size)
            a = np.asarray(actor.act(s, live, noise), dtype=np.int64)
            if self.stochastic:
                u = rng.random(live.size)
                k = (u[:, None] >= self.cum_prob[s, a]).sum(axis=1)
                np.minimum(k, self.cum_prob.shape[2] - 1, out=k)
            else:
                k = np.zeros(live.size, dtype=np.int64)
            obs[t, live], actions[t, live] = s, a
            rewards[t, live] = self.reward[s, a, k]
            state[live] = self.next_state[s, a, k]
            done = self.terminal[s, a, k]
            ended = live[done]
            terminated[ended] = True
            lengths[ended] = t + 1
            live = live[~done]
            t += 1
        used = int(lengths.max()) if n else 0
        return Sessions(
            observations=obs[:used],
            actions=actions[:used],
            rewards=rewards[:used],
            lengths=lengths,
            terminated=terminated,
            truncated=~terminated,
        )


def _draw(rng: np.random.Generator, actor: Actor, count: int) -> np.ndarray | None:
    if actor.noise_dim == 0:
        return None
    if actor.noise_kind == "normal":
        return rng.standard_normal((count, actor.noise_dim))
    return rng.random((count, actor.noise_dim))
