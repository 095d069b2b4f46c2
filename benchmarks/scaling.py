"""Scaling benchmark: ES on Hopper-v5 with 1 and 2 workers on the process and Ray backends.

    .venv/bin/python benchmarks/scaling.py [--iterations 30] [--repeats 3] [--from-iteration K] [--no-ray]
    .venv/bin/python benchmarks/scaling.py --physics [--seconds 5] [--envs Hopper-v5 ...]

Prints four tables (see docs/scaling.md for how they feed the scaling model):

1. iterations per second of ES (Hopper-v5's preset, linear policy), the same seed's iterations
   on every backend (so every row does exactly the same sessions), median over repeats: from
   the first, or with ``--from-iteration K`` from the state after K (longer episodes);
2. bytes the transports send per candidate beyond the one copy of the weights per worker and
   iteration (shares out, replies back), for a linear policy and an MLP with ~100x the parameters;
3. the per-share overhead of each transport (an empty share's round trip) and of the final
   evaluation (100 episodes) with 1 and 2 workers;
4. one core's env steps per second for Hopper-v5 and Humanoid-v5 under a linear ES population.

With ``--physics [--seconds 5]`` it prints instead, per MuJoCo locomotion env, one core's agent
steps per second of bare ``mujoco.mj_step``, of Gymnasium's ``env.step`` and of policysearch's
sampler (an ARS population), with the ratios, and on Humanoid-v5 the sampler with 2 worker
processes against 1 (see benchmarks/README.md).

The machine is shared: the load average is printed with the tables; compare ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

from policysearch.config import from_mapping
from policysearch.envs import EnvOptions, make_env
from policysearch.presets import preset_for
from policysearch.registry import resolve
from policysearch.run.evaluation import evaluate_actor
from policysearch.sampling import make_runner, make_sampler
from policysearch.seeding import SeedTree, request_seeds

ENV = "Hopper-v5"


def make_es(env_id: str, policy: str = "linear", **extra: Any) -> Any:
    env = make_env(env_id)
    cls = resolve("es", policy)
    preset = preset_for(env_id, "es")
    hyper = {**(preset.hyperparameters if preset else {}), **extra}
    algo = cls(
        env.observation_space,
        env.action_space,
        from_mapping(cls.config_class, hyper),
        SeedTree(0).init(),
        policy,
    )
    env.close()
    return algo


def iterate(sampler: Any, algo: Any, iterations: int, first: int = 0) -> tuple[float, int]:
    """Seconds and env steps of ``iterations`` ES iterations from iteration ``first``.

    Sampled as the trainer samples them: only what the algorithm reads comes back (``algo.keep``).
    """
    seeds, steps = SeedTree(0), 0
    start = time.perf_counter()
    for i in range(first, first + iterations):
        rng = seeds.iteration(i)
        request = algo.ask(rng)
        sessions = sampler.sample(request.actor, request.n_sessions, rng, request.start_period, algo.keep)
        algo.tell(request, sessions, rng)
        steps += sessions.env_steps
    return time.perf_counter() - start, steps


BACKENDS = [("in-process", "local", 1), ("process", "local", 2), ("ray", "ray", 1), ("ray", "ray", 2)]


def trained_state(iterations: int) -> dict[str, np.ndarray] | None:
    """The ES state after the seed's first ``iterations`` iterations (in-process), or None for 0."""
    if not iterations:
        return None
    algo = make_es(ENV)
    sampler = make_sampler(ENV, 16, 1)
    try:
        iterate(sampler, algo, iterations)
    finally:
        sampler.close()
    return algo.state_arrays()


