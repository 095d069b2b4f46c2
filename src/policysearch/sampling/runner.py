"""Sampling by stepping real Gymnasium environments, many at once, with batched actions.

Each session ``i`` of a request has its own reset seed and its own stream of action noise (keyed
by its noise seed, :mod:`policysearch.seeding`), both drawn from the request's generator, so the
sessions (and so the results) do not depend on how many environments or workers share the work.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, NoReturn

import gymnasium as gym
import numpy as np

from ..envs.make import close_env
from ..errors import ENV_FAULTS, EnvError, described
from ..policies.base import Actor, start_sessions
from ..seeding import request_seeds, stream_keys, stream_normal, stream_uniform
from .session import Keep, Outcomes, Sessions


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

    #: Sessions this runner has played to their end, and env steps it has played, over all its
    #: calls: another thread reads them for progress lines while a call runs
    #: (:meth:`ShardedSampler.progress`).
    finished = stepped = 0

    def sample(
        self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0, keep: Keep = "steps"
    ) -> Sessions:
        """Run ``n`` sessions, reset and noise seeds drawn from ``rng`` (see request_seeds)."""
        return self.run(actor, *request_seeds(rng, n, common), keep=keep)

    @abstractmethod
    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        first_index: int = 0,
        keep: Keep = "steps",
    ) -> Sessions:
        """One session per reset seed; the actor sees indices from ``first_index``.

        ``keep``: what is kept of each session (:data:`~policysearch.sampling.session.Keep`).
        """

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
        for env in self.envs:  # every env, then the first failure
            try:
                close_env(env, self.env_id)
            except EnvError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        first_index: int = 0,
        keep: Keep = "steps",
    ) -> Sessions:
        """Run one session per reset seed; session ``i`` resets with ``reset_seeds[i]``.

        ``first_index`` is the index the actor sees for session 0 (a worker running part of a
        request passes where its part starts). ``keep`` says what is kept of each session
        (:data:`~policysearch.sampling.session.Keep`): only with ``steps`` are the steps held,
        so that otherwise memory does not grow with the length of an episode (the return and the
        observation statistics are accumulated step by step).

        Raises:
            EnvError: if the environment raises in ``reset`` or ``step``, answers in another shape
                than Gymnasium's, or returns an observation outside its observation space (wrong
                shape or type, not finite, a Discrete index out of range) or a non-finite reward.
        """
        n = len(reset_seeds)
        records: list[_Record] = []
        slots = len(self.envs)
        current = [-1] * slots  # session index each env is playing, -1 when idle
        obs: list[Any] = [None] * slots
        keys = None if noise_seeds is None else stream_keys(noise_seeds)

        def start(slot: int) -> None:
            i = len(records)
            current[slot] = i
            try:
                result = self.envs[slot].reset(seed=int(reset_seeds[i]))
            except ENV_FAULTS as exc:
                raise env_raised(self.env_id, "reset", first_index + i, exc) from exc
            if not (isinstance(result, tuple) and len(result) == 2):
                raise EnvError(
                    f"environment {self.env_id!r}: reset returned {_shape_of(result)}, not the "
                    f"pair (observation, info) of Gymnasium's API"
                )
            obs[slot] = result[0]
            start_sessions(actor, np.array([first_index + i]))
            records.append(_Record(keep))

        for slot in range(min(slots, n)):
            start(slot)
        while True:
            active = [s for s in range(slots) if current[s] >= 0]
            if not active:
                break
            ids = np.array([current[s] for s in active], dtype=np.int64)
            steps = np.array([records[i].length for i in ids], dtype=np.int64)
            batch = self._observations([obs[s] for s in active], first_index + ids, steps)
            draws = step_noise(actor, keys, ids, steps)
            actions = np.asarray(actor.act(batch, first_index + ids, draws))
            self.stepped += len(active)
            for j, slot in enumerate(active):
                i = current[slot]
                record, action = records[i], actions[j]
                t = record.length + 1
                try:
                    env_action = action.item() if action.ndim == 0 else action
                    result = self.envs[slot].step(env_action)
                except ENV_FAULTS as exc:
                    raise env_raised(self.env_id, f"step {t}", first_index + i, exc) from exc
                try:
                    next_obs, reward, term, trunc, _ = result
                    reward = float(reward)
                except (TypeError, ValueError):
                    raise EnvError(
                        f"environment {self.env_id!r}: step {t} of session {first_index + i} "
                        f"returned {_shape_of(result)}, not (observation, reward, terminated, "
                        f"truncated, info) of Gymnasium's API with a numeric reward"
                    ) from None
                if not math.isfinite(reward):
                    raise non_finite_reward(self.env_id, reward, t, first_index + i)
                record.add(obs[slot], action, reward)
                obs[slot] = next_obs
                if term or trunc:
                    record.terminated = bool(term)
                    current[slot] = -1
                    self.finished += 1
                    if len(records) < n:
                        start(slot)
        return _collect(records, keep, self.observation_space)

    def _observations(self, observations: list[Any], sessions: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """The batch of observations, checked against the observation space in one pass.

        Raises:
            EnvError: naming the session and the call (``reset``, or step ``t``) that returned the
                first observation that does not belong to the space.
        """
        try:
            batch = np.stack([np.asarray(o) for o in observations])
        except ValueError:  # not all of one shape: report the first that is not the space's
            self._first_outside(observations, sessions, steps)
        self.check_observations(batch, sessions, steps)
        return batch

    def check_observations(self, batch: np.ndarray, sessions: np.ndarray, steps: np.ndarray) -> None:
        """Check a batch of observations against the observation space in one pass.

        ``steps[j]``: the steps session ``sessions[j]`` had played when it got ``batch[j]`` (0: at
        its reset).

        Raises:
            EnvError: naming the session and the call (``reset``, or step ``t``) that returned the
                first observation that does not belong to the space.
        """
        if _observation_problem(self.observation_space, batch) is not None:
            self._first_outside(batch, sessions, steps)

    def _first_outside(self, observations: Any, sessions: np.ndarray, steps: np.ndarray) -> NoReturn:
        """Raise the EnvError of the first observation outside the space."""
        space = self.observation_space
        for j, o in enumerate(observations):
            single = np.asarray(o)[None]
            if _observation_problem(space, single) is not None:
                where = "reset" if steps[j] == 0 else f"step {steps[j]}"
                raise EnvError(
                    f"environment {self.env_id!r}: {where} of session {sessions[j]} returned "
                    f"{_describe(np.asarray(o), space)}"
                )
        raise EnvError(f"environment {self.env_id!r} returned observations outside {space}")


def env_raised(env_id: str, call: str, session: int, exc: BaseException) -> EnvError:
    """The error of an env that raised in ``call`` (``reset``, ``step 5``) of a session."""
    return EnvError(f"environment {env_id!r} raised in {call} of session {session}: {described(exc)}")


def non_finite_reward(env_id: str, reward: float, step: int, session: int) -> EnvError:
    """The error of an env whose step ``step`` of a session returned a non-finite reward."""
    return EnvError(
        f"environment {env_id!r} returned a non-finite reward ({reward}) at step {step} of session {session}"
    )


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


class _Record:
    """One session as it is played: its steps if they are kept, else what is kept of them.

    The return is added up step by step, in order (as :func:`~.session.sequential_sum`), and
    the observation statistics (``stats``) by Welford's update, so that nothing grows with
    the session's length unless the steps are kept.
    """

    def __init__(self, keep: Keep) -> None:
        self.keep = keep
        self.observations: list[Any] = []
        self.actions: list[Any] = []
        self.rewards: list[float] = []
        self.length = 0
        self.total = 0.0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.terminated = False

    def add(self, observation: np.ndarray, action: np.ndarray, reward: float) -> None:
        """One step: the observation the action was taken in, the action and its reward."""
        self.length += 1
        self.total += reward
        if self.keep == "steps":
            self.observations.append(observation)
            self.actions.append(action)
            self.rewards.append(reward)
        elif self.keep == "stats":
            x = np.asarray(observation, dtype=np.float64).ravel()
            if self.mean is None or self.m2 is None:
                self.mean, self.m2 = x.copy(), np.zeros_like(x)
            else:
                delta = x - self.mean
                self.mean += delta / self.length
                self.m2 += delta * (x - self.mean)


def _collect(records: list[_Record], keep: Keep, space: gym.Space[Any]) -> Sessions:
    """The played sessions as :class:`Sessions`: padded steps, or their outcomes only."""
    if keep == "steps":
        return _pad(records)
    n = len(records)
    lengths = np.array([r.length for r in records], dtype=np.int64)
    terminated = np.array([r.terminated for r in records], dtype=bool)
    dim = int(np.prod(space.shape or (), dtype=np.int64)) if keep == "stats" else 0
    mean, m2 = np.zeros((n, dim)), np.zeros((n, dim))
    for i, r in enumerate(records):
        if dim and r.mean is not None and r.m2 is not None:
            mean[i], m2[i] = r.mean, r.m2
    returns = np.array([r.total for r in records], dtype=np.float64)
    empty = np.zeros((0, n))
    return Sessions(
        empty, empty, empty, lengths, terminated, ~terminated, Outcomes(returns, lengths.copy(), mean, m2)
    )


def _pad(records: list[_Record]) -> Sessions:
    n = len(records)
    lengths = np.array([r.length for r in records], dtype=np.int64)
    horizon = int(lengths.max()) if n else 0
    first_obs = np.asarray(records[0].observations[0]) if n and horizon else np.zeros(())
    first_act = np.asarray(records[0].actions[0]) if n and horizon else np.zeros(())
    obs = np.zeros((horizon, n, *first_obs.shape), dtype=first_obs.dtype)
    actions = np.zeros((horizon, n, *first_act.shape), dtype=first_act.dtype)
    rewards = np.zeros((horizon, n), dtype=np.float64)
    for i, r in enumerate(records):
        if r.length:
            obs[: r.length, i] = np.asarray(r.observations)
            actions[: r.length, i] = np.asarray(r.actions)
            rewards[: r.length, i] = r.rewards
    terminated = np.array([r.terminated for r in records], dtype=bool)
    return Sessions(obs, actions, rewards, lengths, terminated, ~terminated)
