"""Sampling by stepping real Gymnasium environments, many at once, with batched actions.

Each session ``i`` of a request has its own reset seed and its own stream of action noise (keyed
by its noise seed, :mod:`policysearch.seeding`), both drawn from the request's generator, so the
sessions (and so the results) do not depend on how many environments or workers share the work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from ..errors import EnvError
from ..policies.base import Actor, start_sessions
from ..seeding import request_seeds, stream_keys, stream_normal, stream_uniform
from .session import Sessions


def step_noise(
    actor: Actor, keys: np.ndarray | None, sessions: np.ndarray, steps: np.ndarray
) -> np.ndarray | None:
    """The random numbers of ``sessions`` at their step ``steps``: ``(B, noise_dim)``, or None.

    ``keys`` are the noise streams of all the request's sessions
    (:func:`~policysearch.seeding.stream_keys` of their noise seeds); None, or an actor that needs
    no noise, gives None.
    """
    if keys is None or not actor.noise_dim:
        return None
    draw = stream_normal if actor.noise_kind == "normal" else stream_uniform
    return draw(keys[sessions], steps, actor.noise_dim)


class SeededRunner(ABC):
    """A runner of whole sessions, each with its own reset and noise seed (the shape workers hold)."""

    def sample(self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0) -> Sessions:
        """Run ``n`` sessions, reset and noise seeds drawn from ``rng`` (see request_seeds)."""
        return self.run(actor, *request_seeds(rng, n, common))

    @abstractmethod
    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        first_index: int = 0,
    ) -> Sessions:
        """One session per reset seed; the actor sees indices from ``first_index``."""

    @abstractmethod
    def close(self) -> None:
        """Release the environments."""

    def start_state(self, reset_seed: int) -> np.ndarray | None:
        """The env's ``state`` for a session with this reset seed, where the runner chooses it.

        None: the session starts where ``env.reset(seed=reset_seed)`` puts the env.
        """
        return None


class EnvRunner(SeededRunner):
    """Runs whole sessions on ``n_envs`` environments, stepping them in turn and acting in batches.

    Args:
        env_fn: makes one environment (called ``n_envs`` times; never pickled live).
        n_envs: environments stepped side by side.
        env_id: the id used in error messages.
    """

    def __init__(self, env_fn: Callable[[], gym.Env], n_envs: int, env_id: str = "") -> None:
        self.envs = [env_fn() for _ in range(max(1, n_envs))]
        self.env_id = env_id or str(self.envs[0].spec.id if self.envs[0].spec else "env")
        self.observation_space = self.envs[0].observation_space

    def close(self) -> None:
        """Close every environment.

        Raises:
            EnvError: if an environment raises in ``close``.
        """
        failure = None
        for env in self.envs:
            try:
                env.close()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise EnvError(
                f"environment {self.env_id!r} raised in close: {type(failure).__name__}: {failure}"
            ) from failure

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        first_index: int = 0,
    ) -> Sessions:
        """Run one session per reset seed; session ``i`` resets with ``reset_seeds[i]``.

        ``first_index`` is the index the actor sees for session 0 (a worker running part of a
        request passes where its part starts).

        Raises:
            EnvError: if the environment raises in ``reset`` or ``step``, answers in another shape
                than Gymnasium's, or returns an observation outside its observation space (wrong
                shape or type, not finite, a Discrete index out of range) or a non-finite reward.
        """
        n = len(reset_seeds)
        records: list[tuple[list[Any], list[Any], list[float], bool]] = [([], [], [], False)] * n
        slots = len(self.envs)
        current = [-1] * slots  # session index each env is playing, -1 when idle
        obs: list[Any] = [None] * slots
        keys = None if noise_seeds is None else stream_keys(noise_seeds)
        next_session = 0

        def start(slot: int) -> None:
            nonlocal next_session
            i = next_session
            next_session += 1
            current[slot] = i
            try:
                result = self.envs[slot].reset(seed=int(reset_seeds[i]))
            except Exception as exc:
                raise EnvError(
                    f"environment {self.env_id!r} raised in reset of session {first_index + i}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not (isinstance(result, tuple) and len(result) == 2):
                raise EnvError(
                    f"environment {self.env_id!r}: reset returned {_shape_of(result)}, not the "
                    f"pair (observation, info) of Gymnasium's API"
                )
            obs[slot] = result[0]
            start_sessions(actor, np.array([first_index + i]))
            records[i] = ([], [], [], False)

        for slot in range(min(slots, n)):
            start(slot)
        while True:
            active = [s for s in range(slots) if current[s] >= 0]
            if not active:
                break
            ids = np.array([current[s] for s in active], dtype=np.int64)
            steps = np.array([len(records[i][1]) for i in ids], dtype=np.int64)
            batch = self._observations([obs[s] for s in active], first_index + ids, steps)
            draws = step_noise(actor, keys, ids, steps)
            actions = np.asarray(actor.act(batch, first_index + ids, draws))
            for j, slot in enumerate(active):
                i = current[slot]
                action = actions[j]
                observations, acts, rewards, _ = records[i]
                observations.append(obs[slot])
                acts.append(action)
                try:
                    env_action = action.item() if action.ndim == 0 else action
                    result = self.envs[slot].step(env_action)
                except Exception as exc:
                    raise EnvError(
                        f"environment {self.env_id!r} raised in step {len(acts)} of session "
                        f"{first_index + i}: {type(exc).__name__}: {exc}"
                    ) from exc
                try:
                    obs[slot], reward, term, trunc, _ = result
                    reward = float(reward)
                except (TypeError, ValueError):
                    raise EnvError(
                        f"environment {self.env_id!r}: step {len(acts)} of session {first_index + i} "
                        f"returned {_shape_of(result)}, not (observation, reward, terminated, "
                        f"truncated, info) of Gymnasium's API with a numeric reward"
                    ) from None
                rewards.append(reward)
                if term or trunc:
                    records[i] = (observations, acts, rewards, bool(term))
                    current[slot] = -1
                    if next_session < n:
                        start(slot)
        sessions = _pad(records)
        finite = np.isfinite(sessions.rewards)
        if not finite.all():
            t, i = np.argwhere(~finite)[0]
            raise EnvError(
                f"environment {self.env_id!r} returned a non-finite reward "
                f"({sessions.rewards[t, i]}) at step {t + 1} of session {first_index + i}"
            )
        return sessions

    def _observations(self, observations: list[Any], sessions: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """The batch of observations, checked against the observation space in one pass.

        Raises:
            EnvError: naming the session and the call (``reset``, or step ``t``) that returned the
                first observation that does not belong to the space.
        """
        space = self.observation_space
        try:
            batch = np.stack([np.asarray(o) for o in observations])
        except ValueError:  # not all of one shape: report the first that is not the space's
            batch = None
        problem = _observation_problem(space, batch) if batch is not None else "shape"
        if problem is None:
            return batch  # type: ignore[return-value]
        for j, o in enumerate(observations):
            single = np.asarray(o)[None]
            if _observation_problem(space, single) is not None:
                where = "reset" if steps[j] == 0 else f"step {steps[j]}"
                raise EnvError(
                    f"environment {self.env_id!r}: {where} of session {sessions[j]} returned "
                    f"{_describe(np.asarray(o), space)}"
                )
        raise EnvError(f"environment {self.env_id!r} returned observations outside {space}")


def _observation_problem(space: gym.Space[Any], batch: np.ndarray) -> str | None:
    """What is wrong with a batch of observations of ``space`` (None if nothing), vectorised."""
    if isinstance(space, gym.spaces.Box | gym.spaces.Discrete) and batch.shape[1:] != space.shape:
        return "shape"
    if isinstance(space, gym.spaces.Discrete):
        if batch.dtype.kind not in "iu":
            return "type"
        low = int(space.start)
        if not ((batch >= low) & (batch < low + int(space.n))).all():
            return "range"
    elif isinstance(space, gym.spaces.Box):
        if batch.dtype.kind not in "fiub":
            return "type"
        if batch.dtype.kind == "f" and not np.isfinite(batch).all():
            return "finite"
    return None


def _describe(obs: np.ndarray, space: gym.Space[Any]) -> str:
    """The user's words for what is wrong with one observation of ``space``."""
    problem = _observation_problem(space, obs[None])
    value = obs.tolist() if obs.dtype != object else obs
    if problem == "shape":
        return f"an observation of shape {obs.shape}, where its space {space} has shape {space.shape}"
    if problem == "type":
        return f"an observation of type {obs.dtype} ({value!r}), not a member of its space {space}"
    if problem == "range":
        return f"observation {value!r}, outside its space {space}"
    return f"a non-finite observation {value!r}"


def _shape_of(result: Any) -> str:
    """What an env's call returned, in a few words."""
    if isinstance(result, tuple):
        return f"a tuple of {len(result)}"
    return f"a {type(result).__name__}"


def _pad(records: list[tuple[list[Any], list[Any], list[float], bool]]) -> Sessions:
    n = len(records)
    lengths = np.array([len(r[2]) for r in records], dtype=np.int64)
    horizon = int(lengths.max()) if n else 0
    first_obs = np.asarray(records[0][0][0]) if n and horizon else np.zeros(())
    first_act = np.asarray(records[0][1][0]) if n and horizon else np.zeros(())
    obs = np.zeros((horizon, n, *first_obs.shape), dtype=first_obs.dtype)
    actions = np.zeros((horizon, n, *first_act.shape), dtype=first_act.dtype)
    rewards = np.zeros((horizon, n), dtype=np.float64)
    for i, (o, a, r, _) in enumerate(records):
        length = len(r)
        if length:
            obs[:length, i] = np.asarray(o)
            actions[:length, i] = np.asarray(a)
            rewards[:length, i] = r
    terminated = np.array([r[3] for r in records], dtype=bool)
    return Sessions(obs, actions, rewards, lengths, terminated, ~terminated)