def iteration_rates(args: argparse.Namespace, backends: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    """Repeats interleaved across backends (the machine's load drifts), each on a fresh sampler.

    With ``--from-iteration K`` every row starts from the state after the seed's first K
    iterations (a policy that stands, so episodes are long, as in most of a run's time) and
    times iterations K + 1 on; else iterations 1 on (the first policies fall within ~33 steps).
    """
    first = args.from_iteration
    state = trained_state(first)
    times: dict[tuple[str, int], list[float]] = {(label, w): [] for label, _, w in backends}
    steps = 0
    for repeat in range(args.repeats):
        for label, backend, workers in backends:
            sampler = make_sampler(ENV, 16, workers, backend=backend)
            try:
                algo = make_es(ENV)
                if state is not None:
                    algo.load_state_arrays(state)
                iterate(sampler, algo, 1, first=first)  # warm-up: imports, the noise table, the first shares
                seconds, steps = iterate(sampler, algo, args.iterations, first=first + 1)
            finally:
                sampler.close()
            times[(label, workers)].append(seconds)
            print(
                f"  repeat {repeat}: {label} x{workers}: {args.iterations / seconds:.2f} it/s",
                file=sys.stderr,
            )
    rows = []
    for (label, workers), seconds in times.items():
        median = statistics.median(seconds)
        rows.append(
            {
                "backend": label,
                "workers": workers,
                "it_per_s": args.iterations / median,
                "s_per_it": median / args.iterations,
                "steps_per_it": steps / args.iterations,
                "spread": (max(seconds) - min(seconds)) / median,
            }
        )
    return rows


def bytes_per_candidate(backend: str) -> list[dict[str, Any]]:
    rows = []
    for policy, extra in (("linear", {}), ("mlp", {"hidden": (56, 56)})):
        algo = make_es(ENV, policy, **extra)
        params = int(algo.es.mu.numel())
        sampler = make_sampler(ENV, 16, 2, backend=backend)
        try:
            iterate(sampler, algo, 1)
            t = sampler.transport
            before = (t.common_bytes, t.share_bytes, t.reply_bytes)
            iterations = 3
            iterate(sampler, algo, iterations, first=1)
            common, share, reply = (
                b - a for a, b in zip(before, (t.common_bytes, t.share_bytes, t.reply_bytes), strict=True)
            )
        finally:
            sampler.close()
        candidates = algo.config.population * iterations
        rows.append(
            {
                "backend": backend,
                "policy": policy,
                "params": params,
                "weights_bytes_per_worker_it": common / (2 * iterations),
                "out_per_candidate": share / candidates,
                "back_per_candidate": reply / candidates,
            }
        )
    return rows


def overheads(backends: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    algo = make_es(ENV)
    actor = algo.greedy_actor()
    for backend in backends:
        for workers in (1, 2):
            sampler = make_sampler(ENV, 16, workers, backend=backend)
            try:
                empty = np.zeros(0, dtype=np.int64)
                sampler.run(actor, empty)
                calls = []
                for _ in range(30):
                    start = time.perf_counter()
                    sampler.run(actor, empty)
                    calls.append(time.perf_counter() - start)
                pipelined = pipelined_share(sampler, actor, workers)
                evaluate_actor(actor, ENV, 100, sampler=sampler)
                evals = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    result = evaluate_actor(actor, ENV, 100, sampler=sampler)
                    evals.append(time.perf_counter() - start)
            finally:
                sampler.close()
            label = (
                "in-process"
                if backend == "local" and workers == 1
                else ("process" if backend == "local" else "ray")
            )
            rows.append(
                {
                    "backend": label,
                    "workers": workers,
                    "share_ms": 1e3 * statistics.median(calls),
                    "pipelined_share_ms": 1e3 * pipelined,
                    "eval_s": statistics.median(evals),
                    "eval_steps": result.env_steps,
                }
            )
    return rows


def pipelined_share(sampler: Any, actor: Any, workers: int, count: int = 200) -> float:
    """Seconds per empty share when ``count`` of them are in flight at once (the driver's cost per task)."""
    from policysearch.sampling.sharded import Share

    transport = sampler.transport
    empty = np.zeros(0, dtype=np.int64)
    start = time.perf_counter()
    for k in range(count):
        transport.submit(k % workers, actor, Share(10**9, k, 0, empty, None, None, True))
    got = 0
    while got < count:
        got += len(transport.collect(timeout=1.0))
    return (time.perf_counter() - start) / count


def step_costs() -> list[dict[str, Any]]:
    rows = []
    for env_id in ("Hopper-v5", "Humanoid-v5"):
        algo = make_es(env_id, population=16, reward_shift=0.0)
        sampler = make_sampler(env_id, 16, 1)
        try:
            iterate(sampler, algo, 1)
            cpu = time.process_time()
            seconds, steps = iterate(sampler, algo, 2, first=1)
            cpu = time.process_time() - cpu
        finally:
            sampler.close()
        rows.append(
            {
                "env": env_id,
                "params": int(algo.es.mu.numel()),
                "steps_per_s": steps / seconds,
                "steps_per_cpu_s": steps / cpu,
                "cpu_us_per_step": 1e6 * cpu / steps,
            }
        )
    return rows


def driver_costs() -> list[dict[str, Any]]:
    """The driver's serial work per iteration (ask and tell, no sampling), for large populations."""
    from policysearch.sampling.session import Outcomes, Sessions

    rows = []
    for env_id, population in (("Hopper-v5", 64), ("Hopper-v5", 1024), ("Humanoid-v5", 1440)):
        algo = make_es(env_id, population=population, reward_shift=0.0)
        dim = algo.spec.obs_dim
        times = []
        for i in range(4):
            rng = np.random.default_rng(i)
            start = time.perf_counter()
            request = algo.ask(rng)
            n = request.n_sessions
            lengths = np.full(n, 1000)
            outcomes = Outcomes(rng.normal(size=n), lengths, rng.normal(size=(n, dim)), np.ones((n, dim)))
            empty = np.zeros((0, n))
            flags = np.zeros(n, dtype=bool)
            algo.tell(request, Sessions(empty, empty, empty, lengths, flags, ~flags, outcomes), rng)
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "env": env_id,
                "params": int(algo.es.mu.numel()),
                "population": population,
                "ask_tell_ms": 1e3 * statistics.median(times[1:]),
                "per_candidate_us": 1e6 * statistics.median(times[1:]) / population,
            }
        )
    return rows


