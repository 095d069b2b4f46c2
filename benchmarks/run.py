"""Benchmarks of policysearch: time-to-target of its algorithms, peers side by side, throughput.

What it measures:

1. Time-to-target, per config (algorithm, env, policy, extra options) and seed. The real
   command-line tool is run as a subprocess, exactly as a user would run it::

       .venv/bin/policysearch train ALGO --env ENV --seed S --target T --max-seconds CAP \\
           --out RUNS/CONFIG/ENV/seedS --quiet [--eval-episodes N] [--policy P] [EXTRA ...]

   and the run folder's summary.json is read (solved, wall_time_s, env_steps, iterations, eval_mean_return).
   Two suites, edited in the tables of benchmarks/suites.py: ``tabular`` (tabular CEM on
   toy-text envs, the default) and ``neural`` (cem, es and cmaes with neural policies on classic
   control, Box2D, MuJoCo and the partially observable CartPoleNoVelocity); ``all`` is both. A third,
   ``solve`` (issue 15), runs cem, es and cmaes each as is (presets allowed) and with
   ``--no-preset`` on six control tasks over seeds 0-4, and prints per task the time to solve:
   solved count, median and worst seed's wall time and env steps, an unsolved seed counting as
   its cap; with ``--peers``, beside the peers, and our fastest median over the fastest peer's.
   ``mujoco`` does the same for ars and es on five MuJoCo locomotion tasks (Swimmer, Hopper,
   HalfCheetah, Walker2d, Ant; Humanoid with ``--envs``) at the thresholds of ARS's paper, with
   the episodes to the threshold beside the paper's, and sb3-contrib's ARS as the peer.
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
    .venv/bin/python benchmarks/run.py --suite mujoco --envs Swimmer-v5 --peers --peer-dir PEERS \\
        --peer-python /tmp/peervenv/bin/python                 # likewise, one task per run

The tables are printed to stdout (progress goes to stderr) and every row is also written as one
JSON object per line to benchmarks/results/latest.jsonl (replaced on each run): the run's meta line
at the start, each training and peer run's line as soon as it ends (so a suite stopped halfway
keeps what it measured), and the whole file again, with the tables' rows, at the end. Our runs'
folders are kept beside it, in benchmarks/results/latest.runs/CONFIG/ENV/seedN (also replaced on
each run).

A suite stopped halfway (Ctrl-C in its terminal, or SIGTERM to its whole process group: a
training run left running by itself keeps its folder in use) continues with::

    .venv/bin/python benchmarks/run.py --out benchmarks/results/latest.jsonl --resume

which reads the first invocation's arguments from the file: the runs it recorded are not run
again (those recorded with an error are), a run of ours that was stopped continues from its last
checkpoint (``policysearch train --resume``: its wall time is summed over the pieces, as the CLI
counts a resumed run's, each piece with its start-up), and a peer run that was stopped runs again
from the start (the peers' scripts have no checkpoints). The throughput rows, if any, are measured
again. The file is rewritten through a temporary file, so that a stop never leaves half of it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

# The sibling modules: already on the path when run as a script, not when loaded by file path.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import (
    acrobot_throughput_table,
    cartpole_throughput_table,
    log,
    peer_table,
    short,
    solve_table,
    throughput_table,
    train_table,
)
from runners import REPO, Job, cli_path, run_ours, run_peer
from stats import solve_rows
from suites import (
    ARS_PAPER_EPISODES,
    COURSE,
    LINEAR,
    SB3_ARS,
    SOLVE_SEEDS,
    SUITES,
    TABULAR_ENVS,
    Config,
    EnvSpec,
    PaperEpisodes,
    mujoco_configs,
    solve_configs,
)
from throughput import (
    ACROBOT_N_ENVS,
    CARTPOLE_CALL_SESSIONS,
    CARTPOLE_N_ENVS,
    RUNNER_ENVS,
    RUNNER_SESSIONS,
    SAMPLER_SESSIONS,
    acrobot_throughput,
    cartpole_throughput,
    throughput,
)

DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.jsonl"


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
                peers = {"tabular": COURSE, "mujoco": SB3_ARS}.get(args.suite, LINEAR)
                seeds = {"solve": SOLVE_SEEDS, "mujoco": (0, 1, 2)}.get(args.suite, (0,))
                envs[env_id] = EnvSpec(target, 60.0, seeds, peers)
            if target is not None:
                envs[env_id] = replace(envs[env_id], target=target)
            wanted.append(env_id)
            if not any(c.env == env_id for c in configs):  # no config for it: the default policy
                if args.suite == "solve":
                    algos = args.algos or ["cem", "es", "cmaes"]
                    configs = configs + solve_configs(env_id, algos)
                    how = "as is and with --no-preset"
                elif args.suite == "mujoco":
                    algos = args.algos or ["ars", "es"]
                    configs = configs + mujoco_configs(env_id, algos)
                    how = "as is and with --no-preset, --workers 2"
                else:
                    algos = args.algos or ["cem"]
                    configs = configs + [Config(a, env_id) for a in algos]
                    how = "with defaults"
                notes.append(f"{env_id}: no config in the suite, running {', '.join(algos)} {how}")
        order = wanted
    else:  # the suite's envs, but those run only when named (EnvSpec.optional)
        order = [e for e in dict.fromkeys(c.env for c in configs) if not envs[e].optional]
    if args.presets != "both":  # the runs as is (presets allowed), or only those with --no-preset
        configs = [c for c in configs if ("--no-preset" in c.extra) == (args.presets == "off")]
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
            "(algo, env, target, cap, policy, extra options) are tables in benchmarks/suites.py."
        ),
        epilog="example: .venv/bin/python benchmarks/run.py --suite neural --envs CartPole-v1 --seeds 0",
    )
    parser.add_argument(
        "--suite", choices=sorted(SUITES), default="tabular",
        help="tabular: tabular CEM on toy-text envs; neural: cem/es/cmaes with neural policies; "
        "all: both; solve: time to solve, cem/es/cmaes as is and with --no-preset over seeds 0-4 "
        "(hours: pick a task with --envs); mujoco: time to solve MuJoCo locomotion, ars/es as is and "
        "with --no-preset, episodes beside ARS's paper (hours: pick a task) (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--algos", nargs="+", choices=["cem", "es", "cmaes", "ars"], metavar="ALGO",
        help="keep only the configs of these algorithms (cem, es, cmaes, ars)",
    )  # fmt: skip
    parser.add_argument(
        "--presets", choices=["both", "on", "off"], default="both",
        help="solve and mujoco suites: run each algorithm as is (on) or with --no-preset (off), or both "
        "(default); also applies to the configs added for an env outside the suite",
    )  # fmt: skip
    parser.add_argument(
        "--envs", nargs="+", type=parse_env, metavar="ENV[=TARGET]",
        help="keep only these envs of the suite, in this order; ENV=TARGET changes the target or adds "
        "an env outside the suite (run with --algos, default cem, and the CLI's defaults)",
    )  # fmt: skip
    parser.add_argument(
        "--seeds", nargs="+", type=int, metavar="SEED",
        help="training seeds, for every env (default: each env's own, 0 1 2 tabular, 0 1 or 0 neural, "
        "0-4 solve, 0 1 2 or 0 1 mujoco)",
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
        "cma, evotorch, sb3-contrib (default: this interpreter)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-seconds", type=float, metavar="S",
        help="MAX_SECONDS of each peer run (default: each env's peer cap: 200 tabular, the env's cap "
        "neural, solve and mujoco)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-dir", type=Path, metavar="DIR",
        help="folder of the peer scripts (not part of this repository; needed with --peers), each "
        "called as PYTHON DIR/NAME.py ENV SEED TARGET MAX_SECONDS",
    )  # fmt: skip
    parser.add_argument(
        "--peer-scripts", nargs="+", choices=[*COURSE, *LINEAR, *SB3_ARS], metavar="NAME",
        help=f"run only these peers where an env has them ({', '.join([*COURSE, *LINEAR, *SB3_ARS])})",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="PATH",
        help="JSON lines file, replaced on each run (default: benchmarks/results/latest.jsonl); our "
        "runs' folders are kept beside it (PATH without its suffix, plus .runs)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true",
        help="continue the benchmark whose JSON lines are in --out, with that invocation's arguments: "
        "recorded runs are not run again, a stopped run of ours continues from its checkpoint, a "
        "stopped peer run starts again",
    )  # fmt: skip
    return parser


def header(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
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
        "argv": list(argv),  # what --resume parses again
        "suite": args.suite,
        "cli": cli_path(),
    }


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    """``path`` replaced by these records, one JSON line each, through a temporary file: a stop
    during the write leaves the old file whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text("".join(json.dumps(rec) + "\n" for rec in records))
    tmp.replace(path)


