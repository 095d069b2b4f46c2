"""Acrobot-v1 stepped as numpy arrays: bit for bit the real env's sessions."""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.acrobot import AcrobotEnv

from conftest import assert_same_sessions
from policysearch.envs import make_env
from policysearch.policies.numpy_policy import NumpyActor
from policysearch.policies.spec import make_spec
from policysearch.policies.torch_policy import TorchPolicy
from policysearch.sampling import EnvRunner, VectorRunner, make_runner, vector_dynamics
from policysearch.sampling.vector import AcrobotDynamics, Dynamics


def _nips_acrobot(**kwargs: Any) -> AcrobotEnv:
    env = AcrobotEnv(**kwargs)
    env.book_or_nips = "nips"
    return env


gym.register("test_vector_acrobot/AcrobotNips-v1", entry_point=_nips_acrobot, max_episode_steps=500)

#: Non-default physics the dynamics copy from the env (every parameter the env's step reads).
PHYSICS = {
    "dt": 0.1, "LINK_LENGTH_1": 1.2, "LINK_MASS_1": 0.8, "LINK_MASS_2": 1.5, "LINK_COM_POS_1": 0.4,
    "LINK_COM_POS_2": 0.6, "LINK_MOI": 1.1, "MAX_VEL_1": 3 * np.pi, "MAX_VEL_2": 7 * np.pi,
    "AVAIL_TORQUE": [-2.0, 0.0, 2.0],
}  # fmt: skip


class UniformActor:
    """Uniform random actions, from the runner's noise."""

    noise_dim, noise_kind = 1, "uniform"

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        assert noise is not None
        return (noise[:, 0] * 3).astype(np.int64)


class SwingActor:
    """Torque along the second joint's velocity: swings up and reaches the goal in ~100 steps."""

    noise_dim, noise_kind = 0, "uniform"

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        return (1 + np.sign(obs[:, 5])).astype(np.int64)


def mlp_actor() -> NumpyActor:
    env = make_env("Acrobot-v1")
    spec = make_spec(env.observation_space, env.action_space, "mlp", (16, 16), "tanh", "parameter")
    torch.manual_seed(0)
    net = TorchPolicy(spec)
    with torch.no_grad():  # make the head matter
        net.head.weight.normal_()
    return NumpyActor(spec, net.numpy_params())  # stochastic


class NoisySwingActor(SwingActor):
    """Swings, but a fifth of its actions are uniform random (from the runner's noise)."""

    noise_dim = 1

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        assert noise is not None
        random = (noise[:, 0] * 15).astype(np.int64)  # below 3 a fifth of the time
        return np.where(random < 3, random, super().act(obs, index, noise))


ACTORS: dict[str, Callable[[], Any]] = {
    "uniform": UniformActor, "swing": SwingActor, "noisy_swing": NoisySwingActor, "mlp": mlp_actor,
}  # fmt: skip


