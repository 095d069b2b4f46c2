"""Pixel sampling benchmark: the cnn policy's sampling rate beside the raw preprocessed env, per core.

    .venv/bin/python benchmarks/pixels.py [--seconds 5] [--envs ALE/Pong-v5 MinAtar/Breakout-v1]
        [--n-envs 1 8 16] [--episode-steps N] [--population P] [--episodes-per-candidate K]

For each env, one core's agent steps per second, all measured one after the other in this one
process (numpy's BLAS on one thread, as in a sampling worker):

1. raw: the env exactly as policysearch makes it (``make_env``: for ALE ids the standard Atari
   preprocessing, 84x84x4 ``uint8`` frames, frame skip 4, sticky actions; MinAtar's 10x10xC
   frames), stepped with random actions in a plain Python loop, reset (with a fresh seed, as
   the sampler resets every session) when an episode ends; measured before and after the env's
   sampler rows, the mean of the two;
2. the sampler: ``make_runner(env_id, n_envs).run(actor, reset_seeds, keep="returns")`` repeated,
   counting ``sessions.env_steps``, with the actor ES trains by default on images: the population
   actor of an untrained ``ES(..., "cnn")`` (``es.ask(rng).actor``, with the reference batch of
   virtual batch normalisation that ``train es`` gathers); each call plays the whole
   request, ``--episodes-per-candidate`` sessions per candidate (default 1) of ``--population``
   candidates, as one sampling worker plays an iteration, with fresh reset seeds. On 84x84 frames it is
   measured with the body ``--policy cnn`` builds (Salimans et al.'s, 16 8x8/4, 32 4x4/2, 256
   units) and with the Nature-DQN body (32 8x8/4, 64 4x4/2, 64 3x3/1, 512 units, patched into
   ``policysearch.policies.bodies.conv_architecture`` as benchmarks/memory.py does); on MinAtar's
   frames with its body (16 3x3/1, 128 units);
3. the ratio sampler / raw per ``n_envs`` beside the issue's bar (ALE with the Nature CNN: 0.5;
   MinAtar: 0.25), per wall second and per CPU second of this process, and the share of the
   sampler's time spent in the actor's ``act`` (the forward pass).

Episodes are cut at ``--episode-steps`` (the env kwarg ``max_episode_steps``, as ``--env-kwargs``
gives it) so that a call ends within the budget, and the time spent in ``env.reset`` is timed apart
and left out of both rates (see the notes the benchmark prints). The machine is shared: the load
average is printed with the table; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from threadpoolctl import threadpool_limits

if str(Path(__file__).resolve().parent) not in sys.path:  # its sibling scaling.py, also when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from policysearch.algorithms.es import ES, ESPolicyConfig
from policysearch.envs import EnvOptions, make_env, random_frames
from policysearch.policies import bodies
from policysearch.sampling import EnvRunner, make_runner
from scaling import table  # the same fixed-width table as the physics benchmark

Architecture = tuple[tuple[tuple[int, int, int], ...], int]

#: The Nature-DQN body (Mnih et al. 2015) for 84x84 frames.
NATURE: Architecture = (((32, 8, 4), (64, 4, 2), (64, 3, 1)), 512)
#: The issue's bars on sampler / raw: ALE with the Nature CNN, MinAtar with its body.
BARS = {"nature": 0.5, "minatar": 0.25}
#: Default episode cut in agent steps: ALE ids (slow steps, costly seeded resets), other envs.
EPISODE_STEPS = {"ale": 30, "other": 500}


def is_ale(env_id: str) -> bool:
    return env_id.startswith("ALE/")


def networks(shape: tuple[int, ...]) -> list[tuple[str, Architecture | None]]:
    """The bodies measured on frames of ``shape``: (label, architecture patched in, or None)."""
    (h, w, _), _ = bodies.image_layout(shape)
    if min(h, w) >= 36:
        return [("cnn (salimans)", None), ("nature", NATURE)]
    return [("cnn (minatar)", None)]


def bar_of(env_id: str, network: str) -> float | None:
    if network == "nature":
        return BARS["nature"]
    if env_id.startswith("MinAtar/"):
        return BARS["minatar"]
    return None


@contextmanager
def architecture(arch: Architecture | None) -> Iterator[None]:
    """``bodies.conv_architecture`` gives ``arch`` for large frames while inside (the actor reads it
    at every forward pass, so it stays patched while sampling)."""
    if arch is None:
        yield
        return
    original = bodies.conv_architecture

    def patched(shape: tuple[int, ...]) -> Architecture:
        (h, w, _), _ = bodies.image_layout(shape)
        return arch if min(h, w) >= 36 else original(shape)

    bodies.conv_architecture = patched
    try:
        yield
    finally:
        bodies.conv_architecture = original


class ResetClock:
    """Wall and CPU time spent in the ``reset`` of the envs it wraps."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.count = 0

    def wrap(self, env: gym.Env) -> None:
        reset: Callable[..., Any] = env.reset

        def timed(**kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return reset(**kwargs)
            finally:
                self.wall += time.perf_counter() - wall
                self.cpu += time.process_time() - cpu
                self.count += 1

        setattr(env, "reset", timed)  # noqa: B010  (an instance attribute over the method)


def raw_rate(env_id: str, options: EnvOptions, seconds: float, first_seed: int) -> dict[str, float]:
    """Random actions on ``make_env(env_id)``, a seeded reset per episode; resets timed apart."""
    env = make_env(env_id, options=options)
    env.action_space.seed(0)
    seed, steps, episodes = first_seed, 0, 0
    env.reset(seed=seed)
    clock = ResetClock()
    clock.wrap(env)
    wall, cpu = time.perf_counter(), time.process_time()
    while not steps or time.perf_counter() - wall < seconds:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        steps += 1
        if term or trunc:
            episodes += 1
            seed += 1
            env.reset(seed=seed)
    wall, cpu = time.perf_counter() - wall - clock.wall, time.process_time() - cpu - clock.cpu
    costs = {}
    for kind in ("seeded", "unseeded"):  # as the sampler resets a session, and a plain loop does
        start = time.perf_counter()
        for i in range(3):
            env.reset(seed=seed + 1 + i if kind == "seeded" else None)
        costs[kind] = (time.perf_counter() - start) / 3
    env.close()
    return {
        "steps": steps,
        "wall": wall,
        "cpu": cpu,
        "episodes": episodes,
        "seeded_reset_s": costs["seeded"],
        "unseeded_reset_s": costs["unseeded"],
    }


def ale_vector_rate(env_id: str, n_envs: int, seconds: float) -> dict[str, float]:
    """Random actions on ale-py's own C++ vector env (``AtariVectorEnv``) on one thread.

    The same preprocessing as ``make_env`` gives an ALE id (84x84 gray, 4 frames stacked, frame
    skip 4 with max-pooling, up to 30 no-op starts, v5's sticky actions 0.25, rewards not
    clipped, no fire reset), ``n_envs`` envs stepped in one call, episodes reset by the env itself.
    """
    from ale_py.vector_env import AtariVectorEnv

    spec = gym.spec(env_id)
    envs = AtariVectorEnv(
        game=str(spec.kwargs["game"]),
        num_envs=n_envs,
        num_threads=1,
        repeat_action_probability=float(spec.kwargs.get("repeat_action_probability", 0.25)),
        reward_clipping=False,
        use_fire_reset=False,
    )
    envs.reset(seed=0)
    envs.action_space.seed(0)
    steps = 0
    wall, cpu = time.perf_counter(), time.process_time()
    while not steps or time.perf_counter() - wall < seconds:
        envs.step(envs.action_space.sample())
        steps += n_envs
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    envs.close()
    return {"steps": steps, "wall": wall, "cpu": cpu}


def sampler_rate(
    env_id: str,
    options: EnvOptions,
    arch: Architecture | None,
    n_envs: int,
    population: int,
    table_size: int,
    seconds: float,
    episodes: int = 1,
) -> dict[str, float]:
    """ES's cnn population actor on ``make_runner``: env steps per second with resets left out.

    ``episodes``: ES's ``episodes_per_candidate`` (each candidate's sessions are adjacent).
    """
    with architecture(arch):
        probe = make_env(env_id, options=options)
        config = ESPolicyConfig(
            population=population, noise_table_size=table_size, episodes_per_candidate=episodes
        )
        es = ES(probe.observation_space, probe.action_space, config, np.random.default_rng(0), "cnn")
        if es.reference_frames:  # virtual batch normalisation, as the run factory sets it up
            es.set_reference(random_frames(probe, es.reference_frames, np.random.default_rng(2)))
        params = int(es.es.mu.numel())
        request = es.ask(np.random.default_rng(1))
        runner = make_runner(env_id, n_envs, probe=probe, env_options=options)
        probe.close()
        if not isinstance(runner, EnvRunner):
            raise SystemExit(
                f"{env_id}: expected env objects stepped side by side, got {type(runner).__name__}"
            )
        try:
            # warm-up, untimed: builds the candidates' weights from the noise table (once per
            # candidate and iteration in training) and touches numpy's code paths
            runner.run(request.actor, np.array([10**6], dtype=np.int64), keep="returns")
            clock = ResetClock()
            for env in runner.envs:
                clock.wrap(env)
            acting = [0.0]  # seconds in the actor's act (the forward pass), over the calls
            act = request.actor.act

            def timed_act(*arguments: Any) -> Any:
                start = time.perf_counter()
                try:
                    return act(*arguments)
                finally:
                    acting[0] += time.perf_counter() - start

            setattr(request.actor, "act", timed_act)  # noqa: B010  (an instance attribute over the method)
            per_call = population * episodes  # a whole request per call, as one worker plays it
            steps, calls, sessions, seed = 0, 0, 0, 0
            wall, cpu = time.perf_counter(), time.process_time()
            while calls == 0 or time.perf_counter() - wall < seconds:
                reset_seeds = np.arange(seed, seed + per_call, dtype=np.int64)
                done = runner.run(request.actor, reset_seeds, keep="returns")
                seed += per_call
                steps += done.env_steps
                sessions += done.n
                calls += 1
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            runner.close()
    return {
        "params": params,
        "steps": steps,
        "wall": wall - clock.wall,
        "cpu": cpu - clock.cpu,
        "calls": calls,
        "mean_len": steps / sessions,
        "per_call": per_call,
        "policy_share": acting[0] / (wall - clock.wall),
    }


def env_rows(env_id: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    steps = args.episode_steps or EPISODE_STEPS["ale" if is_ale(env_id) else "other"]
    options = EnvOptions(kwargs={"max_episode_steps": steps})
    population = args.population or max(32, 2 * max(args.n_envs))
    population += population % 2  # mirrored pairs
    print(f"  {env_id}: raw ...", file=sys.stderr)
    before = raw_rate(env_id, options, args.seconds / 2, 0)
    env = make_env(env_id, options=options)
    shape = tuple(env.observation_space.shape or ())
    env.close()
    measured = []
    for network, arch in networks(shape):
        for n_envs in args.n_envs:
            print(f"  {env_id}: {network}, {n_envs} envs ...", file=sys.stderr)
            s = sampler_rate(
                env_id,
                options,
                arch,
                n_envs,
                population,
                args.noise_table_size,
                args.seconds,
                args.episodes_per_candidate,
            )
            measured.append((network, n_envs, s))
    after = raw_rate(env_id, options, args.seconds / 2, 10**5)
    raw = (before["steps"] / before["wall"] + after["steps"] / after["wall"]) / 2
    raw_cpu = (before["steps"] / before["cpu"] + after["steps"] / after["cpu"]) / 2
    rows = []
    for network, n_envs, s in measured:
        rate, rate_cpu = s["steps"] / s["wall"], s["steps"] / s["cpu"]
        bar = bar_of(env_id, network)
        ratio, ratio_cpu = rate / raw, rate_cpu / raw_cpu
        meets = "-" if bar is None else "/".join("yes" if r >= bar else "no" for r in (ratio, ratio_cpu))
        rows.append(
            {
                "env": env_id,
                "network": network,
                "params": f"{s['params'] / 1e6:.3f} M",
                "n_envs": n_envs,
                "raw_steps_s": raw,
                "sampler_steps_s": rate,
                "ratio": ratio,
                "bar": "-" if bar is None else f"{bar:g}",
                "meets(wall/cpu)": meets,
                "raw_cpu_s": raw_cpu,
                "sampler_cpu_s": rate_cpu,
                "ratio_cpu": ratio_cpu,
                "policy_share": s["policy_share"],
                "mean_len": s["mean_len"],
                "calls": f"{int(s['calls'])}x{int(s['per_call'])}",
            }
        )
    seeded = (before["seeded_reset_s"] + after["seeded_reset_s"]) / 2
    unseeded = (before["unseeded_reset_s"] + after["unseeded_reset_s"]) / 2
    raw_rates = f"{before['steps'] / before['wall']:.4g} and {after['steps'] / after['wall']:.4g}"
    note = (
        f"{env_id}: episodes cut at {steps} agent steps; raw before/after the sampler rows "
        f"{raw_rates} steps/s; a seeded reset (each session's) {seeded * 1e3:.3g} ms "
        f"(~{seeded * raw:.0f} raw steps), an unseeded one {unseeded * 1e3:.3g} ms; population {population}, "
        f"{args.episodes_per_candidate} episode(s) per candidate"
    )
    notes = [note]
    if is_ale(env_id):
        n = max(args.n_envs)
        print(f"  {env_id}: ale-py's vector env, {n} envs ...", file=sys.stderr)
        vec = ale_vector_rate(env_id, n, args.seconds)
        notes.append(
            f"{env_id}: ale-py's C++ AtariVectorEnv, {n} envs on one thread, random actions: "
            f"{vec['steps'] / vec['wall']:.4g} steps/s ({vec['steps'] / vec['cpu']:.4g} per CPU second), "
            f"against {raw:.4g} ({raw_cpu:.4g}) through Gymnasium's wrappers; its seeds are its own "
            "(one per env at reset, episodes reset inside), so it is a yardstick, not a sampler"
        )
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="budget of each sampler measurement")
    parser.add_argument("--envs", nargs="+", default=["ALE/Pong-v5", "MinAtar/Breakout-v1"])
    parser.add_argument("--n-envs", nargs="+", type=int, default=[1, 8, 16])
    parser.add_argument(
        "--episode-steps",
        type=int,
        default=None,
        help=f"cut episodes here (default {EPISODE_STEPS['ale']} on ALE ids, {EPISODE_STEPS['other']} else)",
    )
    parser.add_argument(
        "--population", type=int, default=None, help="ES population (default 32, or 2 x max n_envs)"
    )
    parser.add_argument(
        "--episodes-per-candidate",
        type=int,
        default=1,
        help="ES's episodes_per_candidate: sessions of one candidate, played side by side (default 1)",
    )
    parser.add_argument("--noise-table-size", type=int, default=10_000_000)
    args = parser.parse_args()
    threadpool_limits(1, user_api="blas")  # as sampling does (policysearch.sampling._single_threaded_blas)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs", file=sys.stderr)
    rows, notes = [], []
    for env_id in args.envs:
        more, lines = env_rows(env_id, args)
        rows += more
        notes += lines
    table(
        f"one core's agent steps per second (one process, ~{args.seconds:g} s per sampler row): the raw "
        "preprocessed env with random actions vs policysearch's sampler with ES's cnn population actor",
        rows,
    )
    notes += [
        "raw: make_env(env) stepped with action_space.sample(); sampler: make_runner(env, n_envs)",
        ".run(actor, reset_seeds, keep='returns') repeated (calls x sessions per call), actor =",
        "ES(..., 'cnn').ask(rng).actor, its population's candidates one per session.",
        "both rates leave out the time in env.reset (timed apart): episodes are cut short to fit the budget,",
        "so resets would otherwise weigh far more than in training; a session's reset is seeded, which on",
        "ALE reloads the ROM (the seeded reset above), paid once per session by the sampler.",
        "policy_share: time in the actor's act (forward pass) / the sampler's time, resets left out.",
        "the candidates' weights are built in an untimed warm-up call; 'nature' patches",
        "bodies.conv_architecture (Nature-DQN body) as benchmarks/memory.py does; the bar is the issue's",
        "(ALE with the Nature CNN 0.5, MinAtar 0.25); meets: ratio (wall) / ratio_cpu (per CPU second",
        "of this process, the less disturbed by other load). The machine is shared and busy: noisy.",
    ]
    print("\n".join("  " + line for line in notes))
    end = os.getloadavg()
    print(f"\nload average before {load[0]:.2f}, after {end[0]:.2f} (1 min) on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