PHYSICS_ENVS = ("Hopper-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5")
SCALING_ENV = "Humanoid-v5"  # the env of the 1 vs 2 workers line


def episode_options(long: int) -> EnvOptions | None:
    """The env as made (None), or with episodes forced long: no termination, cut at ``long`` steps."""
    if not long:
        return None
    return EnvOptions(kwargs={"terminate_when_unhealthy": False, "max_episode_steps": long})


def random_controls(env: Any, count: int = 1000) -> np.ndarray:
    """``count`` uniform random actions (= controls) within the action bounds, drawn once."""
    space = env.action_space
    return np.random.default_rng(0).uniform(space.low, space.high, (count, *space.shape))


def bare_physics(env_id: str, seconds: float, long: int) -> tuple[int, float, float]:
    """Agent steps, wall and CPU seconds of ``mj_step`` x frame_skip on the env's model and data.

    Random controls are written to ``data.ctrl``; the state is reset (``mj_resetData`` and the
    env's initial qpos and qvel, no noise) every episode limit (the env's own, or ``long``) and,
    without ``long``, when the env's own health test fails. That test is timed apart and left out
    of the seconds: it is the env's Python, not physics.
    """
    import mujoco

    env = make_env(env_id, options=episode_options(long))
    env.reset(seed=0)
    raw = env.unwrapped
    model, data, skip = raw.model, raw.data, int(raw.frame_skip)  # type: ignore[attr-defined]
    init_qpos, init_qvel = raw.init_qpos.copy(), raw.init_qvel.copy()  # type: ignore[attr-defined]
    limit = long or int(env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else 1000)
    controls = random_controls(env)
    ctrl, step, clock = data.ctrl, mujoco.mj_step, time.perf_counter
    steps = t = 0
    check = check_cpu = 0.0  # the health test's wall and CPU seconds
    cpu, start = time.process_time(), clock()
    deadline = start + seconds
    while not steps or clock() < deadline:  # one pass at least, however late the first check
        for k in range(len(controls)):
            ctrl[:] = controls[k]
            step(model, data, nstep=skip)
            t += 1
            healthy = True
            if not long:
                c0, p0 = clock(), time.process_time()  # the CPU clock's calls inside the wall's
                healthy = bool(raw.is_healthy)  # type: ignore[attr-defined]
                check_cpu += time.process_time() - p0
                check += clock() - c0
            if t >= limit or not healthy:
                mujoco.mj_resetData(model, data)
                data.qpos[:], data.qvel[:] = init_qpos, init_qvel
                t = 0
        steps += len(controls)
    wall, cpu = clock() - start - check, time.process_time() - cpu - check_cpu
    env.close()
    return steps, wall, cpu


