"""One run as a subprocess: ours (``policysearch train``, its summary.json) and a peer script's."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
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
    keys = (
        "solved", "wall_time_s", "env_steps", "episodes", "iterations", "eval_mean_return",
        "eval_std_return", "eval_episodes",
    )  # fmt: skip
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
