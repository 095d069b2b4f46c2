"""The MuJoCo locomotion runner (sampling/locomotion.py) plays the sessions the env itself plays.

Each task is played both ways, by :class:`EnvRunner` through Gymnasium's ``env.step`` and by
:class:`LocomotionRunner` around it, from the same seeds with the same actor, and every number of
every session is compared bit for bit: observations, actions, rewards, returns, lengths, endings
and observation statistics.
"""

import functools
from typing import Any

import numpy as np
import pytest

from policysearch.envs import EnvOptions, make_env
from policysearch.errors import EnvError
from policysearch.sampling import EnvRunner, LocomotionRunner, make_runner
from policysearch.sampling.locomotion import locomotion_task
from policysearch.sampling.session import Sessions

TASKS = ["Swimmer-v5", "Hopper-v5", "HalfCheetah-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5"]


class Wobbly:
    """A linear actor with action noise: it falls, it runs to the time limit, it hits the bounds."""

    noise_kind = "normal"

    def __init__(self, obs_dim: int, act_dim: int, dtype: Any, scale: float) -> None:
        self.w = np.random.default_rng(1).standard_normal((act_dim, obs_dim)) * scale
        self.noise_dim, self.dtype = act_dim, dtype

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        assert noise is not None
        rows = (obs[:, None, :] @ self.w.T)[:, 0, :]  # row by row: no batch-dependent rounding
        return np.clip(np.tanh(rows) + 0.5 * noise, -0.4, 0.4).astype(self.dtype)


