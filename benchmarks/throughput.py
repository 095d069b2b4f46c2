"""Sampling throughput micro-benchmarks (env steps per second), with the actors they sample with."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SAMPLER_SESSIONS = 2000  # sessions per sampler.sample call (tabular throughput)
RUNNER_SESSIONS = 200  # sessions per EnvRunner.sample call (tabular throughput)
RUNNER_ENVS = 16
CARTPOLE_N_ENVS = (64, 256)  # neural throughput: vector env sizes
CARTPOLE_CALL_SESSIONS = 4  # sessions per sample call, per slot (as in training: more sessions than slots)
ACROBOT_N_ENVS = (
    16  # Acrobot throughput: make_runner's n_envs (the default), SyncVectorEnv's and EnvRunner's envs
)


def timed_calls(call: Callable[[int], int], seconds: float) -> tuple[int, float, int]:
    """Call ``call(i)`` (returning env steps) repeatedly for about ``seconds``, at least once."""
    steps, calls = 0, 0
    t0 = time.perf_counter()
    while True:
        steps += call(calls)
        calls += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return steps, elapsed, calls


def raw_loop(env_id: str, seconds: float) -> tuple[int, float]:
    """Steps per second of a plain Python loop over one env with random actions."""
    from policysearch.envs import make_env

    env = make_env(env_id)
    env.action_space.seed(0)
    env.reset(seed=0)
    steps = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while not steps or time.perf_counter() < deadline:
        for _ in range(1000):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        steps += 1000
    elapsed = time.perf_counter() - t0
    env.close()
    return steps, elapsed


def throughput(env_id: str, seconds: float) -> dict[str, Any]:
    """Tabular throughput of ``env_id``: raw loop vs make_sampler vs EnvRunner (uniform policy)."""
    from policysearch.envs import make_env
    from policysearch.policies.tabular import StochasticTableActor
    from policysearch.sampling import EnvRunner, make_sampler

    probe = make_env(env_id)
    n_states, n_actions = int(probe.observation_space.n), int(probe.action_space.n)
    probe.close()
    actor = StochasticTableActor(np.full((n_states, n_actions), 1.0 / n_actions))

    raw_steps, raw_s = raw_loop(env_id, seconds)

    sampler = make_sampler(env_id)
    s_steps, s_s, s_calls = timed_calls(
        lambda i: sampler.sample(actor, SAMPLER_SESSIONS, np.random.default_rng(i)).env_steps, seconds
    )
    sampler.close()

    runner = EnvRunner(functools.partial(make_env, env_id), RUNNER_ENVS, env_id)
    r_steps, r_s, r_calls = timed_calls(
        lambda i: runner.sample(actor, RUNNER_SESSIONS, np.random.default_rng(i)).env_steps, seconds
    )
    runner.close()

    raw_rate, s_rate, r_rate = raw_steps / raw_s, s_steps / s_s, r_steps / r_s
    return {
        "section": "throughput", "env": env_id,
        "raw_steps_per_s": round(raw_rate), "sampler_steps_per_s": round(s_rate),
        "ratio": round(s_rate / raw_rate, 2),
        "runner_steps_per_s": round(r_rate), "runner_ratio": round(r_rate / raw_rate, 2),
        "raw": {"steps": raw_steps, "seconds": round(raw_s, 3)},
        "sampler": {"type": type(sampler).__name__, "sessions_per_call": SAMPLER_SESSIONS,
                    "calls": s_calls, "steps": s_steps, "seconds": round(s_s, 3)},
        "runner": {"n_envs": RUNNER_ENVS, "sessions_per_call": RUNNER_SESSIONS,
                   "calls": r_calls, "steps": r_steps, "seconds": round(r_s, 3)},
    }  # fmt: skip


def cartpole_raw(n_envs: int, seconds: float) -> tuple[int, float]:
    """Gymnasium's native CartPoleVectorEnv stepped with uniform random actions (its autoreset on)."""
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    env = CartPoleVectorEnv(num_envs=n_envs)
    env.reset(seed=0)
    steps = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while not steps or time.perf_counter() < deadline:
        for _ in range(100):
            env.step(np.random.randint(0, 2, n_envs))  # noqa: NPY002 (the plain baseline)
        steps += 100
    elapsed = time.perf_counter() - t0
    env.close()
    return n_envs * steps, elapsed


