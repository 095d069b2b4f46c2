import functools

import gymnasium as gym
import numpy as np
import pytest

from policysearch.envs import make_env
from policysearch.errors import EnvError
from policysearch.policies.tabular import StochasticTableActor
from policysearch.sampling import EnvRunner, TabularModel, make_sampler
from policysearch.sampling.tabular_model import TabularModel as _Model
from policysearch.seeding import START_STREAM, stream_keys, stream_normal, stream_uniform


def uniform_actor(env_id: str) -> StochasticTableActor:
    env = make_env(env_id)
    return StochasticTableActor(
        np.full((env.observation_space.n, env.action_space.n), 1 / env.action_space.n)
    )


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"])
def test_model_is_used_for_toy_text(env_id: str) -> None:
    assert TabularModel.from_env(make_env(env_id)) is not None


def test_model_is_refused_where_it_is_not_exact() -> None:
    assert _Model.from_env(gym.make("Taxi-v4", fickle_passenger=True)) is None
    assert _Model.from_env(gym.wrappers.TransformReward(make_env("Taxi-v4"), lambda r: 2 * r)) is None


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "Taxi-v4"])
def test_model_draws_from_the_same_distribution_as_the_env(env_id: str) -> None:
    """The vectorised model and the real env, playing the same random policy, agree on the
    distribution of returns and episode lengths within sampling error."""
    actor = uniform_actor(env_id)
    model = make_sampler(env_id).sample(actor, 20000, np.random.default_rng(0))
    runner = EnvRunner(functools.partial(make_env, env_id), 8, env_id)
    real = runner.sample(actor, 4000, np.random.default_rng(1))
    for field in ("returns", "lengths"):
        a, b = getattr(model, field).astype(float), getattr(real, field).astype(float)
        stderr = np.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) < 4 * stderr + 1e-9, field
    np.testing.assert_allclose(model.terminated.mean(), real.terminated.mean(), atol=0.04)


def test_model_sessions_are_consistent() -> None:
    s = make_sampler("FrozenLake-v1").sample(uniform_actor("FrozenLake-v1"), 500, np.random.default_rng(0))
    assert s.observations.shape == s.actions.shape == s.rewards.shape
    assert (s.terminated ^ s.truncated).all()
    assert s.env_steps == s.lengths.sum() == s.mask().sum()
    assert s.lengths.max() <= 100
    one = s.session(3)
    assert len(one.observations) == s.lengths[3]
    assert one.total_reward == s.returns[3]


def test_runner_results_do_not_depend_on_the_number_of_envs() -> None:
    actor = uniform_actor("Taxi-v4")
    results = []
    for n_envs in (1, 3, 16):
        runner = EnvRunner(functools.partial(make_env, "Taxi-v4"), n_envs, "Taxi-v4")
        results.append(runner.sample(actor, 30, np.random.default_rng(5)))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0].returns, other.returns)
        np.testing.assert_array_equal(results[0].observations, other.observations)


class NaNRewardEnv(gym.Env):
    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        reward = float("nan") if self.t == 3 else 1.0
        return 0, reward, False, self.t >= 10, {}


class RaisingEnv(NaNRewardEnv):
    def step(self, action):
        raise RuntimeError("the simulator exploded")


def test_nan_reward_is_a_clear_error() -> None:
    runner = EnvRunner(NaNRewardEnv, 2, "NaNEnv-v0")
    with pytest.raises(EnvError, match=r"NaNEnv-v0.*non-finite reward.*step 3"):
        runner.sample(uniform_actor("FrozenLake-v1"), 4, np.random.default_rng(0))


def test_env_raising_in_step_keeps_its_message() -> None:
    runner = EnvRunner(RaisingEnv, 2, "Raising-v0")
    with pytest.raises(EnvError, match="the simulator exploded"):
        runner.sample(uniform_actor("FrozenLake-v1"), 4, np.random.default_rng(0))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "FrozenLake-v1"])
def test_common_starts_repeat_the_start_states(env_id: str) -> None:
    from policysearch.sampling import make_sampler

    env = make_env(env_id)
    if isinstance(env.observation_space, gym.spaces.Discrete):
        actor = uniform_actor(env_id)
        sampler = make_sampler(env_id)
    else:
        from policysearch.policies.numpy_policy import NumpyActor
        from policysearch.policies.spec import make_spec
        from policysearch.policies.torch_policy import TorchPolicy

        spec = make_spec(env.observation_space, env.action_space, "linear", (), "tanh", "parameter")
        actor = NumpyActor(spec, TorchPolicy(spec).numpy_params())
        sampler = make_sampler(env_id)
    common = sampler.sample(actor, 9, np.random.default_rng(0), common=3)
    first = common.observations[0]
    np.testing.assert_array_equal(first[:3], first[3:6])
    np.testing.assert_array_equal(first[:3], first[6:9])
    if env_id != "FrozenLake-v1":  # FrozenLake always starts in state 0
        assert not np.array_equal(first[0], first[1])