def assert_same(a: Sessions, b: Sessions) -> None:
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.terminated, b.terminated)
    np.testing.assert_array_equal(a.truncated, b.truncated)
    np.testing.assert_array_equal(a.returns, b.returns)
    for x, y in zip(a.observation_stats(), b.observation_stats(), strict=True):
        np.testing.assert_array_equal(x, y)
    for name in ("observations", "actions", "rewards"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("env_id", TASKS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sessions_are_the_envs_own_bit_for_bit(env_id: str, dtype: Any) -> None:
    options = EnvOptions({"max_episode_steps": 60})
    fast = make_runner(env_id, 3, env_options=options)
    assert isinstance(fast, LocomotionRunner)
    slow = EnvRunner(functools.partial(make_env, env_id, options=options), 2, env_id)
    space = slow.envs[0].observation_space
    act_dim = slow.envs[0].action_space.shape[0]
    actor = Wobbly(space.shape[0], act_dim, dtype, scale=0.3)
    rng = np.random.default_rng(7)
    reset_seeds, noise_seeds = rng.integers(0, 2**31, 7), rng.integers(0, 2**31, 7)
    lengths = set()
    for keep in ("steps", "stats", "returns"):
        a = slow.run(actor, reset_seeds, noise_seeds, first_index=5, keep=keep)
        b = fast.run(actor, reset_seeds, noise_seeds, first_index=5, keep=keep)
        assert_same(a, b)
        lengths |= set(a.lengths.tolist())
    if env_id in ("Hopper-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5"):
        assert min(lengths) < 60, "no session fell: the health test was not exercised"
    else:  # cut by the time limit
        assert lengths == {60}
    fast.close()
    slow.close()


def test_env_kwargs_are_read_from_the_env() -> None:
    """The env's parameters come from the instance: changed rewards and limits hold."""
    kwargs = {
        "healthy_reward": 2.5,
        "ctrl_cost_weight": 0.3,
        "forward_reward_weight": 0.7,
        "max_episode_steps": 40,
    }
    options = EnvOptions(kwargs)
    fast = make_runner("Walker2d-v5", 2, env_options=options)
    slow = EnvRunner(functools.partial(make_env, "Walker2d-v5", options=options), 2, "Walker2d-v5")
    actor = Wobbly(17, 6, np.float64, scale=0.1)
    seeds = np.arange(4)
    assert_same(slow.run(actor, seeds, seeds + 100), fast.run(actor, seeds, seeds + 100))


def test_only_the_plain_v5_classes_are_recognised() -> None:
    assert locomotion_task(make_env("Hopper-v5")) is not None
    assert locomotion_task(make_env("Hopper-v4")) is None  # another class
    assert locomotion_task(make_env("InvertedPendulum-v5")) is None
    import gymnasium as gym

    assert locomotion_task(gym.wrappers.ClipAction(make_env("Hopper-v5"))) is None  # not passive
    assert type(make_runner("InvertedPendulum-v5", 2)) is EnvRunner


def test_a_failing_reset_names_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = make_runner("Swimmer-v5", 2)
    assert isinstance(runner, LocomotionRunner)

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("no model")

    monkeypatch.setattr(runner.envs[1], "reset", broken)
    actor = Wobbly(8, 2, np.float64, scale=0.1)
    with pytest.raises(EnvError, match=r"'Swimmer-v5' raised in reset of session 1: RuntimeError: no model"):
        runner.run(actor, np.arange(3), np.arange(3))


def test_a_failing_step_names_its_session(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = make_runner("Hopper-v5", 3)
    assert isinstance(runner, LocomotionRunner)
    step, calls = runner.task.mj_step, [0]

    def failing(model: Any, data: Any, nstep: int) -> None:
        calls[0] += 1
        if calls[0] == 3 * 4 + 2:  # step 5 of the second slot's session
            raise RuntimeError("unstable")
        step(model, data, nstep=nstep)

    monkeypatch.setattr(runner.task, "mj_step", failing)
    actor = Wobbly(11, 3, np.float64, scale=0.0)
    with pytest.raises(EnvError, match=r"'Hopper-v5' raised in step 5 of session 1: RuntimeError: unstable"):
        runner.run(actor, np.arange(3), np.arange(3))


class Fortran(Wobbly):
    """Returns its actions in Fortran order: a row's sum of squares must still add pairwise."""

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        return np.asfortranarray(super().act(obs, index, noise))


def both(env_id: str, options: EnvOptions | None = None, n_envs: int = 2) -> tuple[EnvRunner, EnvRunner]:
    fast = make_runner(env_id, n_envs, env_options=options)
    assert isinstance(fast, LocomotionRunner)
    return EnvRunner(functools.partial(make_env, env_id, options=options), n_envs, env_id), fast


def outcome(runner: EnvRunner, actor: Any, n: int) -> Any:
    try:
        return runner.run(actor, np.arange(n), np.arange(n) + 50)
    except EnvError as exc:
        return type(exc), str(exc).split(":")[0]


def test_edges_end_as_the_env_runner_ends_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fortran-ordered actions, a wrong action shape, a float frame_skip, no sessions at all."""
    slow, fast = both("Ant-v5", EnvOptions({"max_episode_steps": 30}))
    assert_same(
        slow.run(Fortran(105, 8, np.float64, 0.3), np.arange(3), np.arange(3)),
        fast.run(Fortran(105, 8, np.float64, 0.3), np.arange(3), np.arange(3)),
    )
    for keep in ("steps", "stats", "returns"):
        assert_same(
            slow.run(Wobbly(105, 8, np.float64, 0.3), np.arange(0), keep=keep),
            fast.run(Wobbly(105, 8, np.float64, 0.3), np.arange(0), keep=keep),
        )
    wide = Wobbly(105, 9, np.float64, 0.3)  # one action too many
    assert (
        outcome(slow, wide, 2)
        == outcome(fast, wide, 2)
        == (EnvError, "environment 'Ant-v5' raised in step 1 of session 0")
    )
    slow, fast = both("Hopper-v5", EnvOptions({"frame_skip": 4.0, "max_episode_steps": 5}))
    actor = Wobbly(11, 3, np.float64, 0.1)
    assert outcome(slow, actor, 2) == outcome(fast, actor, 2)
    assert outcome(fast, actor, 2)[0] is EnvError


def test_a_bad_observation_ends_the_run_where_the_env_runner_would() -> None:
    """A NaN in the state ends Ant's session (unhealthy) without an error; an observation of the
    wrong size (Humanoid's include flags given as 1, which its own `is True` test skips) is named."""
    slow, fast = both("Ant-v5", EnvOptions({"max_episode_steps": 30}))
    env = slow.envs[1].unwrapped  # the second slot's env, in both runners
    simulate = env.do_simulation

    def poisoned(action: Any, frames: int) -> None:
        simulate(action, frames)
        env.data.qpos[2] = np.nan

    env.do_simulation = poisoned
    fast_step = fast.task.mj_step

    def poisoned_step(model: Any, data: Any, nstep: int) -> None:
        fast_step(model, data, nstep=nstep)
        if data is fast.envs[1].unwrapped.data:
            data.qpos[2] = np.nan

    fast.task.mj_step = poisoned_step
    actor = Wobbly(105, 8, np.float64, 0.1)
    a, b = slow.run(actor, np.arange(2), np.arange(2)), fast.run(actor, np.arange(2), np.arange(2))
    assert_same(a, b)
    assert a.lengths[1] == 1 and a.terminated[1]
    slow, fast = both("Humanoid-v5", EnvOptions({"include_cinert_in_observation": 1}))
    actor = Wobbly(348, 17, np.float64, 0.0)
    assert outcome(slow, actor, 2) == outcome(fast, actor, 2) == (EnvError, "environment 'Humanoid-v5'")
