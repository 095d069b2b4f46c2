"""CartPole sampled through Gymnasium's native numpy vector env, one session per seed.

Gymnasium's ``CartPoleVectorEnv`` steps all its envs with numpy at once, ten times faster than
stepping ``CartPoleEnv`` objects in turn. Its own autoreset would draw every new episode from one
shared generator; instead this runner starts each session itself, from the same state
``CartPoleEnv.reset(seed=s)`` draws (uniform on [-0.05, 0.05]^4 from ``default_rng(s)``), so a
session's seed decides it just as in :class:`~policysearch.sampling.runner.EnvRunner` (a test
checks that both give the same distribution, and the same start states).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ..policies.base import Actor, start_sessions
from .runner import NoiseStream, SeededRunner
from .session import Sessions

_PASSIVE_WRAPPERS = {"TimeLimit", "OrderEnforcing", "PassiveEnvChecker"}
_CARTPOLE = "gymnasium.envs.classic_control.cartpole.CartPoleEnv"


def cartpole_layout(env: gym.Env) -> tuple[int, tuple[int, ...] | None] | None:
    """The time limit and observed state indices of a plain CartPole, else None.

    Velocities may be hidden by :class:`~policysearch.envs.partial.HideVelocity`.
    """
    keep: tuple[int, ...] | None = None
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        name = type(layer).__name__
        if name == "HideVelocity":
            keep = tuple(getattr(layer, "keep"))  # noqa: B009
        elif name not in _PASSIVE_WRAPPERS:
            return None
        layer = layer.env
    base = env.unwrapped
    if f"{type(base).__module__}.{type(base).__qualname__}" != _CARTPOLE:
        return None
    if getattr(base, "_sutton_barto_reward", False) or env.spec is None or env.spec.max_episode_steps is None:
        return None
    return int(env.spec.max_episode_steps), keep


class CartPoleVectorRunner(SeededRunner):
    """Runs whole CartPole sessions on a native vector env of ``n_envs`` envs.

    Args:
        n_envs: envs stepped at once.
        max_steps: time limit of a session.
        keep: observed state indices (None: all four).
    """

    def __init__(self, n_envs: int, max_steps: int, keep: tuple[int, ...] | None = None) -> None:
        from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

        self.env: Any = CartPoleVectorEnv(num_envs=max(1, n_envs), max_episode_steps=max_steps)
        self.env.reset(seed=0)
        self.max_steps = max_steps
        self.keep = np.arange(4) if keep is None else np.asarray(keep)

    def close(self) -> None:
        """Close the vector env."""
        self.env.close()

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        first_index: int = 0,
    ) -> Sessions:
        """Run one session per reset seed, as :meth:`EnvRunner.run` does."""
        env, n, slots = self.env, len(reset_seeds), self.env.num_envs
        obs_buf = np.zeros((self.max_steps, n, self.keep.size), dtype=np.float32)
        act_buf = np.zeros((self.max_steps, n), dtype=np.int64)
        rew_buf = np.zeros((self.max_steps, n), dtype=np.float64)
        lengths = np.zeros(n, dtype=np.int64)
        terminated = np.zeros(n, dtype=bool)
        session = np.full(slots, -1, dtype=np.int64)  # session each slot plays, -1 when idle
        noise_buf = np.zeros((n, self.max_steps, actor.noise_dim)) if actor.noise_dim else None
        next_session = 0

        def start(slot_ids: np.ndarray) -> None:
            nonlocal next_session
            for slot in slot_ids:
                if next_session >= n:
                    session[slot] = -1
                    continue
                i = next_session
                next_session += 1
                session[slot] = i
                env.state[:, slot] = np.random.default_rng(int(reset_seeds[i])).uniform(-0.05, 0.05, 4)
                env.steps[slot] = 0
                env.prev_done[slot] = False
                if noise_buf is not None and noise_seeds is not None:
                    noise_buf[i] = NoiseStream(int(noise_seeds[i]), actor).take(self.max_steps)
            begun = session[slot_ids]
            begun = begun[begun >= 0]
            if begun.size:
                start_sessions(actor, first_index + begun)

        start(np.arange(slots))
        while True:
            active = np.flatnonzero(session >= 0)
            if not active.size:
                break
            ids = session[active]
            obs = env.state[self.keep][:, active].T.astype(np.float32)
            t = lengths[ids]
            noise = None if noise_buf is None else noise_buf[ids, t]
            actions = np.asarray(actor.act(obs, first_index + ids, noise), dtype=np.int64)
            obs_buf[t, ids] = obs
            act_buf[t, ids] = actions
            full = np.zeros(slots, dtype=np.int64)
            full[active] = actions
            _, reward, term, trunc, _ = env.step(full)
            rew_buf[t, ids] = reward[active]
            lengths[ids] = t + 1
            done = term[active] | trunc[active]
            terminated[ids[done]] = term[active][done]
            start(active[done])
        horizon = int(lengths.max()) if n else 0
        return Sessions(
            obs_buf[:horizon], act_buf[:horizon], rew_buf[:horizon], lengths, terminated, ~terminated
        )