def append_record(path: Path, rec: dict[str, Any]) -> None:
    """One JSON line appended to ``path`` and flushed, so that a run stopped halfway keeps it."""
    with path.open("a") as fh:
        fh.write(json.dumps(rec) + "\n")


def record_key(rec: dict[str, Any]) -> tuple[str, str, str, int] | None:
    """What a training or peer record measured: (section, config or peer, env, seed)."""
    if rec.get("section") == "train":
        return ("train", str(rec["config"]), str(rec["env"]), int(rec["seed"]))
    if rec.get("section") == "peer":
        return ("peer", str(rec["script"]), str(rec["env"]), int(rec["seed"]))
    return None


def runs_dir(out: Path) -> Path:
    """Where our runs' folders are kept: beside ``out``, ``latest.jsonl`` -> ``latest.runs``."""
    return out.with_name(out.stem + ".runs")


def run_folder(out: Path, label: str, env_id: str, seed: int) -> Path:
    """One run's folder: ``RUNS/CONFIG/ENV/seedN`` (``/``, ``:`` and spaces replaced)."""
    slug = str.maketrans({"/": "_", ":": "_", " ": "_"})
    return runs_dir(out) / label.translate(slug) / env_id.translate(slug) / f"seed{seed}"


def train_and_peers(
    plan: list[tuple[str, EnvSpec, list[Job], list[int]]],
    args: argparse.Namespace,
    done: dict[tuple[str, str, str, int], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Our runs, and each env's peers right after ours on that env and seed; prints the tables.

    ``done``: records of an earlier invocation (``--resume``), by :func:`record_key`; those runs
    are taken from there, not run again.
    """
    done = done or {}
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
                before = done.get(("train", job.config.label, env_id, seed))
                if before is not None:
                    log(f"{job.config.label:>17}  {env_id} seed {seed}: recorded before, not run again")
                    ours.append(before)
                    continue
                log(f"{job.config.label:>17}  {env_id} seed {seed} target {job.target:g} cap {job.cap:g} s")
                rec = run_ours(job, seed, run_folder(args.out, job.config.label, env_id, seed))
                rec["commit"] = getattr(args, "commit", None)
                log(f"{'':>17}  {rec.get('error') or ('solved' if rec['solved'] else 'not solved')}")
                ours.append(rec)
                append_record(args.out, rec)
            if args.peers:
                cap = args.peer_seconds or spec.peer_cap or spec.cap
                for name in peer_names(spec, args):
                    before = done.get(("peer", name, env_id, seed))
                    if before is not None:
                        log(f"{name:>17}  {env_id} seed {seed} (peer): recorded before, not run again")
                        peers.append(before)
                        continue
                    log(f"{name:>17}  {env_id} seed {seed} (peer, cap {cap:g} s) ...")
                    prec = run_peer(name, env_id, seed, spec.target, cap, args)
                    prec["commit"] = getattr(args, "commit", None)
                    log(f"{'':>17}  {prec.get('error') or ('solved' if prec['solved'] else 'not solved')}")
                    peers.append(prec)
                    append_record(args.out, prec)
    print()
    print(train_table(ours))
    seen: set[tuple[str, str]] = set()
    for r in ours:  # one example command per config
        if (r["env"], r["config"]) not in seen and "cmd" in r:
            seen.add((r["env"], r["config"]))
            print(f"  {short(r['cmd'])}")
    if args.suite in ("solve", "mujoco"):
        rows = solve_rows(plan, ours, peers)
        for env_id, spec, *_ in plan:
            paper, theirs = None, None  # theirs: the paper's threshold where it is not this target
            if args.suite == "mujoco":
                paper = ARS_PAPER_EPISODES.get(env_id, PaperEpisodes(None, None))
                if paper.threshold is not None and spec.target != paper.threshold:
                    theirs, paper = paper.threshold, PaperEpisodes(None, None, paper.threshold)
            print()
            print(solve_table(env_id, rows, paper))
            if theirs is not None:
                print(f"  paper_V2, paper_V2-t: n/a: the target is {spec.target:g}, theirs {theirs:g}")
        for r in rows:
            for error in r.get("errors", []):
                print(f"  error: {r['config']} on {r['env']}: {error}")
        commits = Counter(str(r.get("commit") or "not recorded") for r in ours + peers)
        if len(commits) > 1:
            print("  commits the runs were made at: " + ", ".join(f"{c} ({n})" for c, n in commits.items()))
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


RUNS_MARKER = ".benchmark-runs"  # names a runs folder this script made (and may replace)


def resumed(
    args: argparse.Namespace, argv: Sequence[str], parser: argparse.ArgumentParser
) -> tuple[argparse.Namespace, dict[str, Any], list[dict[str, Any]]]:
    """``--resume``: the first invocation's arguments, its meta line and the runs it recorded.

    The arguments are read from the meta line of ``--out`` (the only other option allowed); a
    last line cut by the interruption is left out. Records with an error are left out too, so
    that those runs are made again.
    """
    extra: list[str] = []  # anything but --resume and --out PATH is refused
    tokens = iter(argv)
    for token in tokens:
        if token == "--out":
            next(tokens, None)  # its value
        elif token != "--resume" and not token.startswith("--out="):
            extra.append(token)
    if extra:
        parser.error(f"--resume takes only --out, not {extra[0]}: the first invocation's arguments are used")
    try:
        lines = args.out.read_text().splitlines()
    except OSError as exc:
        parser.error(f"--resume: cannot read {args.out}: {exc.strerror or exc}")
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:  # a line cut short when the benchmark was stopped
            continue
    head = records[0] if records and isinstance(records[0], dict) else {}
    if head.get("section") != "meta" or not isinstance(head.get("argv"), list):
        parser.error(f"--resume: {args.out} does not start with this benchmark's meta line")
    again = parser.parse_args([*head["argv"], "--out", str(args.out)])
    again.resume = True
    kept = [
        r for r in records[1:] if isinstance(r, dict) and record_key(r) is not None and not r.get("error")
    ]
    return again, head, kept


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    first: dict[str, Any] | None = None
    kept: list[dict[str, Any]] = []
    if args.resume:
        args, first, kept = resumed(args, argv, parser)
    if args.peers and args.peer_dir is None:
        parser.error("--peers needs --peer-dir DIR: the peer scripts' folder (not part of this repository)")
    if args.peers and not args.peer_dir.is_dir():
        parser.error(f"--peer-dir {args.peer_dir}: no such folder")
    plan, notes = select(args, parser)
    runs = runs_dir(args.out)
    if not args.resume and runs.exists():  # replaced, as --out is, if this script made it
        if not (runs / RUNS_MARKER).exists():
            parser.error(f"{runs} exists and was not made by this benchmark: move it or choose another --out")
        shutil.rmtree(runs)
    t_start = time.perf_counter()
    now = meta = header(args, argv)
    if first is not None:  # the first invocation's meta line, with this piece added
        piece = {k: now[k] for k in ("time", "commit", "loadavg")}
        meta = {**first, "resumed": [*first.get("resumed", []), piece]}
    records: list[dict[str, Any]] = [meta]
    print(
        f"policysearch benchmarks  suite {args.suite}  commit {now['commit']}  python {now['python']}  "
        f"cpus {now['cpus']}  load {' '.join(map(str, now['loadavg']))}"
    )
    if first is not None:
        print(f"resumed: first started {first['time']} at {first['commit']}; {len(kept)} runs recorded")
    for note in notes:
        print(f"note: {note}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    (runs / RUNS_MARKER).write_text(f"our runs of the benchmark whose JSON lines are {args.out.name}\n")
    # then each run's line as it ends (after the runs an earlier invocation recorded)
    write_records(args.out, [meta, *kept])
    done = {key: rec for rec in kept if (key := record_key(rec)) is not None}

    if not args.no_train or args.peers:
        args.commit = now["commit"]  # each run's record names the code it ran (a resumed suite spans several)
        records += train_and_peers(plan, args, done)

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
    write_records(args.out, records)
    print()
    print(f"total {total:.1f} s; JSON lines in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
