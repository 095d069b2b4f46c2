"""Gymnasium's MuJoCo locomotion tasks stepped around their per-step Python, with their own numbers.

A v5 locomotion env spends 10-25 µs of Python per step around ``mujoco.mj_step`` (the info dict,
the health test computed twice, the wrappers): a fifth of Hopper's step, the gap between the
sampler and the physics. :class:`LocomotionRunner` holds one env per slot and resets each
through the env itself (``env.reset(seed=...)``: the env's own start states), then steps the
slots with ``mj_step`` directly and computes every stepped slot's observation, reward and
termination at once, with the env's own arithmetic, in the env's order, on the parameters read
from the env instance (so ``--env-kwargs`` hold). The numbers are the env's, bit for bit: tests
play whole episodes both ways and compare every observation, reward and ending.

:func:`locomotion_task` recognises the tasks: the exact v5 classes of Swimmer, Hopper,
HalfCheetah, Walker2d, Ant and Humanoid, behind passive wrappers only, with no render mode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from ..envs.make import only_passive_wrappers, wrappers
from ..errors import ENV_FAULTS
from ..policies.base import Actor, start_sessions
from ..seeding import stream_keys
from .runner import EnvRunner, env_raised, non_finite_reward, step_noise
from .session import Keep, Outcomes, Sessions

_MUJOCO = "gymnasium.envs.mujoco"


class Locomotion(ABC):
    """One v5 locomotion task over ``n`` env instances: their physics stepped directly.

    A subclass names the data it reads after a step (:attr:`fields`), where the body is
    (:meth:`position`, read before and after the step) and how the step's observation, reward
    and termination follow (:meth:`outcome`), each exactly as its env's ``step`` computes them.
    """

    #: The env class, ``module.qualname``.
    env_class: ClassVar[str] = ""
    #: Fields of ``MjData`` the outcome reads, copied per slot after every step.
    fields: ClassVar[tuple[str, ...]] = ("qpos", "qvel")
    #: Whether the outcome reads contact forces (``cfrc_ext``): then ``mj_rnePostConstraint``
    #: runs after the step, as the env's does (it only derives forces, it changes no state).
    contact_forces: ClassVar[bool] = False

    def __init__(self, envs: list[gym.Env]) -> None:
        import mujoco

        self.mj_step, self.mj_rne_post_constraint = mujoco.mj_step, mujoco.mj_rnePostConstraint
        self.bases: list[Any] = [env.unwrapped for env in envs]
        base = self.bases[0]
        self.env = base  # the parameters (all slots were made alike)
        self.frame_skip = base.frame_skip  # as the env passes it to mj_step
        self.dt = base.dt
        self.data = {f: np.zeros((len(envs), *np.shape(getattr(base.data, f)))) for f in self.fields}
        #: The place in the step's slots of the slot being stepped.
        self.stepping = 0

    def position(self, base: Any) -> Any:
        """Where the env measures progress from (``qpos[0]``)."""
        return base.data.qpos[0]

    def step(self, slots: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Step ``slots`` with these actions: their observations, rewards and terminations.

        Raises:
            ValueError: as the env's ``do_simulation``, for actions of another shape than the
                model's controls.
        """
        self.stepping = 0
        if actions.shape[1:] != (self.env.model.nu,):
            raise ValueError(
                f"Action dimension mismatch. Expected {(self.env.model.nu,)}, found {actions.shape[1:]}"
            )
        actions = np.ascontiguousarray(actions)  # a row's sum of squares as the env adds it (pairwise)
        before = np.array([self.position(self.bases[s]) for s in slots])
        after = []
        for j, (s, action) in enumerate(zip(slots.tolist(), actions, strict=True)):
            self.stepping = j  # which slot raised, if one does
            base = self.bases[s]
            data = base.data
            data.ctrl[:] = action
            self.mj_step(base.model, data, nstep=self.frame_skip)
            if self.contact_forces:
                self.mj_rne_post_constraint(base.model, data)
            after.append(self.position(base))
            for field, rows in self.data.items():
                rows[s] = getattr(data, field)
        self.stepping = 0  # the outcome is computed for all slots at once: the first is named
        velocity = (np.array(after) - before) / self.dt
        return self.outcome({f: rows[slots] for f, rows in self.data.items()}, velocity, actions)

    @abstractmethod
    def outcome(
        self, data: dict[str, np.ndarray], velocity: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations, rewards and terminations of a step from the slots' data after it."""

    def control_cost(self, actions: np.ndarray) -> np.ndarray:
        """``ctrl_cost_weight * sum(action ** 2)`` per slot, in the actions' own dtype."""
        return self.env._ctrl_cost_weight * np.sum(np.square(actions), axis=1)


class _Upright(Locomotion):
    """Hopper and Walker2d: forward along x, a health test on height and angle, clipped velocities."""

    def healthy(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Height and angle strictly inside their ranges."""
        env = self.env
        (min_z, max_z), (min_angle, max_angle) = env._healthy_z_range, env._healthy_angle_range
        z, angle = qpos[:, 1], qpos[:, 2]
        return (min_z < z) & (z < max_z) & (min_angle < angle) & (angle < max_angle)

    def outcome(
        self, data: dict[str, np.ndarray], velocity: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As the env computes them."""
        env, qpos, qvel = self.env, data["qpos"], data["qvel"]
        position = qpos[:, 1:] if env._exclude_current_positions_from_observation else qpos
        observation = np.concatenate((position, np.clip(qvel, -10, 10)), axis=1)
        healthy = self.healthy(qpos, qvel)
        rewards = env._forward_reward_weight * velocity + healthy * env._healthy_reward
        reward = rewards - self.control_cost(actions)
        return observation, reward, ~healthy & bool(env._terminate_when_unhealthy)


class Hopper(_Upright):
    """Hopper-v5 (``HopperEnv.step``): its health test also bounds every other state entry."""

    env_class = f"{_MUJOCO}.hopper_v5.HopperEnv"

    def healthy(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Height and angle in range, and every state entry past the first two."""
        min_state, max_state = self.env._healthy_state_range
        state = np.concatenate((qpos, qvel), axis=1)[:, 2:]
        inside = np.all((min_state < state) & (state < max_state), axis=1)
        return inside & super().healthy(qpos, qvel)


class Walker2d(_Upright):
    """Walker2d-v5 (``Walker2dEnv.step``)."""

    env_class = f"{_MUJOCO}.walker2d_v5.Walker2dEnv"


class _Unending(Locomotion):
    """HalfCheetah and Swimmer: forward along x, no health test, no ending."""

    #: Position entries an observation leaves out (``exclude_current_positions_from_observation``).
    excluded: ClassVar[int] = 1

    def outcome(
        self, data: dict[str, np.ndarray], velocity: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As the env computes them."""
        env, qpos = self.env, data["qpos"]
        position = qpos[:, self.excluded :] if env._exclude_current_positions_from_observation else qpos
        observation = np.concatenate((position, data["qvel"]), axis=1)
        forward = velocity if velocity.ndim == 1 else velocity[:, 0]
        reward = env._forward_reward_weight * forward - self.control_cost(actions)
        return observation, reward, np.zeros(len(qpos), dtype=bool)


class HalfCheetah(_Unending):
    """HalfCheetah-v5 (``HalfCheetahEnv.step``)."""

    env_class = f"{_MUJOCO}.half_cheetah_v5.HalfCheetahEnv"


class Swimmer(_Unending):
    """Swimmer-v5 (``SwimmerEnv.step``): its xy velocity's x, both positions left out."""

    env_class = f"{_MUJOCO}.swimmer_v5.SwimmerEnv"
    excluded = 2

    def position(self, base: Any) -> Any:
        """``qpos[0:2]``."""
        return base.data.qpos[0:2].copy()


class Ant(Locomotion):
    """Ant-v5 (``AntEnv.step``): the main body's xy, clipped contact forces in the observation and cost."""

    env_class = f"{_MUJOCO}.ant_v5.AntEnv"
    fields = ("qpos", "qvel", "cfrc_ext")
    contact_forces = True

    def __init__(self, envs: list[gym.Env]) -> None:
        super().__init__(envs)
        self.body = int(self.env.data.body(self.env._main_body).id)

    def position(self, base: Any) -> Any:
        """The main body's ``xpos[:2]``."""
        return base.data.xpos[self.body, :2].copy()

    def outcome(
        self, data: dict[str, np.ndarray], velocity: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As the env computes them."""
        env, qpos, qvel = self.env, data["qpos"], data["qvel"]
        forces = np.clip(data["cfrc_ext"], *env._contact_force_range)
        parts = [qpos[:, 2:] if env._exclude_current_positions_from_observation else qpos, qvel]
        if env._include_cfrc_ext_in_observation:
            parts.append(forces[:, 1:].reshape(len(qpos), -1))
        observation = np.concatenate(parts, axis=1)
        state = np.concatenate((qpos, qvel), axis=1)
        min_z, max_z = env._healthy_z_range
        healthy = np.isfinite(state).all(axis=1) & (min_z <= state[:, 2]) & (state[:, 2] <= max_z)
        rewards = velocity[:, 0] * env._forward_reward_weight + healthy * env._healthy_reward
        contact_cost = env._contact_cost_weight * np.sum(np.square(forces.reshape(len(qpos), -1)), axis=1)
        reward = rewards - (self.control_cost(actions) + contact_cost)
        return observation, reward, ~healthy & bool(env._terminate_when_unhealthy)


class Humanoid(Locomotion):
    """Humanoid-v5 (``HumanoidEnv.step``): the centre of mass's xy, the control cost on ``ctrl``."""

    env_class = f"{_MUJOCO}.humanoid_v5.HumanoidEnv"
    fields = ("qpos", "qvel", "cinert", "cvel", "qfrc_actuator", "cfrc_ext", "ctrl")
    contact_forces = True

    def __init__(self, envs: list[gym.Env]) -> None:
        from gymnasium.envs.mujoco.humanoid_v5 import mass_center

        super().__init__(envs)
        self.mass_center = mass_center

    def position(self, base: Any) -> Any:
        """The env's own ``mass_center``: its xy."""
        return self.mass_center(base.model, base.data)

    def outcome(
        self, data: dict[str, np.ndarray], velocity: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As the env computes them."""
        env, qpos, n = self.env, data["qpos"], len(data["qpos"])
        parts = [qpos[:, 2:] if env._exclude_current_positions_from_observation else qpos, data["qvel"]]
        for field, first, include in (
            ("cinert", 1, env._include_cinert_in_observation),
            ("cvel", 1, env._include_cvel_in_observation),
            ("qfrc_actuator", 6, env._include_qfrc_actuator_in_observation),
            ("cfrc_ext", 1, env._include_cfrc_ext_in_observation),
        ):
            if include is True:  # the env's test
                parts.append(data[field][:, first:].reshape(n, -1))
        observation = np.concatenate(parts, axis=1)
        min_z, max_z = env._healthy_z_range
        healthy = (min_z < qpos[:, 2]) & (qpos[:, 2] < max_z)
        rewards = env._forward_reward_weight * velocity[:, 0] + healthy * env._healthy_reward
        control_cost = env._ctrl_cost_weight * np.sum(np.square(data["ctrl"]), axis=1)
        contact_cost = env._contact_cost_weight * np.sum(np.square(data["cfrc_ext"].reshape(n, -1)), axis=1)
        contact_cost = np.clip(contact_cost, *env._contact_cost_range)
        reward = rewards - (control_cost + contact_cost)
        return observation, reward, ~healthy & bool(env._terminate_when_unhealthy)


TASKS: dict[str, type[Locomotion]] = {
    task.env_class: task for task in (Hopper, Walker2d, HalfCheetah, Swimmer, Ant, Humanoid)
}


def locomotion_task(env: gym.Env) -> tuple[type[Locomotion], int] | None:
    """The task of ``env`` and its time limit, or None where the env must step itself.

    Only the exact v5 classes qualify, behind passive wrappers, with a time limit and no render
    mode.
    """
    if not only_passive_wrappers(env):
        return None
    base: Any = env.unwrapped
    task = TASKS.get(f"{type(base).__module__}.{type(base).__qualname__}")
    limits = [w for w in wrappers(env) if type(w).__name__ == "TimeLimit"]
    if task is None or base.render_mode is not None or not limits:
        return None
    return task, int(getattr(limits[0], "_max_episode_steps"))  # noqa: B009


class LocomotionRunner(EnvRunner):
    """Runs whole sessions of a locomotion task on ``n_envs`` envs, stepped by :class:`Locomotion`.

    The sessions are those :class:`~.runner.EnvRunner` plays, number for number (resets, steps,
    returns, observation statistics, what is kept), at the cost of the physics and a few array
    operations per step.

    Args:
        env_fn: makes one environment (called ``n_envs`` times).
        n_envs: environments stepped side by side.
        task: the task's class (:func:`locomotion_task`).
        limit: the env's time limit, in steps.
        env_id: the id used in error messages.
    """

    def __init__(
        self, env_fn: Callable[[], gym.Env], n_envs: int, task: type[Locomotion], limit: int, env_id: str
    ) -> None:
        super().__init__(env_fn, n_envs, env_id)
        self.task = task(self.envs)
        self.limit = limit
        self.obs_dim = int(np.prod(self.observation_space.shape or ()))

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        first_index: int = 0,
        keep: Keep = "steps",
    ) -> Sessions:
        """One session per reset seed, as :meth:`~.runner.EnvRunner.run` plays them.

        Raises:
            EnvError: if an env raises in ``reset``, the physics in a step, or a step gives a
                non-finite observation or reward.
        """
        n, slots = len(reset_seeds), len(self.envs)
        session = np.full(slots, -1, dtype=np.int64)  # the session each slot plays, -1 when idle
        obs: np.ndarray | None = None
        lengths = np.zeros(n, dtype=np.int64)
        terminated = np.zeros(n, dtype=bool)
        totals = np.zeros(n)
        mean: np.ndarray | None = None
        m2: np.ndarray | None = None
        played: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        keys = None if noise_seeds is None else stream_keys(noise_seeds)
        started = 0

        def start(slot: int) -> None:
            nonlocal started, obs
            if started >= n:
                session[slot] = -1
                return
            i, started = started, started + 1
            try:
                first, _ = self.envs[slot].reset(seed=int(reset_seeds[i]))
            except ENV_FAULTS as exc:
                raise env_raised(self.env_id, "reset", first_index + i, exc) from exc
            if obs is None:
                obs = np.zeros((slots, self.obs_dim))
            self.check_observations(np.asarray(first)[None], np.array([first_index + i]), np.array([0]))
            obs[slot] = first
            session[slot] = i
            start_sessions(actor, np.array([first_index + i]))

        for slot in range(slots):
            start(slot)
        while (active := np.flatnonzero(session >= 0)).size:
            assert obs is not None
            ids, x = session[active], obs[active]
            t = lengths[ids]
            # the actor gets its own copy: what it does to it changes nothing kept (as in EnvRunner)
            actions = np.asarray(actor.act(obs[active], first_index + ids, step_noise(actor, keys, ids, t)))
            if keep == "stats":  # Welford's update, as the env runner's record of each session
                if mean is None or m2 is None:
                    mean, m2 = np.zeros((n, x.shape[1])), np.zeros((n, x.shape[1]))
                new, old = ids[t == 0], ids[t > 0]
                mean[new], m2[new] = x[t == 0], 0.0
                delta = x[t > 0] - mean[old]
                mean[old] += delta / (t[t > 0] + 1)[:, None]
                m2[old] += delta * (x[t > 0] - mean[old])
            try:
                next_obs, reward, term = self.task.step(active, actions)
            except ENV_FAULTS as exc:
                j = self.task.stepping
                raise env_raised(
                    self.env_id, f"step {int(t[j]) + 1}", first_index + int(ids[j]), exc
                ) from exc
            if not np.isfinite(reward).all():
                bad = int(np.flatnonzero(~np.isfinite(reward))[0])
                raise non_finite_reward(
                    self.env_id, reward[bad], int(t[bad]) + 1, first_index + int(ids[bad])
                )
            over = term | (t + 1 >= self.limit)
            # an ended session's last observation is never played: the env runner does not look at it
            self.check_observations(next_obs[~over], first_index + ids[~over], t[~over] + 1)
            if keep == "steps":
                played.append((ids, t, x, actions, reward))
            totals[ids] += reward
            lengths[ids] = t + 1
            obs[active] = next_obs
            terminated[ids[term]] = True
            self.finished += int(over.sum())
            self.stepped += len(active)
            for slot in active[over].tolist():
                start(slot)
        if keep == "steps":
            return _padded(played, lengths, terminated, self.obs_dim)
        dim = 0 if keep == "returns" else self.obs_dim
        if mean is None or m2 is None or not dim:
            mean, m2 = np.zeros((n, dim)), np.zeros((n, dim))
        empty = np.zeros((0, n))
        return Sessions(
            empty, empty, empty, lengths, terminated, ~terminated, Outcomes(totals, lengths.copy(), mean, m2)
        )


def _padded(
    played: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    lengths: np.ndarray,
    terminated: np.ndarray,
    dim: int,
) -> Sessions:
    """The steps played, as padded time-major :class:`Sessions`."""
    n, horizon = len(lengths), int(lengths.max()) if len(lengths) else 0
    if not played:  # nothing played: EnvRunner's shapes
        empty = np.zeros((0, n))
        return Sessions(empty, empty, empty.copy(), lengths, terminated, ~terminated)
    first_actions = played[0][3]
    observations = np.zeros((horizon, n, dim))
    actions = np.zeros((horizon, n, *first_actions.shape[1:]), dtype=first_actions.dtype)
    rewards = np.zeros((horizon, n))
    for ids, t, x, a, r in played:
        observations[t, ids], actions[t, ids], rewards[t, ids] = x, a, r
    return Sessions(observations, actions, rewards, lengths, terminated, ~terminated)
