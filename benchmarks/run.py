"""Benchmarks of policysearch: time-to-target of tabular CEM and sampling throughput.

What it measures:

1. Time-to-target of tabular CEM, per environment and seed. The real command-line tool is run as a
   subprocess, exactly as a user would run it::

       .venv/bin/policysearch train cem --env ENV --seed S --target T --eval-episodes 1000 \\
           --max-seconds 60 --out TMPDIR --quiet

   and TMPDIR/summary.json is read (solved, wall_time_s, env_steps, iterations, eval_mean_return).
2. Sampling throughput (env steps per second, uniform random policy), per environment:
   a raw Gymnasium loop (``make_env`` + ``action_space.sample()``), the policysearch sampler
   (``make_sampler``: the vectorised tabular model for toy-text envs) and the generic env runner
   (``EnvRunner`` stepping 16 real envs). Ratios are relative to the raw loop.
3. Optionally (``--peers``), the course's reference CEM (../shared/bench/peers/course_cem.py) on
   the same environments and seeds, run in the same invocation right after each of our runs so
   that the two are measured under the same machine load.

How to run (from the repository root)::

    .venv/bin/python benchmarks/run.py                # the default suite, about a minute on 2 cores
    make bench                                        # the same
    .venv/bin/python benchmarks/run.py --envs Taxi-v4 --seeds 0 1
    .venv/bin/python benchmarks/run.py --peers --peer-python /tmp/peervenv/bin/python \\
        --envs Taxi-v4 --seeds 0 --no-throughput

The tables are printed to stdout (progress goes to stderr) and every row is also written as one
JSON object per line to benchmarks/results/latest.jsonl (replaced on each run).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.jsonl"
DEFAULT_PEER_SCRIPT = REPO.parent / "shared" / "bench" / "peers" / "course_cem.py"

#: The suite: environment id -> target mean return of the final evaluation.
TARGETS: dict[str, float] = {"Taxi-v4": 7.5, "FrozenLake-v1": 0.70, "CliffWalking-v1": -13.0}
DEFAULT_SEEDS = [0, 1, 2]

SAMPLER_SESSIONS = 2000  # sessions per sampler.sample call
RUNNER_SESSIONS = 200  # sessions per EnvRunner.sample call
RUNNER_ENVS = 16


# --------------------------------------------------------------------------------------------- output


def log(message: str) -> None:
    """Progress, to stderr (the tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)


def fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and not np.isfinite(value):
        return "-"
    return format(value, spec)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A fixed-width plain-text table; the first ``left`` columns are left-aligned, others right."""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [title, line(columns), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


# ----------------------------------------------------------------------------------- time to target


def cli_path() -> str:
    """The policysearch console script next to this interpreter (.venv/bin/policysearch)."""
    candidate = Path(sys.executable).parent / "policysearch"
    return str(candidate) if candidate.exists() else "policysearch"


def run_ours(env_id: str, seed: int, target: float, args: argparse.Namespace) -> dict[str, Any]:
    """One `policysearch train cem` run in a temporary run folder; returns its summary."""
    with tempfile.TemporaryDirectory(prefix="psbench-") as tmp:
        cmd = [
            cli_path(), "train", "cem", "--env", env_id, "--seed", str(seed), "--target", f"{target:g}",
            "--eval-episodes", str(args.eval_episodes), "--max-seconds", f"{args.max_seconds:g}",
            "--out", tmp, "--quiet",
        ]  # fmt: skip
        record: dict[str, Any] = {"section": "cem", "env": env_id, "seed": seed, "target": target}
        record["cmd"] = " ".join(cmd)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=REPO, capture_output=True, text=True, timeout=args.max_seconds + 120
            )
        except subprocess.TimeoutExpired:
            return {**record, "error": "timed out"}
        record["process_s"] = round(time.perf_counter() - t0, 3)
        summary_path = Path(tmp) / "summary.json"
        if proc.returncode != 0 or not summary_path.exists():
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return {**record, "error": f"exit {proc.returncode}: {lines[-1] if lines else ''}"}
        summary = json.loads(summary_path.read_text())
    keys = ("solved", "wall_time_s", "env_steps", "iterations", "eval_mean_return", "eval_episodes")
    return {**record, **{k: summary.get(k) for k in keys}}


def run_peer(env_id: str, seed: int, target: float, args: argparse.Namespace) -> dict[str, Any]:
    """One run of the course's CEM; returns its JSON line (or an error)."""
    cmd = [
        args.peer_python,
        str(args.peer_script),
        env_id,
        str(seed),
        f"{target:g}",
        f"{args.peer_seconds:g}",
    ]
    record: dict[str, Any] = {"section": "peer", "env": env_id, "seed": seed, "target": target}
    record["cmd"] = " ".join(cmd)
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=args.peer_seconds + 120)
    except subprocess.TimeoutExpired:
        return {**record, "error": "timed out"}
    except OSError as exc:
        return {**record, "error": f"{type(exc).__name__}: {exc}"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        return {**record, "error": f"exit {proc.returncode}: {err[-1] if err else 'no output'}"}
    line = json.loads(lines[-1])
    return {**record, **line, "section": "peer"}


def cem_table(records: list[dict[str, Any]]) -> str:
    columns = ["env", "seed", "solved", "wall_s", "env_steps", "iterations", "eval_mean"]
    rows = []
    for r in records:
        if "error" in r:
            rows.append([r["env"], str(r["seed"]), "ERROR", "-", "-", "-", r["error"]])
            continue
        rows.append([
            r["env"], str(r["seed"]), fmt(r["solved"]), fmt(r["wall_time_s"], ".2f"),
            fmt(r["env_steps"], ","), fmt(r["iterations"]), fmt(r["eval_mean_return"], ".3f"),
        ])  # fmt: skip
    title = "Time to target: tabular CEM via `policysearch train cem` (one subprocess per run)"
    return table(title, columns, rows, left=1)


def peer_table(ours: list[dict[str, Any]], peers: list[dict[str, Any]]) -> str:
    columns = [
        "env", "seed", "ours_solved", "ours_wall_s", "ours_steps", "ours_eval",
        "course_solved", "course_wall_s", "course_steps", "course_eval", "wall_ratio",
    ]  # fmt: skip
    by_key = {(p["env"], p["seed"]): p for p in peers}
    rows = []
    for o in ours:
        p = by_key.get((o["env"], o["seed"]), {"error": "not run"})
        left = ["ERROR", "-", "-", "-"]
        if "error" not in o:
            left = [
                fmt(o["solved"]), fmt(o["wall_time_s"], ".2f"), fmt(o["env_steps"], ","),
                fmt(o["eval_mean_return"], ".3f"),
            ]  # fmt: skip
        right = ["ERROR", "-", "-", "-", "-"]
        if "error" not in p:
            ratio = "-"  # only when ours solved; a lower bound (">") when the course did not
            if "error" not in o and o["solved"] and o["wall_time_s"]:
                ratio = ("" if p.get("solved") else ">") + fmt(p["wall_time_s"] / o["wall_time_s"], ".1f")
            right = [
                fmt(p.get("solved")), fmt(p.get("wall_time_s"), ".2f"), fmt(p.get("env_steps"), ","),
                fmt(p.get("eval_mean_return"), ".3f"), ratio,
            ]  # fmt: skip
        rows.append([o["env"], str(o["seed"]), *left, *right])
    title = (
        "Peer comparison: ours vs the course's tabular CEM "
        "(wall_ratio = course_wall_s / ours_wall_s; '>' when the course did not solve)"
    )
    return table(title, columns, rows, left=1)


# --------------------------------------------------------------------------------------- throughput


def timed_calls(call: Any, seconds: float) -> tuple[int, float, int]:
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
    while time.perf_counter() < deadline:
        for _ in range(1000):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        steps += 1000
    elapsed = time.perf_counter() - t0
    env.close()
    return steps, elapsed


def throughput(env_id: str, seconds: float) -> dict[str, Any]:
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


def throughput_table(records: list[dict[str, Any]]) -> str:
    columns = ["env", "raw_steps_per_s", "sampler_steps_per_s", "ratio", "runner_steps_per_s", "runner_ratio"]
    rows = []
    for r in records:
        if "error" in r:
            rows.append([r["env"], "ERROR", r["error"], "-", "-", "-"])
            continue
        rows.append([
            r["env"], fmt(r["raw_steps_per_s"], ","), fmt(r["sampler_steps_per_s"], ","),
            fmt(r["ratio"], ".1f"), fmt(r["runner_steps_per_s"], ","), fmt(r["runner_ratio"], ".2f"),
        ])  # fmt: skip
    title = "Sampling throughput, env steps/s with a uniform random policy (ratios vs the raw loop)"
    return table(title, columns, rows, left=1)


# ------------------------------------------------------------------------------------------------ main


def parse_env(spec: str) -> tuple[str, float]:
    """``ENV`` (a suite env) or ``ENV=TARGET``."""
    env_id, sep, target = spec.rpartition("=")
    if sep:
        try:
            return env_id, float(target)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad target in {spec!r}") from None
    if spec not in TARGETS:
        known = ", ".join(TARGETS)
        raise argparse.ArgumentTypeError(f"no default target for {spec!r} (known: {known}); use ENV=TARGET")
    return spec, TARGETS[spec]


def build_parser() -> argparse.ArgumentParser:
    suite = " ".join(f"{e}={t:g}" for e, t in TARGETS.items())
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description=(
            "Benchmark policysearch: time-to-target of tabular CEM (the real CLI, one subprocess per "
            "env and seed) and sampling throughput (raw Gymnasium loop vs the policysearch sampler vs "
            "the env runner). Prints fixed-width tables and writes JSON lines to --out."
        ),
        epilog="example: .venv/bin/python benchmarks/run.py --envs Taxi-v4 FrozenLake-v1 --seeds 0 1",
    )
    parser.add_argument(
        "--envs", nargs="+", type=parse_env, default=list(TARGETS.items()), metavar="ENV[=TARGET]",
        help=f"environments, each with the target of its CEM runs (default: {suite}); "
        "ENV=TARGET for an env outside this suite or another target",
    )  # fmt: skip
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=DEFAULT_SEEDS, metavar="SEED",
        help="training seeds (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--max-seconds", type=float, default=60.0, metavar="S",
        help="--max-seconds of each CEM run (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--eval-episodes", type=int, default=1000, metavar="N",
        help="--eval-episodes of each CEM run (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--throughput-seconds", type=float, default=2.0, metavar="S",
        help="time spent on each throughput measurement; at least one call is always made "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--no-cem", action="store_true", help="skip the time-to-target runs")
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput measurements")
    parser.add_argument(
        "--peers", action="store_true",
        help="also run the course's CEM (--peer-script) on the same envs and seeds, each right after "
        "ours, and print a side-by-side table; implies the CEM runs; slow (up to --peer-seconds per "
        "run), so off by default",
    )  # fmt: skip
    parser.add_argument(
        "--peer-python", default=sys.executable, metavar="PYTHON",
        help="interpreter for the peer; it needs gymnasium, numpy and scikit-learn "
        "(default: this interpreter)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-seconds", type=float, default=200.0, metavar="S",
        help="MAX_SECONDS given to the peer script (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-script", type=Path, default=DEFAULT_PEER_SCRIPT, metavar="PATH",
        help="the peer script, called as PYTHON PATH ENV SEED TARGET MAX_SECONDS "
        "(default: ../shared/bench/peers/course_cem.py)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="PATH",
        help="JSON lines file, replaced on each run (default: benchmarks/results/latest.jsonl)",
    )  # fmt: skip
    return parser