def test_keyed_streams_are_uniform_normal_and_independent_of_the_batch() -> None:
    keys = stream_keys(np.arange(50000))
    u = stream_uniform(keys, 7, 3)
    assert u.shape == (50000, 3) and (u >= 0).all() and (u < 1).all()
    np.testing.assert_allclose(u.mean(0), 0.5, atol=0.005)
    np.testing.assert_allclose(u.var(0), 1 / 12, rtol=0.02)
    # an entry depends on its key and counter only, not on the others in the call
    np.testing.assert_array_equal(stream_uniform(keys[[9, 3]], np.array([7, 7]), 3), u[[9, 3]])
    # successive draws of a stream, and streams of neighbouring seeds, are uncorrelated
    assert abs(np.corrcoef(u[:, 0], stream_uniform(keys, 8, 3)[:, 0])[0, 1]) < 0.02
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 0.02
    z = stream_normal(keys, np.arange(50000) % 200, 2)
    np.testing.assert_allclose([z.mean(), z.std(), (z**4).mean()], [0, 1, 3], atol=0.05)
    # the purposes take different streams from equal seeds
    assert not np.array_equal(stream_keys(np.arange(5), START_STREAM), stream_keys(np.arange(5)))


def test_ray_is_imported_only_when_asked_for() -> None:
    import subprocess
    import sys

    code = "import sys, policysearch.run.trainer, policysearch.cli, policysearch.sampling\n"
    code += "print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def progress_seen(sampler, play) -> tuple[list[str], object]:
    """What another thread reads of ``sampler.progress()`` while ``play()`` runs, and its result."""
    import sys
    import threading

    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.001):
            seen.append(sampler.progress())

    # the watcher gets the GIL every 0.1 ms rather than 5 ms: a request of a few tens of ms
    # (FrozenLake in this process) on a busy machine was played with no line read (CI, 1 run)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = play()
    finally:
        stop.set()
        watcher.join()
        sys.setswitchinterval(interval)
    return seen, result


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Hopper-v5", "FrozenLake-v1"])
@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_the_request_in_play(env_id: str, workers: int) -> None:
    """Sessions and steps are counted as they go (each runner: the env, vectorised classic
    control, MuJoCo locomotion), in this process and in worker processes (copied to shared
    memory twice a second). Read from another thread while the request plays, as the heartbeat
    reads it; nothing between requests."""
    import re

    from policysearch.policies.numpy_policy import NumpyActor
    from policysearch.policies.spec import make_spec
    from policysearch.policies.torch_policy import TorchPolicy
    from policysearch.sampling import closed_after

    env = make_env(env_id)
    if isinstance(env.observation_space, gym.spaces.Discrete):
        actor = uniform_actor(env_id)
    else:
        spec = make_spec(env.observation_space, env.action_space, "linear", (), "tanh", "parameter")
        actor = NumpyActor(spec, TorchPolicy(spec).numpy_params())
    sampler = make_sampler(env_id, n_envs=4, workers=workers, use_model=False)
    line = re.compile(r"(\d+) of 400 sessions done, ([\d,]+) env steps")
    with closed_after(sampler):
        assert sampler.progress() == ""
        for _ in range(2):  # the counts start again with each request
            before = sampler.transport.counted()
            seen, sessions = progress_seen(
                sampler, lambda: sampler.sample(actor, 400, np.random.default_rng(0), keep="returns")
            )
            assert sampler._mark == (before or (0, 0))  # counted from where the request began
            counts = [m.groups() for m in map(line.fullmatch, seen) if m]
            assert counts and set(seen) <= {m.string for m in map(line.fullmatch, seen) if m} | {""}
            done = [int(c[0]) for c in counts]
            steps = [int(c[1].replace(",", "")) for c in counts]
            assert done == sorted(done) and max(done) <= 400
            # from 0 again: a count carried over from the request before would pass its env steps
            assert steps == sorted(steps) and steps[-1] <= sessions.env_steps
            if workers == 1:
                assert len(set(done)) > 1 and len(set(steps)) > 1  # seen moving
            assert sampler.progress() == ""


@pytest.mark.parametrize(("cpus", "warned"), [(1, True), (2, False)])
def test_more_worker_processes_than_cpus_is_said_once(cpus: int, warned: bool, monkeypatch, recwarn) -> None:
    """``--workers 200`` on 2 CPUs started 200 processes in silence, and looked hung."""
    import os

    from policysearch.sampling import closed_after

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
    with closed_after(make_sampler("CartPole-v1", n_envs=1, workers=2)):
        pass
    said = [str(w.message) for w in recwarn if "--workers" in str(w.message)]
    if warned:
        assert len(said) == 1 and said[0].startswith("--workers 2 on 1 CPU: each worker is a process"), said
    else:
        assert said == [], said
