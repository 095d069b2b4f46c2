"""The defaults suite: score sets of defaults over many tasks at once, aggregated as rliable does.

A *config* is a named set of extra ``policysearch train`` arguments; its name starts with the
algorithm (``es-defaults``, ``es-sigma0.1``, ``ars-defaults``). Each (config, task, seed) is one
run, exactly as a user would type it::

    .venv/bin/policysearch train ALGO --env TASK --no-preset --seed SEED --workers 2 \\
        --max-seconds BUDGET --out DIR/runs/CONFIG/TASK/seedSEED --quiet [EXTRA ...]

Runs whose folder holds a summary.json are never run again, so that the same command (or
``--resume``, which reuses the configs, seeds, parts and budget stored in DIR/suite.json)
continues the suite across sessions. The runs go a seed at a time (every task and config of
seed 0, then of seed 1, ...), so that a suite stopped early has whole seeds. Where two configs
resolve to the same options on a task (``policysearch train ... --dry-run``: ``es-today=--set
reward_shift=0`` and ``es-defaults`` on a task without a survival bonus), the second one shares
the first one's run instead of running it again (its folder holds a copy of the summary and
``shared.json``). Each run's eval_mean_return is normalised between the
task's random score (0) and its reference (1) (benchmarks/defaults_tasks.py), and per config and
part the interquartile mean (IQM) with a stratified bootstrap 95% confidence interval, the
median, the mean and the optimality gap are computed by ``rliable``; a markdown table is printed
(and written to DIR/report.md) and the performance profiles are plotted to
DIR/performance_profile.png. See docs/defaults-suite.md.

Usage (from the repository root)::

    .venv/bin/python benchmarks/defaults.py --out runs/defaults --part tune --algos es --seeds 0 1 2
    .venv/bin/python benchmarks/defaults.py --out runs/defaults --part tune \\
        --config es-defaults= --config "es-sigma0.1=--set sigma=0.1"
    .venv/bin/python benchmarks/defaults.py --out runs/defaults --resume
    .venv/bin/python benchmarks/defaults.py --out runs/defaults --report-only
    .venv/bin/python benchmarks/defaults.py --measure-random      # rewrites defaults_random.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from defaults_tasks import PARTS, RANDOM_FILE, TASKS, Task, load_random, normalise, tasks_of
from runners import REPO, cli_path

ALGOS = ("cem", "es", "cmaes", "ars")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
SUITE_FILE = "suite.json"
PLOT_FILE = "performance_profile.png"
METRICS = ("IQM", "median", "mean", "optimality gap")


@dataclass(frozen=True)
class Config:
    """A named set of defaults: ``policysearch train ALGO ... EXTRA``."""

    name: str
    extra: str = ""

    @property
    def algo(self) -> str:
        return self.name.split("-", 1)[0]


def parse_config(text: str) -> Config:
    """``NAME=EXTRA_ARGS`` as a Config; NAME starts with the algorithm (``es-sigma0.1``)."""
    name, sep, extra = text.partition("=")
    if not sep:
        raise ValueError(f"--config {text!r}: expected NAME=EXTRA_ARGS, e.g. 'es-sigma0.1=--set sigma=0.1'")
    config = Config(name.strip(), extra.strip())
    if not NAME.match(config.name):
        raise ValueError(f"--config {text!r}: the name may hold letters, digits and . _ + - only")
    if config.algo not in ALGOS:
        raise ValueError(
            f"--config {text!r}: the name must start with the algorithm ({', '.join(ALGOS)}) "
            "and a dash, e.g. es-sigma0.1"
        )
    shlex.split(config.extra)  # raises ValueError on unbalanced quotes
    return config


def run_dir(out: Path, config: str, task: Task, seed: int) -> Path:
    return out / "runs" / config / task.slug / f"seed{seed}"


def train_command(
    config: Config, task: Task, seed: int, budget: float, workers: int, folder: Path
) -> list[str]:
    """The ``policysearch train`` command of one run."""
    cmd = [
        cli_path(), "train", config.algo, "--env", task.env_id, "--no-preset", "--seed", str(seed),
        "--workers", str(workers), "--max-seconds", f"{budget:g}", "--out", str(folder), "--quiet",
    ]  # fmt: skip
    return cmd + shlex.split(config.extra)


def train(cmd: list[str], log: Path, timeout: float) -> int:
    """Run one training command, its output into ``log``; returns the exit status (-1: timed out)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        fh.write(shlex.join(cmd) + "\n")
        fh.flush()
        try:
            return subprocess.run(
                cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            fh.write(f"\ntimed out after {timeout:g} s\n")
            return -1


Runner = Callable[[list[str], Path, float], int]
Resolver = Callable[[list[str]], str | None]
COMMENT = re.compile(r"\s+#\s.*$")
SHARED_FILE = "shared.json"


def resolved_options(cmd: list[str]) -> str | None:
    """What ``cmd`` (a train command) resolves to, by its ``--dry-run``: every option and
    hyperparameter with its value, without the run folder and the comments; None if it fails."""
    try:
        proc = subprocess.run([*cmd, "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    lines = [COMMENT.sub("", ln).rstrip() for ln in proc.stdout.splitlines()]
    return "\n".join(ln for ln in lines if ln and not ln.startswith(("#", "out:")))


def share(folder: Path, source: Path, source_config: str) -> None:
    """Make ``folder`` a run of the same options as ``source``: a copy of its summary, and
    shared.json naming it. The summary is written last, so that an interruption leaves no run."""
    folder.mkdir(parents=True, exist_ok=True)
    note = {"same_as": source_config, "run": str(source), "why": "the same resolved options (--dry-run)"}
    (folder / SHARED_FILE).write_text(json.dumps(note, indent=2) + "\n")
    tmp = folder / f".summary.json.{os.getpid()}"
    tmp.write_text((source / "summary.json").read_text())
    tmp.replace(folder / "summary.json")


def read_summary(folder: Path) -> dict[str, Any] | None:
    path = folder / "summary.json"
    if not path.exists():
        return None
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def last_line(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if len(lines) > 1 else ""


def run_suite(
    out: Path,
    configs: Sequence[Config],
    tasks: Sequence[Task],
    seeds: Sequence[int],
    budget: float,
    workers: int,
    runner: Runner = train,
    resolver: Resolver = resolved_options,
) -> dict[str, int]:
    """Every (config, task, seed) run not finished yet in ``out``, a seed at a time; a run whose
    options another config's finished run resolved to as well shares that run. One progress line
    per run on stderr."""
    random = load_random()
    plan = [(c, t, s) for s in seeds for t in tasks for c in configs]
    counts = {"done": 0, "ran": 0, "shared": 0, "failed": 0}
    keys: dict[tuple[str, str, int], str | None] = {}

    def key(config: Config, task: Task, seed: int) -> str | None:
        if (config.name, task.env_id, seed) not in keys:
            folder = run_dir(out, config.name, task, seed)
            keys[config.name, task.env_id, seed] = resolver(
                train_command(config, task, seed, budget, workers, folder)
            )
        return keys[config.name, task.env_id, seed]

    for i, (config, task, seed) in enumerate(plan, 1):
        folder = run_dir(out, config.name, task, seed)
        head = f"[{i}/{len(plan)}] {config.name} {task.env_id} seed {seed}:"
        summary = read_summary(folder)
        if summary is not None:
            counts["done"] += 1
            print(f"{head} finished before ({describe(summary, task, random)})", file=sys.stderr, flush=True)
            continue
        twins = [
            c
            for c in configs
            if c.name != config.name
            and c.algo == config.algo
            and read_summary(run_dir(out, c.name, task, seed)) is not None
            and not (run_dir(out, c.name, task, seed) / SHARED_FILE).exists()
        ]
        mine = key(config, task, seed) if twins else None
        twin = next((c for c in twins if mine is not None and key(c, task, seed) == mine), None)
        if twin is not None:
            share(folder, run_dir(out, twin.name, task, seed), twin.name)
            counts["shared"] += 1
            summary = read_summary(folder) or {}
            print(
                f"{head} the same options as {twin.name}'s run, shared ({describe(summary, task, random)})",
                file=sys.stderr,
                flush=True,
            )
            continue
        cmd = train_command(config, task, seed, budget, workers, folder)
        (folder / SHARED_FILE).unlink(missing_ok=True)  # a share that was interrupted
        if folder.exists():  # an interrupted or failed run: start it again from scratch
            cmd.append("--force")
        log = folder.parent / f"seed{seed}.log"
        t0 = time.perf_counter()
        code = runner(cmd, log, budget + max(600.0, budget / 2))
        elapsed = time.perf_counter() - t0
        summary = read_summary(folder)
        if code != 0 or summary is None:
            counts["failed"] += 1
            why = "timed out" if code == -1 else f"exit {code}"
            print(f"{head} FAILED ({why}: {last_line(log)}; log {log})", file=sys.stderr, flush=True)
            continue
        counts["ran"] += 1
        print(f"{head} {describe(summary, task, random)}, {elapsed:.1f} s", file=sys.stderr, flush=True)
    return counts


def describe(summary: dict[str, Any], task: Task, random: dict[str, float]) -> str:
    ret = float(summary["eval_mean_return"])
    text = f"eval {ret:.4g}"
    if task.env_id in random:
        text += f", normalised {normalise(ret, random[task.env_id], task.reference):.3f}"
    return text


# ------------------------------------------------------------------------------ aggregation


def collect(out: Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Finished runs of ``out``: config -> env id -> [(seed, eval_mean_return)], sorted by seed."""
    found: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for path in sorted((out / "runs").glob("*/*/seed*/summary.json")):
        config = path.parents[2].name
        try:
            summary = json.loads(path.read_text())
            env_id, seed, ret = (
                str(summary["env_id"]),
                int(summary["seed"]),
                float(summary["eval_mean_return"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"warning: {path} is unreadable ({exc}), left out", file=sys.stderr)
            continue
        if env_id not in TASKS:
            print(f"warning: {path}: {env_id} is not in the task table, left out", file=sys.stderr)
            continue
        found.setdefault(config, {}).setdefault(env_id, []).append((seed, ret))
    for per_task in found.values():
        for runs in per_task.values():
            runs.sort()
    return found


@dataclass
class PartScores:
    """The normalised scores of one part: per config a (runs x tasks) matrix over the same tasks."""

    part: str
    tasks: list[str]
    matrices: dict[str, np.ndarray]
    left_out: list[str]


def part_scores(
    found: dict[str, dict[str, list[tuple[int, float]]]], part: str, random: dict[str, float]
) -> PartScores:
    """The tasks of ``part`` that every config with runs in the part finished at least once; each
    config's matrix has as many rows as its fewest finished seeds on those tasks (its lowest seeds)."""
    in_part = tasks_of(part)
    configs = sorted(c for c in found if any(found[c].get(t.env_id) for t in in_part))
    done = [t for t in in_part if configs and all(found[c].get(t.env_id) for c in configs)]
    missing = [t.env_id for t in done if t.env_id not in random]
    if missing:
        raise SystemExit(
            f"no random score for {', '.join(missing)} in {RANDOM_FILE}: "
            "run benchmarks/defaults.py --measure-random"
        )
    left_out = [t.env_id for t in in_part if t not in done and any(found[c].get(t.env_id) for c in configs)]
    matrices: dict[str, np.ndarray] = {}
    if done:
        for c in configs:
            rows = min(len(found[c][t.env_id]) for t in done)
            columns = [
                [normalise(ret, random[t.env_id], t.reference) for _, ret in found[c][t.env_id][:rows]]
                for t in done
            ]
            matrices[c] = np.array(columns, dtype=float).T
    return PartScores(part, [t.env_id for t in done], matrices, left_out)


def aggregate_all(scores: np.ndarray) -> np.ndarray:
    """IQM, median, mean and optimality gap of a (runs x tasks) matrix, as rliable computes them."""
    from rliable import metrics

    return np.array(
        [
            metrics.aggregate_iqm(scores),
            metrics.aggregate_median(scores),
            metrics.aggregate_mean(scores),
            metrics.aggregate_optimality_gap(scores, 1.0),
        ]
    )


def interval_estimates(
    matrices: dict[str, np.ndarray], reps: int, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """rliable's point estimates (4,) and stratified bootstrap 95% CIs (2 x 4) of :func:`aggregate_all`."""
    from rliable import library as rly

    with warnings.catch_warnings():  # rliable hands arch a random_state, which arch 7 deprecates
        warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
        return rly.get_interval_estimates(
            matrices, aggregate_all, reps=reps, random_state=np.random.RandomState(seed)
        )


def table(scores: PartScores, reps: int) -> str:
    """The markdown table of one part."""
    head = f"### {scores.part}: {len(scores.tasks)} of {len(tasks_of(scores.part))} tasks"
    if not scores.matrices:
        return f"{head}\n\nno task of this part was finished by every config.\n"
    lines = [head, "", "tasks: " + ", ".join(scores.tasks)]
    if scores.left_out:
        lines.append("left out (not finished by every config): " + ", ".join(scores.left_out))
    lines += [
        "",
        "| config | runs | IQM [95% CI] | median | mean | optimality gap |",
        "|---|---:|---|---:|---:|---:|",
    ]
    points, cis = interval_estimates(scores.matrices, reps)
    best = max(points, key=lambda c: points[c][0])
    for config, matrix in scores.matrices.items():
        p, ci = points[config], cis[config]
        name = f"**{config}**" if len(points) > 1 and config == best else config
        lines.append(
            f"| {name} | {matrix.size} ({matrix.shape[0]} x {matrix.shape[1]}) | "
            f"{p[0]:.3f} [{ci[0][0]:.3f}, {ci[1][0]:.3f}] | {p[1]:.3f} | {p[2]:.3f} | {p[3]:.3f} |"
        )
    lines += ["", *per_task(scores)]
    return "\n".join(lines) + "\n"


def per_task(scores: PartScores) -> list[str]:
    """Each task's mean normalised score per config (its runs' mean): where the aggregate comes from."""
    configs = list(scores.matrices)
    lines = [
        "| task | " + " | ".join(configs) + " |",
        "|---|" + "---:|" * len(configs),
    ]
    for j, task in enumerate(scores.tasks):
        cells = [f"{scores.matrices[c][:, j].mean():.3f}" for c in configs]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines


def plot_profiles(parts: Sequence[PartScores], path: Path) -> Path | None:
    """rliable's performance profiles (score distributions, 95% CIs) of each part, one panel each."""
    shown = [p for p in parts if p.matrices]
    if not shown:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library as rly
    from rliable import plot_utils

    fig, axes = plt.subplots(1, len(shown), figsize=(6.5 * len(shown), 4.5), squeeze=False)
    for ax, scores in zip(axes[0], shown, strict=True):
        values = np.concatenate([m.ravel() for m in scores.matrices.values()])
        lo, hi = min(0.0, float(values.min())), max(1.25, float(values.max()))
        taus = np.linspace(lo, hi, 101)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
            profiles, cis = rly.create_performance_profile(scores.matrices, taus, reps=2000)
        ticks = [float(t) for t in np.round(np.linspace(lo, hi, 6), 2)]
        plot_utils.plot_performance_profiles(
            profiles,
            taus,
            performance_profile_cis=cis,
            ax=ax,
            xticks=ticks,
            xlabel=r"normalised score $\tau$",
        )
        ax.set_title(f"{scores.part}: {len(scores.tasks)} tasks", fontsize="large")
        ax.legend(loc="lower left", fontsize="medium")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def shared_runs(out: Path) -> dict[tuple[str, str], int]:
    """(config, the config whose runs it shares) -> how many finished runs it shares."""
    counts: dict[tuple[str, str], int] = {}
    for path in sorted((out / "runs").glob(f"*/*/seed*/{SHARED_FILE}")):
        if not (path.parent / "summary.json").exists():
            continue
        try:
            source = str(json.loads(path.read_text())["same_as"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        pair = (path.parents[2].name, source)
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def report(out: Path, parts: Sequence[str], reps: int, random: dict[str, float] | None = None) -> str:
    """Print the tables of ``parts`` (also DIR/report.md) and plot DIR/performance_profile.png."""
    found = collect(out)
    random = load_random() if random is None else random
    scored = [part_scores(found, part, random) for part in parts]
    text = "\n".join(table(s, reps) for s in scored)
    shared = shared_runs(out)
    if shared:
        text += (
            "\nshared runs (the same options after resolution, run once): "
            + "; ".join(f"{n} of {config}'s are {source}'s" for (config, source), n in sorted(shared.items()))
            + "\n"
        )
    png = plot_profiles(scored, out / PLOT_FILE)
    text += f"\nperformance profiles: {png}\n" if png else "\nno performance profile: nothing finished\n"
    print(text)
    (out / "report.md").write_text(text)
    return text


# ----------------------------------------------------------------------------- random scores


def measure_random(
    tasks: Sequence[Task], episodes: int, seed: int, path: Path = RANDOM_FILE
) -> dict[str, Any]:
    """Mean return of a uniformly random policy on each task, merged into ``path``."""
    from policysearch.envs import make_env

    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data.update(
        policy="uniform random (env.action_space.sample(), action space seeded with SEED)",
        episodes=episodes,
        seed=seed,
        resets="env.reset(seed=SEED + episode)",
    )
    measured = data.setdefault("tasks", {})
    for task in tasks:
        t0 = time.perf_counter()
        env = make_env(task.env_id)
        env.action_space.seed(seed)
        returns = []
        for episode in range(episodes):
            env.reset(seed=seed + episode)
            total, over = 0.0, False
            while not over:
                _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
                total += float(reward)
                over = bool(terminated or truncated)
            returns.append(total)
        env.close()
        measured[task.env_id] = {
            "mean": round(float(np.mean(returns)), 4),
            "std": round(float(np.std(returns)), 4),
            "episodes": episodes,
        }
        print(
            f"{task.env_id}: {np.mean(returns):.4g} +- {np.std(returns):.3g} "
            f"({time.perf_counter() - t0:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    data["tasks"] = {k: measured[k] for k in sorted(measured)}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


# ---------------------------------------------------------------------------------- commands


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", type=Path, help="the suite's folder (runs/, suite.json, report.md, the plot)")
    p.add_argument("--part", choices=(*PARTS, "all"), default=None, help="default: all")
    p.add_argument("--tasks", nargs="+", default=None, help="only these env ids of the part")
    p.add_argument("--algos", nargs="+", default=None, choices=ALGOS, help="configs ALGO-defaults")
    p.add_argument("--config", action="append", default=[], metavar="NAME=EXTRA_ARGS")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="default: 0 1 2")
    p.add_argument("--budget-seconds", type=float, default=None, help="--max-seconds per run (default 300)")
    p.add_argument("--workers", type=int, default=None, help="--workers per run (default 2)")
    p.add_argument("--resume", action="store_true", help="the configs, seeds, parts and budget of DIR")
    p.add_argument("--report-only", action="store_true", help="only read DIR, print and plot")
    p.add_argument("--reps", type=int, default=10_000, help="bootstrap replications of the CIs")
    p.add_argument(
        "--measure-random", action="store_true", help=f"measure the random scores into {RANDOM_FILE.name}"
    )
    p.add_argument("--episodes", type=int, default=20, help="episodes per task of --measure-random")
    p.add_argument("--random-seed", type=int, default=0, help="seed of --measure-random")
    return p.parse_args(argv)


def select_tasks(part: str, names: Sequence[str] | None) -> list[Task]:
    tasks = tasks_of(part)
    if names is None:
        return tasks
    unknown = [n for n in names if n not in {t.env_id for t in tasks}]
    if unknown:
        raise SystemExit(
            f"not tasks of part {part!r}: {', '.join(unknown)} (see benchmarks/defaults_tasks.py)"
        )
    return [t for t in tasks if t.env_id in names]


def load_suite(out: Path) -> dict[str, Any]:
    path = out / SUITE_FILE
    return dict(json.loads(path.read_text())) if path.exists() else {}


Group = tuple[list[Config], list[Task], list[int]]


def resolve(args: argparse.Namespace) -> tuple[list[Group], float, int]:
    """The suite to run, as groups of configs x tasks x seeds, and the budget and workers.

    From the command line, merged with (and checked against) DIR/suite.json, which records each
    invocation's own configs, tasks and seeds. ``--resume`` runs again what each invocation
    asked for, not every config on every task ever given: a config chosen on the tuning part and
    the rejected candidates must not all reach the holdout part.
    """
    stored = load_suite(args.out)
    if args.resume:
        if not stored:
            raise SystemExit(f"--resume: no {SUITE_FILE} in {args.out}")
        extras = stored["configs"]
        calls = stored.get("invocations") or [  # a suite.json from before invocations were kept
            {"configs": list(extras), "tasks": stored["tasks"], "seeds": stored["seeds"]}
        ]
        groups = [
            (
                [Config(n, extras[n]) for n in call["configs"]],
                [TASKS[t] for t in call["tasks"] if t in TASKS],
                list(call["seeds"]),
            )
            for call in calls
        ]
        return groups, float(stored["budget_seconds"]), int(stored["workers"])
    try:
        configs = [parse_config(c) for c in args.config]
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    configs += [Config(f"{a}-defaults") for a in (args.algos or ([] if configs else ["es"]))]
    if len({c.name for c in configs}) != len(configs):
        raise SystemExit("a config name is given twice")
    for c in configs:
        if c.name in stored.get("configs", {}) and stored["configs"][c.name] != c.extra:
            raise SystemExit(
                f"config {c.name} was run in {args.out} with {stored['configs'][c.name]!r}, not {c.extra!r}: "
                "give it another name"
            )
    budget = 300.0 if args.budget_seconds is None else args.budget_seconds
    if stored and float(stored["budget_seconds"]) != budget:
        raise SystemExit(
            f"{args.out} holds runs with a budget of {stored['budget_seconds']:g} s, not {budget:g} s: "
            "use another --out"
        )
    workers = int(stored.get("workers", 2)) if args.workers is None else args.workers
    if stored and int(stored.get("workers", workers)) != workers:
        raise SystemExit(
            f"{args.out} holds runs with --workers {stored['workers']}, not {workers}: a wall-time budget "
            "buys other runs with other workers; use another --out"
        )
    tasks = select_tasks(args.part or "all", args.tasks)
    seeds = [0, 1, 2] if args.seeds is None else args.seeds
    merged = {
        "budget_seconds": budget,
        "workers": workers,
        "configs": {**stored.get("configs", {}), **{c.name: c.extra for c in configs}},
        "tasks": [t for t in TASKS if t in set(stored.get("tasks", [])) | {t.env_id for t in tasks}],
        "seeds": sorted(set(stored.get("seeds", [])) | set(seeds)),
        "invocations": [
            *stored.get("invocations", []),
            {"configs": [c.name for c in configs], "tasks": [t.env_id for t in tasks], "seeds": seeds},
        ],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / f".{SUITE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(merged, indent=2) + "\n")
    tmp.replace(args.out / SUITE_FILE)
    return [(configs, tasks, seeds)], budget, workers


def main(
    argv: Sequence[str] | None = None, runner: Runner = train, resolver: Resolver = resolved_options
) -> int:
    args = parse_args(argv)
    if args.measure_random:
        measure_random(select_tasks(args.part or "all", args.tasks), args.episodes, args.random_seed)
        return 0
    if args.out is None:
        raise SystemExit("--out DIR is required")
    parts = list(PARTS) if (args.part or "all") == "all" else [args.part]
    if not args.report_only:
        groups, budget, workers = resolve(args)
        for configs, tasks, seeds in groups:
            runs = len(configs) * len(tasks) * len(seeds)
            print(
                f"{runs} runs: {len(configs)} configs x {len(tasks)} tasks x {len(seeds)} seeds, "
                f"{budget:g} s each with {workers} workers, into {args.out}/runs",
                file=sys.stderr,
            )
            counts = run_suite(args.out, configs, tasks, seeds, budget, workers, runner, resolver)
            print(
                f"finished before: {counts['done']}, ran: {counts['ran']}, shared: {counts['shared']}, "
                f"failed: {counts['failed']}",
                file=sys.stderr,
            )
        if args.resume:
            parts = sorted({t.part for _, tasks, _ in groups for t in tasks}, key=PARTS.index)
    report(args.out, parts, args.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