def gym_steps(env_id: str, seconds: float, long: int) -> tuple[int, float, float]:
    """Agent steps, wall and CPU seconds of Gymnasium's ``env.step`` with random actions (resets on end)."""
    env = make_env(env_id, options=episode_options(long))
    env.reset(seed=0)
    actions = random_controls(env)
    steps = 0
    cpu, start = time.process_time(), time.perf_counter()
    deadline = start + seconds
    while not steps or time.perf_counter() < deadline:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        steps += len(actions)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    env.close()
    return steps, wall, cpu


def ars_actor(env_id: str) -> Any:
    """The population actor of a fresh ARS on ``env_id``: ``ask``'s, untrained.

    Humanoid-v5's preset on every env (460 candidates, enough for any call here; the population
    does not change the cost of a step).
    """
    from policysearch.algorithms.ars import ARS, ARSConfig

    env = make_env(env_id)
    preset = preset_for(SCALING_ENV, "ars")
    hyper = {k: v for k, v in (preset.hyperparameters if preset else {}).items() if k != "policy"}
    ars = ARS(
        env.observation_space, env.action_space, from_mapping(ARSConfig, hyper), np.random.default_rng(0)
    )
    env.close()
    return ars.ask(np.random.default_rng(1)).actor


def timed_sessions(run: Any, least: int, most: int, seconds: float) -> tuple[int, float, float, int]:
    """Env steps, wall and CPU seconds, and sessions of ``run(reset_seeds)`` called for ``seconds``.

    One call of two sessions first (untimed: builds the candidates' weights), then calls for about
    ``seconds`` (at least one; the last may run over), the first of ``least`` sessions, each next
    of as many as take about a quarter of ``seconds`` at the last call's pace, from ``least`` to
    ``most`` (so that a call of 1000-step episodes does not run for minutes).
    """
    rng = np.random.default_rng(2)
    run(request_seeds(rng, 2)[0])
    steps = sessions = 0
    size = least
    cpu, start = time.process_time(), time.perf_counter()
    while True:
        began = time.perf_counter()
        steps += run(request_seeds(rng, size)[0]).env_steps
        sessions += size
        now = time.perf_counter()
        if now - start >= seconds:
            break
        size = int(np.clip(seconds / 4 / max((now - began) / size, 1e-9), least, most))
    return steps, time.perf_counter() - start, time.process_time() - cpu, sessions


def sampler_steps(env_id: str, seconds: float, long: int, n_envs: int) -> tuple[int, float, float, int]:
    """policysearch's runner (``make_runner``) playing an ARS population, in this process.

    Each call runs the first sessions of the request with fresh reset seeds: from ``n_envs`` (one
    per env) to ``4 * n_envs`` (a slot is refilled when its session ends, as in training), see
    :func:`timed_sessions`; with ``long``, ``n_envs`` (they all run ``long`` steps, side by side).
    """
    actor = ars_actor(env_id)
    runner = make_runner(env_id, n_envs, env_options=episode_options(long))
    most = n_envs if long else 4 * n_envs
    try:
        return timed_sessions(lambda seeds: runner.run(actor, seeds, keep="stats"), n_envs, most, seconds)
    finally:
        runner.close()