def env_starting_like(dynamics: Dynamics, physics: dict[str, Any]) -> Callable[[], gym.Env]:
    """Real Acrobot envs whose reset puts them where the dynamics start the same reset seed."""

    def env_fn() -> gym.Env:
        env = make_env("Acrobot-v1")
        base: Any = env.unwrapped
        for name, value in physics.items():
            setattr(base, name, value)
        original = base.reset

        def reset(*, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
            _, info = original(seed=seed, options=options)
            base.state = dynamics.start_states(np.array([seed]))[0].astype(np.float32)  # as reset keeps it
            return base._get_ob(), info

        base.reset = reset
        return env

    return env_fn


@pytest.mark.parametrize(
    ("actor_name", "n"), [("uniform", 20), ("swing", 200), ("noisy_swing", 100), ("mlp", 20)]
)
def test_vector_acrobot_plays_the_envs_sessions_bit_for_bit(actor_name: str, n: int) -> None:
    actor = ACTORS[actor_name]()
    seeds = np.arange(n) * 7919 + 13
    runner = make_runner("Acrobot-v1", 16)
    assert isinstance(runner, VectorRunner) and isinstance(runner.dynamics, AcrobotDynamics)
    fast = runner.run(actor, seeds, seeds + 1)
    slow = EnvRunner(env_starting_like(runner.dynamics, {}), 5, "Acrobot-v1").run(actor, seeds, seeds + 1)
    assert_same_sessions(fast, slow)
    if actor_name == "swing":  # the goal is reached: rewards of 0 and terminations are compared too
        last = fast.rewards[fast.lengths - 1, np.arange(n)]
        assert fast.terminated.mean() > 0.9 and (last[fast.terminated] == 0).all()
        assert (fast.rewards[: fast.lengths.min() - 1] == -1).all()
    if actor_name == "uniform":  # and the time limit
        assert fast.truncated.any() and fast.lengths.max() == 500


def test_vector_acrobot_copies_the_envs_physics() -> None:
    env = make_env("Acrobot-v1")
    for name, value in PHYSICS.items():
        setattr(env.unwrapped, name, value)
    found = vector_dynamics(env)
    assert found is not None
    factory, limit = found
    runner = VectorRunner(factory, 16, limit)
    seeds = np.arange(40) * 104729 + 5
    for actor in (SwingActor(), NoisySwingActor()):
        fast = runner.run(actor, seeds, seeds + 3)
        slow = EnvRunner(env_starting_like(runner.dynamics, PHYSICS), 4, "Acrobot-v1").run(
            actor, seeds, seeds + 3
        )
        assert_same_sessions(fast, slow)


def test_a_vector_acrobot_session_does_not_depend_on_its_batch() -> None:
    env = make_env("Acrobot-v1")
    found = vector_dynamics(env)
    assert found is not None
    factory, limit = found
    actor = NoisySwingActor()
    seeds = np.arange(24) * 31 + 2
    reference = VectorRunner(factory, 64, limit).run(actor, seeds, seeds + 1)
    for slots in (1, 5, 24):
        np.testing.assert_array_equal(
            VectorRunner(factory, slots, limit).run(actor, seeds, seeds + 1).observations,
            reference.observations,
        )
    part = [3, 4, 5, 6]  # alone, with other batch mates
    alone = VectorRunner(factory, 3, limit).run(actor, seeds[part], seeds[part] + 1)
    for j, i in enumerate(part):
        length = int(reference.lengths[i])
        assert alone.lengths[j] == length
        np.testing.assert_array_equal(alone.observations[:length, j], reference.observations[:length, i])
        np.testing.assert_array_equal(alone.actions[:length, j], reference.actions[:length, i])
        np.testing.assert_array_equal(alone.rewards[:length, j], reference.rewards[:length, i])


def test_start_states_and_observations_are_the_envs_float32_ones() -> None:
    env = make_env("Acrobot-v1")
    dynamics = AcrobotDynamics(5000, env)
    starts = dynamics.start_states(np.arange(5000))
    assert (np.abs(starts) <= 0.1).all()
    dynamics.reset(np.arange(5000), np.arange(5000))
    np.testing.assert_array_equal(dynamics.state, starts.astype(np.float32).T)
    base: Any = env.unwrapped
    env.reset(seed=0)
    expected = []
    for start in starts:  # reset's state is float32, and so are cos and sin of the first observation
        base.state = start.astype(np.float32)
        expected.append(base._get_ob())
    np.testing.assert_array_equal(dynamics.observe(), np.stack(expected))


def test_acrobots_that_step_otherwise_are_not_vectorised() -> None:
    assert not isinstance(make_runner("test_vector_acrobot/AcrobotNips-v1", 4), VectorRunner)
    noisy = make_env("Acrobot-v1")
    noisy.unwrapped.torque_noise_max = 0.1  # type: ignore[attr-defined]
    assert vector_dynamics(noisy) is None
    assert vector_dynamics(gym.wrappers.ClipReward(make_env("Acrobot-v1"), -1, 0)) is None
    assert vector_dynamics(make_env("Acrobot-v1", render_mode="rgb_array")) is None
    assert vector_dynamics(make_env("Acrobot-v1").unwrapped) is None  # no time limit