class TimedActor:
    """Wraps an actor and adds up the time spent in its ``act``."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.noise_dim, self.noise_kind = actor.noise_dim, actor.noise_kind
        self.seconds = 0.0

    def start(self, index: np.ndarray) -> None:
        self.actor.start(index)

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        t0 = time.perf_counter()
        actions = self.actor.act(obs, index, noise)
        self.seconds += time.perf_counter() - t0
        return actions


def cartpole_throughput(n_envs: int, seconds: float) -> dict[str, Any]:
    """CartPole-v1: a stochastic MLP through make_runner vs the raw native vector env."""
    import torch

    from policysearch.envs import make_env
    from policysearch.policies.numpy_policy import NumpyActor
    from policysearch.policies.spec import make_spec
    from policysearch.policies.torch_policy import TorchPolicy
    from policysearch.sampling import VectorRunner, make_runner

    env = make_env("CartPole-v1")
    spec = make_spec(env.observation_space, env.action_space, "mlp", (64, 64), "tanh", "parameter")
    env.close()
    torch.manual_seed(0)
    actor = NumpyActor(spec, TorchPolicy(spec).numpy_params())  # stochastic actor

    raw_steps, raw_s = cartpole_raw(n_envs, seconds)

    runner = make_runner("CartPole-v1", n_envs)
    slots = runner.dynamics.n if isinstance(runner, VectorRunner) else n_envs
    per_call = CARTPOLE_CALL_SESSIONS * n_envs
    timed = TimedActor(actor)

    def call(i: int) -> int:
        return runner.sample(timed, per_call, np.random.default_rng(i)).env_steps

    m_steps, m_s, m_calls = timed_calls(call, seconds)
    runner.close()
    raw_rate, m_rate = raw_steps / raw_s, m_steps / m_s
    return {
        "section": "throughput_neural", "env": "CartPole-v1", "n_envs": n_envs,
        "raw_steps_per_s": round(raw_rate), "mlp_sampler_steps_per_s": round(m_rate),
        "ratio": round(m_rate / raw_rate, 3),
        # share of the sampling time spent in the policy's forward pass and action sampling
        "policy_share": round(timed.seconds / m_s, 3),
        "mean_session_len": round(m_steps / (m_calls * per_call), 1),
        "raw": {"steps": raw_steps, "seconds": round(raw_s, 3)},
        "sampler": {"type": type(runner).__name__, "slots": slots, "sessions_per_call": per_call,
                    "policy": "mlp (64, 64) tanh, stochastic", "calls": m_calls, "steps": m_steps,
                    "seconds": round(m_s, 3)},
    }  # fmt: skip


class UniformActor:
    """Uniform random discrete actions, drawn from the runner's noise (one uniform per step)."""

    noise_dim, noise_kind = 1, "uniform"

    def __init__(self, n_actions: int) -> None:
        self.n_actions = n_actions

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        assert noise is not None
        return (noise[:, 0] * self.n_actions).astype(np.int64)


def sync_vector_loop(env_id: str, n_envs: int, seconds: float) -> tuple[int, float]:
    """Gymnasium's SyncVectorEnv of ``n_envs`` envs with uniform random actions (its autoreset on)."""
    import gymnasium as gym

    from policysearch.envs import make_env

    env = gym.vector.SyncVectorEnv([functools.partial(make_env, env_id)] * n_envs)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n_actions = int(env.single_action_space.n)  # type: ignore[attr-defined]
    steps = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while not steps or time.perf_counter() < deadline:
        for _ in range(100):
            env.step(rng.integers(0, n_actions, n_envs))
        steps += 100
    elapsed = time.perf_counter() - t0
    env.close()
    return n_envs * steps, elapsed


def acrobot_throughput(seconds: float) -> dict[str, Any]:
    """Acrobot-v1, random policy: make_runner (numpy) vs the raw env, SyncVectorEnv, EnvRunner."""
    from policysearch.envs import make_env
    from policysearch.sampling import EnvRunner, VectorRunner, make_runner

    env_id, n_envs = "Acrobot-v1", ACROBOT_N_ENVS
    actor = UniformActor(3)
    raw_steps, raw_s = raw_loop(env_id, seconds)
    sync_steps, sync_s = sync_vector_loop(env_id, n_envs, seconds)

    runner = make_runner(env_id, n_envs)
    slots = runner.dynamics.n if isinstance(runner, VectorRunner) else n_envs
    per_call = CARTPOLE_CALL_SESSIONS * slots
    v_steps, v_s, v_calls = timed_calls(
        lambda i: runner.sample(actor, per_call, np.random.default_rng(i)).env_steps, seconds
    )
    runner.close()

    env_runner = EnvRunner(functools.partial(make_env, env_id), n_envs, env_id)
    e_steps, e_s, e_calls = timed_calls(
        lambda i: env_runner.sample(actor, 2 * n_envs, np.random.default_rng(i)).env_steps, seconds
    )
    env_runner.close()

    raw_rate, sync_rate, v_rate, e_rate = raw_steps / raw_s, sync_steps / sync_s, v_steps / v_s, e_steps / e_s
    return {
        "section": "throughput_acrobot", "env": env_id,
        "raw_steps_per_s": round(raw_rate), "sync_vector_steps_per_s": round(sync_rate),
        "runner_steps_per_s": round(v_rate), "ratio": round(v_rate / raw_rate, 2),
        "sync_ratio": round(v_rate / sync_rate, 2),
        "env_runner_steps_per_s": round(e_rate), "env_runner_ratio": round(e_rate / raw_rate, 2),
        "raw": {"steps": raw_steps, "seconds": round(raw_s, 3)},
        "sync_vector": {"n_envs": n_envs, "steps": sync_steps, "seconds": round(sync_s, 3)},
        "runner": {"type": type(runner).__name__, "slots": slots, "sessions_per_call": per_call,
                   "calls": v_calls, "steps": v_steps, "seconds": round(v_s, 3)},
        "env_runner": {"n_envs": n_envs, "sessions_per_call": 2 * n_envs, "calls": e_calls,
                       "steps": e_steps, "seconds": round(e_s, 3)},
    }  # fmt: skip
