"""Benchmarks of policysearch: time-to-target of its algorithms, peers side by side, throughput.

What it measures:

1. Time-to-target, per config (algorithm, env, policy, extra options) and seed. The real
   command-line tool is run as a subprocess, exactly as a user would run it::

       .venv/bin/policysearch train ALGO --env ENV --seed S --target T --max-seconds CAP \\
           --out TMPDIR --quiet [--eval-episodes N] [--policy P] [EXTRA ...]

   and TMPDIR/summary.json is read (solved, wall_time_s, env_steps, iterations, eval_mean_return).
   Two suites, edited in the tables right below: ``tabular`` (tabular CEM on toy-text envs, the
   default) and ``neural`` (cem, es and cmaes with neural policies on classic control, Box2D,
   MuJoCo and the partially observable CartPoleNoVelocity); ``all`` is both. A third,
   ``solve`` (issue 15), runs cem, es and cmaes each as is (presets allowed) and with
   ``--no-preset`` on six control tasks over seeds 0-4, and prints per task the time to solve:
   solved count, median and worst seed's wall time and env steps, an unsolved seed counting as
   its cap; with ``--peers``, beside the peers, and our fastest median over the fastest peer's.
2. Sampling throughput (env steps per second). Tabular suite, per env with a uniform random
   policy: a raw Gymnasium loop, the policysearch sampler (``make_sampler``: the vectorised
   tabular model) and the generic env runner (``EnvRunner``). Neural suite: CartPole-v1 with a
   stochastic MLP through ``make_runner`` vs the same native vector env stepped with random actions;
   Acrobot-v1 with a uniform random policy through ``make_runner`` (its numpy dynamics) vs
   Gymnasium's env in a plain Python loop, Gymnasium's ``SyncVectorEnv`` and ``EnvRunner``.
3. Optionally (``--peers --peer-dir DIR``), peer baselines (scripts kept outside this repository,
   in DIR: the course's CEM, pycma over a linear policy, EvoTorch PGPE) on the same envs and
   seeds, each run right after ours on that env and seed so that both are measured under the
   same machine load; a side-by-side table compares our best config with each peer.

How to run (from the repository root)::

    .venv/bin/python benchmarks/run.py                    # tabular suite, about a minute on 2 cores
    make bench                                            # the same
    .venv/bin/python benchmarks/run.py --envs Taxi-v4 --seeds 0 1
    .venv/bin/python benchmarks/run.py --suite neural --envs CartPole-v1 --seeds 0
    .venv/bin/python benchmarks/run.py --suite neural --algos es --peers --peer-dir PEERS \\
        --peer-python /tmp/peervenv/bin/python --envs Pendulum-v1 --seeds 0
    .venv/bin/python benchmarks/run.py --suite solve --envs CartPole-v1 --peers --peer-dir PEERS \\
        --peer-python /tmp/peervenv/bin/python                 # one task per run: the suite takes hours

The tables are printed to stdout (progress goes to stderr) and every row is also written as one
JSON object per line to benchmarks/results/latest.jsonl (replaced on each run).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.jsonl"


@dataclass(frozen=True)
class EnvSpec:
    """One environment of a suite.

    Attributes:
        target: ``--target`` of our runs and TARGET of the peers'.
        cap: ``--max-seconds`` of each of our runs.
        seeds: default seeds (``--seeds`` replaces them).
        peers: peer scripts (names in --peer-dir, without .py) run on this env with ``--peers``.
        peer_cap: MAX_SECONDS of each peer run (None: ``cap``).
        eval_episodes: ``--eval-episodes`` of our runs (None: the CLI's default).
    """

    target: float
    cap: float
    seeds: tuple[int, ...] = (0, 1)
    peers: tuple[str, ...] = ()
    peer_cap: float | None = None
    eval_episodes: int | None = None


@dataclass(frozen=True)
class Config:
    """One way of training on an env: ``policysearch train ALGO --env ENV [--policy P] [EXTRA]``.

    Attributes:
        algo: cem | es | cmaes.
        env: an env id of the suite's table.
        policy: ``--policy`` (None: the CLI's default for the env).
        extra: further CLI arguments, as one shell-quoted string.
        name: the label in the tables (None: ``algo`` or ``algo:policy``).
        cap: ``--max-seconds`` of its runs (None: the env's ``cap``).
    """

    algo: str
    env: str
    policy: str | None = None
    extra: str = ""
    name: str | None = None
    cap: float | None = None

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return f"{self.algo}:{self.policy}" if self.policy else self.algo


# ------------------------------------------------------------------------ the suites (edit here)

COURSE = ("course_cem",)  # the course's tabular CEM / sklearn deep CEM (discrete actions only)
LINEAR = ("cma_linear", "evotorch_pgpe")  # pycma over a linear policy, EvoTorch PGPE

TABULAR_ENVS: dict[str, EnvSpec] = {
    "Taxi-v4": EnvSpec(7.5, 60, (0, 1, 2), COURSE, peer_cap=200, eval_episodes=1000),
    "FrozenLake-v1": EnvSpec(0.70, 60, (0, 1, 2), COURSE, peer_cap=200, eval_episodes=1000),
    "CliffWalking-v1": EnvSpec(-13.0, 60, (0, 1, 2), COURSE, peer_cap=200, eval_episodes=1000),
}
TABULAR_CONFIGS: list[Config] = [Config("cem", env) for env in TABULAR_ENVS]

# Targets, caps, seeds and peers as in the peers' own sweep script (sweep.sh beside them).
NEURAL_ENVS: dict[str, EnvSpec] = {
    "CartPole-v1": EnvSpec(475, 120, (0, 1), LINEAR + COURSE),
    "Acrobot-v1": EnvSpec(-100, 120, (0, 1), LINEAR + COURSE),
    "MountainCar-v0": EnvSpec(-110, 120, (0, 1), LINEAR + COURSE),
    "Pendulum-v1": EnvSpec(-200, 120, (0, 1), LINEAR),
    "MountainCarContinuous-v0": EnvSpec(90, 120, (0, 1), LINEAR),
    "LunarLander-v3": EnvSpec(200, 300, (0,), LINEAR + COURSE),
    "LunarLanderContinuous-v3": EnvSpec(200, 300, (0,), LINEAR),
    "Hopper-v5": EnvSpec(3000, 600, (0,), LINEAR),
    # Registered by policysearch only, so the peers' gym.make cannot build it: no peers.
    "policysearch/CartPoleNoVelocity-v1": EnvSpec(475, 120, (0, 1)),
}
NEURAL_CONFIGS: list[Config] = [  # hyperparameters come from the presets (src/policysearch/presets.py)
    Config("cem", "CartPole-v1"),
    Config("cem", "Acrobot-v1"),
    Config("cem", "MountainCar-v0"),
    Config("cem", "MountainCarContinuous-v0"),
    Config("cem", "Pendulum-v1"),
    Config("cem", "LunarLander-v3", extra="--workers 2"),
    Config("cem", "policysearch/CartPoleNoVelocity-v1", "gru"),
    Config("cem", "policysearch/CartPoleNoVelocity-v1", "mlp"),
    Config("es", "CartPole-v1"),
    Config("es", "Pendulum-v1"),
    Config("es", "LunarLanderContinuous-v3", extra="--workers 2"),
    Config("es", "Hopper-v5", "linear", extra="--workers 2"),
    Config("cmaes", "CartPole-v1", "linear"),
    Config("cmaes", "Pendulum-v1"),
    Config("cmaes", "LunarLanderContinuous-v3", "linear", extra="--workers 2"),
    Config("cmaes", "Hopper-v5", "linear", extra="--workers 2"),
]

# Time to solve (issue 15): each algorithm with its defaults (presets allowed) and with
# --no-preset, beside the peers, over seeds 0-4; targets and caps of the issue. The long tasks
# run with --workers 2, cem with a cap of 1800 s there, es, cmaes and the peers 900 s.
SOLVE_SEEDS = (0, 1, 2, 3, 4)
SOLVE_ENVS: dict[str, EnvSpec] = {
    "CartPole-v1": EnvSpec(475, 60, SOLVE_SEEDS, LINEAR),
    "Acrobot-v1": EnvSpec(-100, 120, SOLVE_SEEDS, LINEAR),
    "Pendulum-v1": EnvSpec(-200, 300, SOLVE_SEEDS, LINEAR),
    "InvertedPendulum-v5": EnvSpec(1000, 120, SOLVE_SEEDS, LINEAR),
    "LunarLanderContinuous-v3": EnvSpec(200, 900, SOLVE_SEEDS, LINEAR),
    "HalfCheetah-v5": EnvSpec(3000, 900, SOLVE_SEEDS, LINEAR),
}
SOLVE_LONG = {"LunarLanderContinuous-v3": 1800.0, "HalfCheetah-v5": 1800.0}  # env -> cem's cap


def solve_configs(env: str, algos: Sequence[str] = ("cem", "es", "cmaes")) -> list[Config]:
    """The time-to-solve configs of ``env``: each algorithm as is, then with ``--no-preset``."""
    workers = "--workers 2" if env in SOLVE_LONG else ""
    configs = []
    for algo in algos:
        cap = SOLVE_LONG.get(env) if algo == "cem" else None
        configs.append(Config(algo, env, extra=workers, cap=cap))
        extra = f"--no-preset {workers}".strip()
        configs.append(Config(algo, env, extra=extra, name=f"{algo} --no-preset", cap=cap))
    return configs


SOLVE_CONFIGS: list[Config] = [c for env in SOLVE_ENVS for c in solve_configs(env)]

SUITES: dict[str, tuple[dict[str, EnvSpec], list[Config]]] = {
    "tabular": (TABULAR_ENVS, TABULAR_CONFIGS),
    "neural": (NEURAL_ENVS, NEURAL_CONFIGS),
    "solve": (SOLVE_ENVS, SOLVE_CONFIGS),
    "all": ({**TABULAR_ENVS, **NEURAL_ENVS}, TABULAR_CONFIGS + NEURAL_CONFIGS),
}

SAMPLER_SESSIONS = 2000  # sessions per sampler.sample call (tabular throughput)
RUNNER_SESSIONS = 200  # sessions per EnvRunner.sample call (tabular throughput)
RUNNER_ENVS = 16
CARTPOLE_N_ENVS = (64, 256)  # neural throughput: vector env sizes
CARTPOLE_CALL_SESSIONS = 4  # sessions per sample call, per slot (as in training: more sessions than slots)
ACROBOT_N_ENVS = (
    16  # Acrobot throughput: make_runner's n_envs (the default), SyncVectorEnv's and EnvRunner's envs
)


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


def short(cmd: str) -> str:
    """A command line with the repository prefix removed."""
    return cmd.replace(str(REPO) + os.sep, "")


# ----------------------------------------------------------------------------------- time to target


@dataclass(frozen=True)
class Job:
    """One config on one env, resolved: target, caps and seeds after the command-line overrides."""

    config: Config
    target: float
    cap: float
    eval_episodes: int | None


def cli_path() -> str:
    """The policysearch console script next to this interpreter (.venv/bin/policysearch)."""
    candidate = Path(sys.executable).parent / "policysearch"
    return str(candidate) if candidate.exists() else "policysearch"


def run_ours(job: Job, seed: int) -> dict[str, Any]:
    """One `policysearch train` run in a temporary run folder; returns its summary."""
    cfg = job.config
    record: dict[str, Any] = {
        "section": "train", "config": cfg.label, "algo": cfg.algo, "policy": cfg.policy,
        "extra": cfg.extra, "env": cfg.env, "seed": seed, "target": job.target, "cap_s": job.cap,
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="psbench-") as tmp:
        cmd = [
            cli_path(), "train", cfg.algo, "--env", cfg.env, "--seed", str(seed),
            "--target", f"{job.target:g}", "--max-seconds", f"{job.cap:g}", "--out", tmp, "--quiet",
        ]  # fmt: skip
        if job.eval_episodes is not None:
            cmd += ["--eval-episodes", str(job.eval_episodes)]
        if cfg.policy:
            cmd += ["--policy", cfg.policy]
        cmd += shlex.split(cfg.extra)
        record["cmd"] = shlex.join(cmd).replace(tmp, "TMPDIR")  # the folder is gone afterwards
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=REPO, capture_output=True, text=True, timeout=job.cap + max(120.0, job.cap / 2)
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


def run_peer(
    name: str, env_id: str, seed: int, target: float, cap: float, args: argparse.Namespace
) -> dict[str, Any]:
    """One run of the peer script ``name``.py; returns its JSON line (or an error)."""
    script = args.peer_dir / f"{name}.py"
    cmd = [args.peer_python, str(script), env_id, str(seed), f"{target:g}", f"{cap:g}"]
    record: dict[str, Any] = {
        "section": "peer", "script": name, "peer": name, "env": env_id, "seed": seed,
        "target": target, "cap_s": cap, "cmd": shlex.join(cmd),
    }  # fmt: skip
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=cap + 120)
    except subprocess.TimeoutExpired:
        return {**record, "error": "timed out"}
    except OSError as exc:
        return {**record, "error": f"{type(exc).__name__}: {exc}"}
    record["process_s"] = round(time.perf_counter() - t0, 3)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        return {**record, "error": f"exit {proc.returncode}: {err[-1] if err else 'no output'}"}
    line = json.loads(lines[-1])
    return {**record, **line, "section": "peer", "env": env_id, "seed": seed}


def train_table(records: list[dict[str, Any]]) -> str:
    columns = ["env", "seed", "config", "solved", "wall_s", "env_steps", "iterations", "eval_mean"]
    rows = []
    for r in records:
        head = [r["env"], str(r["seed"]), r["config"]]
        if "error" in r:
            rows.append([*head, "ERROR", "-", "-", "-", r["error"]])
            continue
        rows.append([
            *head, fmt(r["solved"]), fmt(r["wall_time_s"], ".2f"), fmt(r["env_steps"], ","),
            fmt(r["iterations"]), fmt(r["eval_mean_return"], ".3f"),
        ])  # fmt: skip
    title = "Time to target via `policysearch train ALGO` (one subprocess per run)"
    return table(title, columns, rows, left=3)


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Our best run: the fastest that solved, else the one with the highest final eval."""
    ok = [r for r in runs if "error" not in r]
    solved = [r for r in ok if r.get("solved") and r.get("wall_time_s")]
    if solved:
        return min(solved, key=lambda r: r["wall_time_s"])
    return max(ok, key=lambda r: r.get("eval_mean_return") or -np.inf) if ok else None


def ratio(peer_value: Any, ours_value: Any, ours_solved: bool, peer_solved: bool) -> str:
    """peer / ours; '-' unless ours solved, '>' (a lower bound) when the peer did not solve."""
    if not ours_solved or not ours_value or peer_value is None:
        return "-"
    return ("" if peer_solved else ">") + fmt(peer_value / ours_value, ".1f")


def peer_table(ours: list[dict[str, Any]], peers: list[dict[str, Any]]) -> tuple[str, list[str]]:
    columns = [
        "env", "seed", "ours", "ours_solved", "ours_wall_s", "ours_steps",
        "peer", "peer_solved", "peer_wall_s", "peer_steps", "peer_eval", "wall_ratio", "steps_ratio",
    ]  # fmt: skip
    rows, notes = [], []
    for p in peers:
        key = (p["env"], p["seed"])
        best = best_of([o for o in ours if (o["env"], o["seed"]) == key])
        o_solved = bool(best and best.get("solved"))
        left = ["-", "-", "-", "-"] if best is None else [
            best["config"], fmt(best.get("solved")), fmt(best.get("wall_time_s"), ".2f"),
            fmt(best.get("env_steps"), ","),
        ]  # fmt: skip
        if "error" in p:
            right = [p["script"], "ERROR", "-", "-", "-", "-", "-"]
            notes.append(f"{p['script']} on {p['env']} seed {p['seed']}: {p['error']}")
        else:
            p_solved = bool(p.get("solved"))
            right = [
                p.get("peer", p["script"]), fmt(p_solved), fmt(p.get("wall_time_s"), ".2f"),
                fmt(p.get("env_steps"), ","), fmt(p.get("eval_mean_return"), ".3f"),
                ratio(p.get("wall_time_s"), best and best.get("wall_time_s"), o_solved, p_solved),
                ratio(p.get("env_steps"), best and best.get("env_steps"), o_solved, p_solved),
            ]  # fmt: skip
        rows.append([p["env"], str(p["seed"]), *left, *right])
    title = (
        "Peers vs our best config per env and seed (ratios = peer / ours, only when ours solved; "
        "'>' = a lower bound, the peer did not solve within its cap)"
    )
    return table(title, columns, rows, left=3), notes


# ---------------------------------------------------------------------------------- time to solve


@dataclass(frozen=True)
class Figure:
    """A run's time or env steps to solve; a lower bound when the run did not solve.

    Attributes:
        value: seconds or env steps (None: unknown, the run failed before reporting them).
        bound: True when the run did not solve: the true figure is above ``value`` (its cap for
            the time, the steps it used for the env steps).
        seed: the run's seed.
    """

    value: float | None
    bound: bool
    seed: int

    @property
    def rank(self) -> tuple[int, float]:
        """Sort key: every solved run before every unsolved one, then by value (unknown last)."""
        return (int(self.bound), np.inf if self.value is None else self.value)

    def show(self, spec: str) -> str:
        if self.value is None:
            return "?"
        return (">" if self.bound else "") + format(self.value, spec)


def figures(runs: Sequence[dict[str, Any]], key: str) -> list[Figure]:
    """Per run, ``key`` (wall_time_s or env_steps) as a Figure; an unsolved run's time is its cap."""
    out = []
    for r in runs:
        solved = "error" not in r and bool(r.get("solved"))
        value = r.get(key) if "error" not in r else None
        if key == "wall_time_s" and not solved:
            value = r.get("cap_s")
        out.append(Figure(None if value is None else float(value), not solved, int(r["seed"])))
    return out


def median(figs: Sequence[Figure]) -> Figure:
    """The median, a lower bound if a figure it is made of is one (seed: -1, not one run's)."""
    ranked = sorted(figs, key=lambda f: f.rank)
    n = len(ranked)
    middle = ranked[(n - 1) // 2 : n // 2 + 1]  # one figure, or the two middle ones
    values = [f.value for f in middle]
    value = None if None in values else float(np.mean([v for v in values if v is not None]))
    return Figure(value, any(f.bound for f in middle), -1)


def worst(figs: Sequence[Figure]) -> Figure:
    """The worst seed's figure: the slowest unsolved one if any run did not solve."""
    return max(figs, key=lambda f: f.rank)


def solve_summary(env_id: str, label: str, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One row of the time-to-solve table: solved count, median and worst wall time and env steps."""
    times, steps = figures(runs, "wall_time_s"), figures(runs, "env_steps")
    m_t, w_t, m_s, w_s = median(times), worst(times), median(steps), worst(steps)
    return {
        "section": "solve", "env": env_id, "config": label, "seeds": [int(r["seed"]) for r in runs],
        "solved": sum(not f.bound for f in times), "runs": len(runs),
        "median_wall_s": m_t.value, "median_wall_bound": m_t.bound,
        "worst_wall_s": w_t.value, "worst_wall_bound": w_t.bound, "worst_wall_seed": w_t.seed,
        "median_env_steps": m_s.value, "median_env_steps_bound": m_s.bound,
        "worst_env_steps": w_s.value, "worst_env_steps_bound": w_s.bound, "worst_env_steps_seed": w_s.seed,
        "median_process_s": process_median(runs),
        "errors": [r["error"] for r in runs if "error" in r],
    }  # fmt: skip


def process_median(runs: Sequence[dict[str, Any]]) -> float | None:
    """The median of the runs' whole process times (start-up and imports included, unlike
    wall_time_s, which counts from when the algorithm's code is loaded)."""
    values = [float(r["process_s"]) for r in runs if r.get("process_s") is not None]
    return float(np.median(values)) if values else None


def solve_ratio(env_id: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Our fastest median wall time vs the fastest peer's, as ours / peer.

    ``'>'`` (a lower bound) when our median is one and the peer's is not, ``'<'`` the other way
    round, ``'?'`` when both are: neither config solved on most seeds.
    """

    def fastest(group: list[dict[str, Any]]) -> dict[str, Any] | None:
        def rank(r: dict[str, Any]) -> tuple[int, float]:
            return (int(r["median_wall_bound"]), r["median_wall_s"] or np.inf)

        return min(group, key=rank) if group else None

    ours = fastest([r for r in rows if not r.get("peer")])
    peer = fastest([r for r in rows if r.get("peer")])
    out: dict[str, Any] = {
        "section": "solve_ratio", "env": env_id, "ours": ours and ours["config"],
        "ours_median_wall_s": ours and ours["median_wall_s"], "peer": peer and peer["config"],
        "peer_median_wall_s": peer and peer["median_wall_s"], "ratio": None, "ratio_bound": None,
    }  # fmt: skip
    if ours and peer and ours["median_wall_s"] and peer["median_wall_s"]:
        o_bound, p_bound = ours["median_wall_bound"], peer["median_wall_bound"]
        out["ratio"] = round(ours["median_wall_s"] / peer["median_wall_s"], 3)
        out["ratio_bound"] = {(False, False): "", (True, False): ">", (False, True): "<"}.get(
            (o_bound, p_bound), "?"
        )
    return out


def solve_rows(
    plan: Sequence[tuple[str, EnvSpec, list[Job], list[int]]],
    ours: Sequence[dict[str, Any]],
    peers: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Per env of the plan: a solve_summary per config of ours, then per peer, then the solve_ratio."""
    out: list[dict[str, Any]] = []
    for env_id, _, jobs, _ in plan:
        rows = []
        for job in jobs:
            runs = [r for r in ours if r["env"] == env_id and r["config"] == job.config.label]
            if runs:
                rows.append(solve_summary(env_id, job.config.label, runs))
        for name in dict.fromkeys(p["script"] for p in peers if p["env"] == env_id):
            runs = [p for p in peers if p["env"] == env_id and p["script"] == name]
            rows.append({**solve_summary(env_id, f"{name} (peer)", runs), "peer": name})
        out += [*rows, solve_ratio(env_id, rows)]
    return out


def solve_table(env_id: str, rows: Sequence[dict[str, Any]]) -> str:
    """The time-to-solve table of one env from its solve rows, and the ratio line under it."""
    columns = [
        "config", "solved", "median_wall_s", "worst_wall_s", "seed",
        "median_env_steps", "worst_env_steps", "seed", "median_process_s",
    ]  # fmt: skip
    body = []
    ratio_line = ""
    for r in rows:
        if r["env"] != env_id:
            continue
        if r["section"] == "solve_ratio":
            if r["ratio"] is None:
                ratio_line = "  fastest median: no comparison (no peer runs, or no figures)"
            else:
                ratio_line = (
                    f"  fastest median: ours {r['ours']} {r['ours_median_wall_s']:.2f} s vs "
                    f"{r['peer']} {r['peer_median_wall_s']:.2f} s: ours / peer = "
                    f"{r['ratio_bound']}{r['ratio']:.2f}"
                )
            continue

        def cell(key: str, spec: str, r: dict[str, Any] = r) -> str:
            return Figure(r[f"{key}_s" if "wall" in key else key], r[f"{key}_bound"], -1).show(spec)

        body.append([
            r["config"], f"{r['solved']}/{r['runs']}", cell("median_wall", ".2f"),
            cell("worst_wall", ".2f"), str(r["worst_wall_seed"]), cell("median_env_steps", ",.0f"),
            cell("worst_env_steps", ",.0f"), str(r["worst_env_steps_seed"]),
            fmt(r.get("median_process_s"), ".2f"),
        ])  # fmt: skip
    seeds = sorted({s for r in rows if r["env"] == env_id and r["section"] == "solve" for s in r["seeds"]})
    title = (
        f"Time to solve {env_id}, seeds {' '.join(map(str, seeds))} (an unsolved seed counts as its cap "
        "and shows as '>cap'; its env steps as '>used'; median_process_s: the whole process, imports "
        "included)"
    )
    return "\n".join([table(title, columns, body, left=1), ratio_line])


# --------------------------------------------------------------------------------------- throughput


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


def cartpole_raw(n_envs: int, seconds: float) -> tuple[int, float]:
    """Gymnasium's native CartPoleVectorEnv stepped with uniform random actions (its autoreset on)."""
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    env = CartPoleVectorEnv(num_envs=n_envs)
    env.reset(seed=0)
    steps = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
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


def cartpole_throughput_table(records: list[dict[str, Any]]) -> str:
    columns = ["n_envs", "raw_steps_per_s", "mlp_sampler_steps_per_s", "ratio", "policy_share", "mean_len"]
    rows = []
    for r in records:
        if "error" in r:
            rows.append([str(r["n_envs"]), "ERROR", r["error"], "-", "-", "-"])
            continue
        rows.append([
            str(r["n_envs"]), fmt(r["raw_steps_per_s"], ","), fmt(r["mlp_sampler_steps_per_s"], ","),
            fmt(r["ratio"], ".2f"), fmt(r["policy_share"], ".2f"), fmt(r["mean_session_len"], ".1f"),
        ])  # fmt: skip
    title = (
        "CartPole-v1 sampling throughput, env steps/s: make_runner with a stochastic MLP (64, 64) "
        f"({CARTPOLE_CALL_SESSIONS} sessions per slot and call) vs the native vector env with random actions"
    )
    return table(title, columns, rows, left=1)


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
    while time.perf_counter() < deadline:
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


def acrobot_throughput_table(record: dict[str, Any]) -> str:
    columns = ["env", "raw_steps_per_s", "sync_vector_steps_per_s", "runner_steps_per_s", "ratio",
               "sync_ratio", "env_runner_steps_per_s", "env_runner_ratio"]  # fmt: skip
    if "error" in record:
        rows = [[record["env"], "ERROR", record["error"], *["-"] * 5]]
    else:
        r = record
        rows = [[
            r["env"], fmt(r["raw_steps_per_s"], ","), fmt(r["sync_vector_steps_per_s"], ","),
            fmt(r["runner_steps_per_s"], ","), fmt(r["ratio"], ".1f"), fmt(r["sync_ratio"], ".1f"),
            fmt(r["env_runner_steps_per_s"], ","), fmt(r["env_runner_ratio"], ".2f"),
        ]]  # fmt: skip
    title = (
        "Acrobot-v1 sampling throughput, env steps/s with a uniform random policy: make_runner "
        "(numpy dynamics) vs the raw env, SyncVectorEnv and EnvRunner (ratios: runner / raw, runner / sync)"
    )
    return table(title, columns, rows, left=1)


# -------------------------------------------------------------------------------------- selection


def parse_env(spec: str) -> tuple[str, float | None]:
    """``ENV`` or ``ENV=TARGET``."""
    env_id, sep, target = spec.rpartition("=")
    if not sep:
        return spec, None
    try:
        return env_id, float(target)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad target in {spec!r}") from None


def match_env(name: str, envs: dict[str, EnvSpec]) -> str | None:
    """The suite env called ``name`` (``CartPoleNoVelocity-v1`` finds the ``policysearch/`` one)."""
    if name in envs:
        return name
    found = [e for e in envs if e.rpartition("/")[2] == name]
    return found[0] if len(found) == 1 else None


def select(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> tuple[list[tuple[str, EnvSpec, list[Job], list[int]]], list[str]]:
    """The runs to make, per env in order: (env id, its spec, its jobs, its seeds); and notes."""
    envs, configs = SUITES[args.suite]
    envs = dict(envs)
    notes: list[str] = []
    if args.algos:
        configs = [c for c in configs if c.algo in args.algos]
    if args.envs:
        wanted: list[str] = []
        for name, target in args.envs:
            env_id = match_env(name, envs)
            if env_id is None:  # outside the suite: needs a target; default cap and peers
                if target is None:
                    known = ", ".join(envs)
                    parser.error(f"no default target for {name!r} in the {args.suite} suite (known: {known})")
                env_id = name
                peers = COURSE if args.suite == "tabular" else LINEAR
                seeds = SOLVE_SEEDS if args.suite == "solve" else (0,)
                envs[env_id] = EnvSpec(target, 60.0, seeds, peers)
            if target is not None:
                envs[env_id] = replace(envs[env_id], target=target)
            wanted.append(env_id)
            if not any(c.env == env_id for c in configs):  # no config for it: the default policy
                if args.suite == "solve":
                    algos = args.algos or ["cem", "es", "cmaes"]
                    configs = configs + solve_configs(env_id, algos)
                    how = "as is and with --no-preset"
                else:
                    algos = args.algos or ["cem"]
                    configs = configs + [Config(a, env_id) for a in algos]
                    how = "with defaults"
                notes.append(f"{env_id}: no config in the suite, running {', '.join(algos)} {how}")
        order = wanted
    else:
        order = list(dict.fromkeys(c.env for c in configs))
    plan = []
    for env_id in order:
        spec = envs[env_id]
        jobs = [
            Job(
                c,
                spec.target,
                args.max_seconds if args.max_seconds is not None else c.cap or spec.cap,
                args.eval_episodes if args.eval_episodes is not None else spec.eval_episodes,
            )
            for c in configs
            if c.env == env_id
        ]
        if jobs:
            plan.append((env_id, spec, jobs, list(args.seeds or spec.seeds)))
    if not plan:
        parser.error("nothing to run: no config matches --algos/--envs in this suite")
    return plan, notes


def peer_names(spec: EnvSpec, args: argparse.Namespace) -> list[str]:
    names = list(spec.peers)
    if args.peer_scripts:
        names = [n for n in names if n in args.peer_scripts]
    return names


# ------------------------------------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description=(
            "Benchmark policysearch: time-to-target of its algorithms (the real CLI, one subprocess "
            "per config and seed), optionally side by side with peer libraries, and sampling "
            "throughput. Prints fixed-width tables and writes JSON lines to --out. The configs "
            "(algo, env, target, cap, policy, extra options) are tables at the top of this file."
        ),
        epilog="example: .venv/bin/python benchmarks/run.py --suite neural --envs CartPole-v1 --seeds 0",
    )
    parser.add_argument(
        "--suite", choices=sorted(SUITES), default="tabular",
        help="tabular: tabular CEM on toy-text envs; neural: cem/es/cmaes with neural policies; "
        "all: both; solve: time to solve, cem/es/cmaes as is and with --no-preset over seeds 0-4 "
        "(hours: pick a task with --envs) (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--algos", nargs="+", choices=["cem", "es", "cmaes"], metavar="ALGO",
        help="keep only the configs of these algorithms (cem, es, cmaes)",
    )  # fmt: skip
    parser.add_argument(
        "--envs", nargs="+", type=parse_env, metavar="ENV[=TARGET]",
        help="keep only these envs of the suite, in this order; ENV=TARGET changes the target or adds "
        "an env outside the suite (run with --algos, default cem, and the CLI's defaults)",
    )  # fmt: skip
    parser.add_argument(
        "--seeds", nargs="+", type=int, metavar="SEED",
        help="training seeds, for every env (default: each env's own, 0 1 2 tabular, 0 1 or 0 neural, "
        "0-4 solve)",
    )  # fmt: skip
    parser.add_argument(
        "--max-seconds", type=float, metavar="S",
        help="--max-seconds of each of our runs (default: each env's cap, see the tables)",
    )  # fmt: skip
    parser.add_argument(
        "--eval-episodes", type=int, metavar="N",
        help="--eval-episodes of each of our runs (default: 1000 for tabular, the CLI's default else)",
    )  # fmt: skip
    parser.add_argument(
        "--throughput-seconds", type=float, default=2.0, metavar="S",
        help="time spent on each throughput measurement; at least one call is always made "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--no-train", "--no-cem", dest="no_train", action="store_true",
        help="skip the time-to-target runs",
    )  # fmt: skip
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput measurements")
    parser.add_argument(
        "--peers", action="store_true",
        help="also run each env's peer scripts on the same envs and seeds, right after ours, and "
        "print a side-by-side table; implies the training runs; slow (up to the peer cap per run)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-python", default=sys.executable, metavar="PYTHON",
        help="interpreter for the peers; needs gymnasium[box2d,mujoco], numpy, torch, scikit-learn, "
        "cma, evotorch (default: this interpreter)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-seconds", type=float, metavar="S",
        help="MAX_SECONDS of each peer run (default: each env's peer cap: 200 tabular, the env's cap "
        "neural and solve)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-dir", type=Path, metavar="DIR",
        help="folder of the peer scripts (not part of this repository; needed with --peers), each "
        "called as PYTHON DIR/NAME.py ENV SEED TARGET MAX_SECONDS",
    )  # fmt: skip
    parser.add_argument(
        "--peer-scripts", nargs="+", choices=[*COURSE, *LINEAR], metavar="NAME",
        help=f"run only these peers where an env has them ({', '.join([*COURSE, *LINEAR])})",
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
        "suite": args.suite,
        "cli": cli_path(),
    }


def train_and_peers(
    plan: list[tuple[str, EnvSpec, list[Job], list[int]]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Our runs, and each env's peers right after ours on that env and seed; prints the tables."""
    budget = sum(len(seeds) * sum(j.cap for j in jobs) for _, _, jobs, seeds in plan)
    peer_budget = 0.0
    if args.peers:
        for _, spec, _, seeds in plan:
            cap = args.peer_seconds or spec.peer_cap or spec.cap
            peer_budget += len(seeds) * len(peer_names(spec, args)) * cap
    log(f"time budget: at most {budget:g} s of our runs + {peer_budget:g} s of peer runs (caps)")
    ours: list[dict[str, Any]] = []
    peers: list[dict[str, Any]] = []
    for env_id, spec, jobs, seeds in plan:
        for seed in seeds:
            for job in jobs:
                log(f"{job.config.label:>17}  {env_id} seed {seed} target {job.target:g} cap {job.cap:g} s")
                rec = run_ours(job, seed)
                log(f"{'':>17}  {rec.get('error') or ('solved' if rec['solved'] else 'not solved')}")
                ours.append(rec)
            if args.peers:
                cap = args.peer_seconds or spec.peer_cap or spec.cap
                for name in peer_names(spec, args):
                    log(f"{name:>17}  {env_id} seed {seed} (peer, cap {cap:g} s) ...")
                    prec = run_peer(name, env_id, seed, spec.target, cap, args)
                    log(f"{'':>17}  {prec.get('error') or ('solved' if prec['solved'] else 'not solved')}")
                    peers.append(prec)
    print()
    print(train_table(ours))
    seen: set[tuple[str, str]] = set()
    for r in ours:  # one example command per config
        if (r["env"], r["config"]) not in seen and "cmd" in r:
            seen.add((r["env"], r["config"]))
            print(f"  {short(r['cmd'])}")
    if args.suite == "solve":
        rows = solve_rows(plan, ours, peers)
        for env_id, *_ in plan:
            print()
            print(solve_table(env_id, rows))
        for r in rows:
            for error in r.get("errors", []):
                print(f"  error: {r['config']} on {r['env']}: {error}")
        if args.peers:
            print(f"  peers: {args.peer_dir}/NAME.py ENV SEED TARGET CAP, interleaved with ours per seed")
        return ours + peers + rows
    if args.peers:
        print()
        if peers:
            text, notes = peer_table(ours, peers)
            print(text)
            for note in notes:
                print(f"  error: {note}")
            print(
                f"  peers: {args.peer_dir}/NAME.py ENV SEED TARGET CAP; they evaluate over 100 "
                "episodes (reset seeds 10000+i); ours over --eval-episodes (the CLI's default or 1000 "
                "tabular)"
            )
        else:
            print("No peer runs: none of the selected envs has peers (see EnvSpec.peers).")
    return ours + peers


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.peers and args.peer_dir is None:
        parser.error("--peers needs --peer-dir DIR: the peer scripts' folder (not part of this repository)")
    if args.peers and not args.peer_dir.is_dir():
        parser.error(f"--peer-dir {args.peer_dir}: no such folder")
    plan, notes = select(args, parser)
    t_start = time.perf_counter()
    meta = header(args)
    records: list[dict[str, Any]] = [meta]
    print(
        f"policysearch benchmarks  suite {args.suite}  commit {meta['commit']}  python {meta['python']}  "
        f"cpus {meta['cpus']}  load {' '.join(map(str, meta['loadavg']))}"
    )
    for note in notes:
        print(f"note: {note}")

    if not args.no_train or args.peers:
        records += train_and_peers(plan, args)

    if not args.no_throughput and args.suite in ("tabular", "all"):
        tp = []
        for env_id, *_ in plan:
            if env_id not in TABULAR_ENVS and args.suite == "all":
                continue
            log(f"throughput {env_id} ...")
            try:
                tp.append(throughput(env_id, args.throughput_seconds))
            except Exception as exc:  # a non-tabular env, say: report it and go on
                tp.append({"section": "throughput", "env": env_id, "error": f"{type(exc).__name__}: {exc}"})
        if tp:
            print()
            print(throughput_table(tp))
            print(
                f"  sampler: make_sampler(env).sample(actor, {SAMPLER_SESSIONS}, rng); runner: "
                f"EnvRunner(make_env, {RUNNER_ENVS}).sample(actor, {RUNNER_SESSIONS}, rng); "
                f"~{args.throughput_seconds:g} s each"
            )
            records += tp

    if not args.no_throughput and args.suite in ("neural", "all"):
        ntp = []
        for n_envs in CARTPOLE_N_ENVS:
            log(f"throughput CartPole-v1 n_envs {n_envs} ...")
            try:
                ntp.append(cartpole_throughput(n_envs, args.throughput_seconds))
            except Exception as exc:
                err = f"{type(exc).__name__}: {exc}"
                ntp.append({"section": "throughput_neural", "n_envs": n_envs, "error": err})
        print()
        print(cartpole_throughput_table(ntp))
        print(
            "  raw: CartPoleVectorEnv(num_envs=n_envs) stepped with np.random.randint(0, 2, n_envs) "
            "(its autoreset keeps every slot busy); mlp sampler: make_runner('CartPole-v1', n_envs)"
            f".sample(actor, {CARTPOLE_CALL_SESSIONS} * n_envs, rng) repeated, whole sessions, slots "
            "refilled as sessions end (the batch shrinks only at the end of a call); policy_share = "
            f"time in actor.act / sampling time; ~{args.throughput_seconds:g} s each"
        )
        records += ntp
        log("throughput Acrobot-v1 ...")
        try:
            acro = acrobot_throughput(args.throughput_seconds)
        except Exception as exc:
            acro = {
                "section": "throughput_acrobot",
                "env": "Acrobot-v1",
                "error": f"{type(exc).__name__}: {exc}",
            }
        print()
        print(acrobot_throughput_table(acro))
        print(
            "  raw: make_env('Acrobot-v1') stepped with env.action_space.sample() in a Python loop; sync: "
            f"gym.vector.SyncVectorEnv of {ACROBOT_N_ENVS} make_env, random actions, autoreset; runner: "
            f"make_runner('Acrobot-v1', {ACROBOT_N_ENVS}).sample(actor, {CARTPOLE_CALL_SESSIONS} * slots, "
            f"rng) repeated; env_runner: EnvRunner(make_env, {ACROBOT_N_ENVS}).sample(actor, "
            f"{2 * ACROBOT_N_ENVS}, rng); "
            f"actor: uniform random actions from the runner's noise; ~{args.throughput_seconds:g} s each"
        )
        records.append(acro)

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
