"""One run as a subprocess: ours (``policysearch train``, its summary.json) and a peer script's."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suites import Config

REPO = Path(__file__).resolve().parent.parent


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


def ours_command(job: Job, seed: int, folder: Path) -> list[str]:
    """The ``policysearch train`` command of one of our runs, into ``folder``."""
    cfg = job.config
    cmd = [
        cli_path(), "train", cfg.algo, "--env", cfg.env, "--seed", str(seed),
        "--target", f"{job.target:g}", "--max-seconds", f"{job.cap:g}", "--out", str(folder), "--quiet",
    ]  # fmt: skip
    if job.eval_episodes is not None:
        cmd += ["--eval-episodes", str(job.eval_episodes)]
    if cfg.policy:
        cmd += ["--policy", cfg.policy]
    return cmd + shlex.split(cfg.extra)


def run_ours(job: Job, seed: int, folder: Path) -> dict[str, Any]:
    """One `policysearch train` run in ``folder`` (kept afterwards); returns its summary.

    A folder that holds a summary.json is read, not run again; one that holds a checkpoint but no
    summary (the benchmark was stopped during the run) continues with ``policysearch train
    --resume`` and the job's budget and target, so that its wall time is summed over the pieces as
    in one run; any other folder is trained from the start (``--force`` over what a stopped start
    left).
    """
    cfg = job.config
    cmd = ours_command(job, seed, folder)
    record: dict[str, Any] = {
        "section": "train", "config": cfg.label, "algo": cfg.algo, "policy": cfg.policy,
        "extra": cfg.extra, "env": cfg.env, "seed": seed, "target": job.target, "cap_s": job.cap,
        "cmd": shlex.join(cmd),
    }  # fmt: skip
    if (folder / "summary.json").exists():
        return {**record, **_summary(folder)}
    if (folder / "checkpoint").exists():
        record["resumed"] = True
        resume = [cli_path(), "train", "--resume", str(folder), "--target", f"{job.target:g}"]
        return _train(job, [*resume, "--max-seconds", f"{job.cap:g}", "--quiet"], folder, record)
    return _train(job, [*cmd, "--force"] if folder.exists() else cmd, folder, record)


def _train(job: Job, cmd: list[str], folder: Path, record: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=REPO, capture_output=True, text=True, timeout=job.cap + max(120.0, job.cap / 2)
        )
    except subprocess.TimeoutExpired:
        return {**record, "error": "timed out"}
    # the whole process, imports included; of a resumed run only the last piece's (the tables'
    # median_process_s leaves it out)
    record["last_piece_s" if record.get("resumed") else "process_s"] = round(time.perf_counter() - t0, 3)
    if proc.returncode != 0 or not (folder / "summary.json").exists():
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return {**record, "error": f"exit {proc.returncode}: {lines[-1] if lines else ''}"}
    return {**record, **_summary(folder)}


def _summary(folder: Path) -> dict[str, Any]:
    """The figures the tables read from a finished run's summary.json."""
    summary = json.loads((folder / "summary.json").read_text())
    keys = (
        "solved", "wall_time_s", "env_steps", "episodes", "iterations", "eval_mean_return",
        "eval_std_return", "eval_episodes",
    )  # fmt: skip
    return {k: summary.get(k) for k in keys}


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