def replayed_physics(env_id: str, seconds: float, long: int, n_envs: int) -> tuple[int, float, float]:
    """Agent steps, wall and CPU seconds of bare ``mj_step`` replaying the sampler's own sessions.

    The sampler plays ``n_envs`` sessions of the untrained ARS population once, keeping their
    steps; then each is replayed from its own start state (``env.reset`` with its reset seed,
    untimed) by writing its actions to ``data.ctrl`` and calling ``mj_step`` x frame_skip, until
    ``seconds`` of replay. The bodies move exactly as in the sampler's column, so the ratio of
    the two is what the sampler costs beyond the physics.
    """
    import mujoco

    options = episode_options(long)
    runner = make_runner(env_id, n_envs, env_options=options)
    reset_seeds = request_seeds(np.random.default_rng(3), n_envs)[0]
    try:
        played = runner.run(ars_actor(env_id), reset_seeds, keep="steps")
    finally:
        runner.close()
    env = make_env(env_id, options=options)
    raw = env.unwrapped
    model, data, skip = raw.model, raw.data, int(raw.frame_skip)  # type: ignore[attr-defined]
    ctrl, step = data.ctrl, mujoco.mj_step
    steps, wall, cpu = 0, 0.0, 0.0
    while wall < seconds:
        for i, seed in enumerate(reset_seeds.tolist()):
            env.reset(seed=seed)
            controls = played.actions[: played.lengths[i], i]
            c0, w0 = time.process_time(), time.perf_counter()
            for k in range(len(controls)):
                ctrl[:] = controls[k]
                step(model, data, nstep=skip)
            wall, cpu = wall + time.perf_counter() - w0, cpu + time.process_time() - c0
            steps += len(controls)
    env.close()
    return steps, wall, cpu


def physics_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for env_id in args.envs:
        for long in (0, args.long_steps):
            label = f"long ({long})" if long else "env's"
            print(f"  {env_id} {label} episodes ...", file=sys.stderr)
            b_steps, b_wall, b_cpu = bare_physics(env_id, args.seconds, long)
            g_steps, g_wall, g_cpu = gym_steps(env_id, args.seconds, long)
            s_steps, s_wall, s_cpu, sessions = sampler_steps(env_id, args.seconds, long, args.n_envs)
            r_steps, r_wall, r_cpu = replayed_physics(env_id, args.seconds, long, args.n_envs)
            bare, bare_cpu = b_steps / b_wall, b_steps / b_cpu
            replay, replay_cpu = r_steps / r_wall, r_steps / r_cpu
            rows.append(
                {
                    "env": env_id,
                    "episodes": label,
                    "bare_steps_s": round(bare),
                    "replay_steps_s": round(replay),
                    "gym_steps_s": round(g_steps / g_wall),
                    "sampler_steps_s": round(s_steps / s_wall),
                    "sampler/bare": round(s_steps / s_wall / bare, 3),
                    "sampler/replay": round(s_steps / s_wall / replay, 3),
                    "gym/bare": round(g_steps / g_wall / bare, 3),
                    "sampler/bare_cpu": round(s_steps / s_cpu / bare_cpu, 3),
                    "sampler/replay_cpu": round(s_steps / s_cpu / replay_cpu, 3),
                    "gym/bare_cpu": round(g_steps / g_cpu / bare_cpu, 3),
                    "sampler_mean_len": round(s_steps / sessions, 1),
                }
            )
    return rows