def header(args: argparse.Namespace) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "section": "meta",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit or None,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "argv": sys.argv[1:],
        "cli": cli_path(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t_start = time.perf_counter()
    meta = header(args)
    records: list[dict[str, Any]] = [meta]
    print(
        f"policysearch benchmarks  commit {meta['commit']}  python {meta['python']}  "
        f"cpus {meta['cpus']}  load {' '.join(map(str, meta['loadavg']))}"
    )

    ours: list[dict[str, Any]] = []
    peers: list[dict[str, Any]] = []
    if not args.no_cem or args.peers:
        for env_id, target in args.envs:
            for seed in args.seeds:
                log(f"cem  {env_id} seed {seed} target {target:g} ...")
                rec = run_ours(env_id, seed, target, args)
                log(f"     {rec.get('error') or ('solved' if rec['solved'] else 'not solved')}")
                ours.append(rec)
                if args.peers:
                    log(f"peer {env_id} seed {seed} (up to {args.peer_seconds:g} s) ...")
                    prec = run_peer(env_id, seed, target, args)
                    if "error" in prec:
                        print(f"peer error ({env_id} seed {seed}): {prec['error']}", flush=True)
                    peers.append(prec)
        print()
        print(cem_table(ours))
        print(f"command: {ours[0]['cmd'].replace(str(REPO) + os.sep, '')}" if ours else "")
        if args.peers:
            print()
            print(peer_table(ours, peers))
            print(
                f"course: {args.peer_script.name} with --peer-seconds {args.peer_seconds:g}; its eval is "
                f"100 episodes (reset seeds 10000+i), ours {args.eval_episodes}"
            )
        records += ours + peers

    if not args.no_throughput:
        tp = []
        for env_id, _ in args.envs:
            log(f"throughput {env_id} ...")
            try:
                tp.append(throughput(env_id, args.throughput_seconds))
            except Exception as exc:  # a non-tabular env, say: report it and go on
                tp.append({"section": "throughput", "env": env_id, "error": f"{type(exc).__name__}: {exc}"})
        print()
        print(throughput_table(tp))
        print(
            f"sampler: make_sampler(env).sample(actor, {SAMPLER_SESSIONS}, rng); runner: "
            f"EnvRunner(make_env, {RUNNER_ENVS}).sample(actor, {RUNNER_SESSIONS}, rng); "
            f"~{args.throughput_seconds:g} s each"
        )
        records += tp

    total = time.perf_counter() - t_start
    records.append({"section": "end", "total_s": round(total, 2)})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    print()
    print(f"total {total:.1f} s; JSON lines in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