def worker_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The sampler with 1 and 2 worker processes on SCALING_ENV, episodes forced long.

    Each call runs ``2 * n_envs`` sessions through ``make_sampler(...).run``: with 2 workers one
    share of ``n_envs`` sessions each; with 1, one share of all, played in this process in two
    rounds on its ``n_envs`` envs.
    """
    actor = ars_actor(SCALING_ENV)
    rates = {}
    for workers in (1, 2):
        print(f"  {SCALING_ENV} sampler, {workers} worker(s) ...", file=sys.stderr)
        sampler = make_sampler(
            SCALING_ENV, args.n_envs, workers, env_options=episode_options(args.long_steps)
        )
        try:
            steps, wall, _, _ = timed_sessions(
                lambda seeds, s=sampler: s.run(actor, seeds, keep="stats"),
                2 * args.n_envs,
                2 * args.n_envs,
                args.seconds,
            )
        finally:
            sampler.close()
        rates[workers] = steps / wall
    return [
        {
            "env": SCALING_ENV,
            "episodes": f"long ({args.long_steps})",
            "workers_1_steps_s": round(rates[1]),
            "workers_2_steps_s": round(rates[2]),
            "speedup": round(rates[2] / rates[1], 3),
        }
    ]


def physics(args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs", file=sys.stderr)
    rows = physics_rows(args)
    workers = worker_rows(args) if SCALING_ENV in args.envs else []
    table(
        f"one core's agent steps per second (~{args.seconds:g} s each, one process): bare mj_step x "
        f"frame_skip (random controls; replaying the sampler's sessions), Gymnasium's env.step, "
        f"policysearch's sampler (untrained ARS, {args.n_envs} envs)",
        rows,
    )
    long = args.long_steps
    notes = [
        "env's episodes: the env ends them (bare physics resets when the env's health test fails); the",
        "untrained policy falls early on Hopper, Walker2d, Humanoid (sampler_mean_len): resets weigh more",
        "than in a trained run, and the sampler's calls are short.",
        f"long ({long}): terminate_when_unhealthy=False, every episode cut at {long} steps (bare: reset",
        f"every {long}); no early resets, like for like with bare physics.",
        "bare physics steps random controls, the sampler ARS's near-zero actions: the bodies move",
        "differently, which alone changes a step's cost by up to ~15%. replay: bare mj_step on the",
        "sampler's own sessions (their start states and actions), so sampler/replay is like for like.",
        "_cpu ratios: the same per CPU second of this process (less sensitive to other load).",
    ]
    print("\n".join("  " + line for line in notes))
    if workers:
        table(f"{SCALING_ENV}: the sampler with 1 and 2 worker processes, env steps per wall second", workers)
    end = os.getloadavg()
    print(f"\nload average before {load[0]:.2f}, after {end[0]:.2f} (1 min) on {os.cpu_count()} CPUs")


def table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    keys = list(rows[0])
    cells = [[f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30, help="timed ES iterations per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (the median is shown)")
    parser.add_argument(
        "--from-iteration",
        type=int,
        default=0,
        help="time the iterations after this many (trained policies, long episodes); 0: from the first",
    )
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray backend")
    parser.add_argument(
        "--physics",
        action="store_true",
        help="only the MuJoCo table: bare mj_step vs env.step vs the sampler per core, 1 vs 2 workers",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="--physics: seconds per measurement")
    parser.add_argument("--envs", nargs="+", default=list(PHYSICS_ENVS), help="--physics: the envs")
    parser.add_argument("--n-envs", type=int, default=16, help="--physics: envs per runner")
    parser.add_argument(
        "--long-steps", type=int, default=250, help="--physics: episode length when forced long"
    )
    args = parser.parse_args()
    if args.physics:
        physics(args)
        return
    use_ray = not args.no_ray
    temp = tempfile.mkdtemp(prefix="ps-ray-", dir="/tmp")
    if use_ray:  # one local Ray instance for every Ray row (127.0.0.1 only, its own temp dir)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray

        ray.init(
            address="local",
            num_cpus=os.cpu_count() or 1,
            include_dashboard=False,
            object_store_memory=256 * 1024**2,
            _temp_dir=temp,
            logging_level="ERROR",
            log_to_driver=False,
        )
    load = os.getloadavg()
    backends = [b for b in BACKENDS if use_ray or b[1] != "ray"]
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs", file=sys.stderr)
    rates = iteration_rates(args, backends)
    by = {(r["backend"], r["workers"]): r["it_per_s"] for r in rates}
    for r in rates:
        base = by.get(("in-process", 1)) if r["backend"] == "process" else by.get((r["backend"], 1))
        r["speedup_vs_1"] = r["it_per_s"] / base if base else float("nan")
    first = args.from_iteration + 1
    table(
        f"ES on {ENV} (linear, preset population 64), iterations {first}-{first + args.iterations - 1}, "
        f"iterations/s, median of {args.repeats}",
        rates,
    )
    sizes = bytes_per_candidate("local") + (bytes_per_candidate("ray") if use_ray else [])
    table("bytes per candidate sent by the transports (2 workers), beyond one copy of the weights", sizes)
    table(
        "per-share overhead (one empty share; 200 in flight) and the final evaluation (100 episodes)",
        overheads(["local", "ray"] if use_ray else ["local"], args),
    )
    table("one core's env steps per wall and CPU second (in-process, linear ES, 16 candidates)", step_costs())
    table("the driver's ask + tell per iteration (linear policy, no sampling)", driver_costs())
    end = os.getloadavg()
    print(f"\nload average before {load[0]:.2f}, after {end[0]:.2f} (1 min) on {os.cpu_count()} CPUs")
    if use_ray:
        import ray

        ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
