"""Checkpoint benchmark: what writing one iteration's checkpoint costs at Humanoid size.

    .venv/bin/python benchmarks/checkpoint.py [--env Humanoid-v5] [--repeats 20]

The trainer writes the checkpoint after every iteration (atomically: a new file, then a rename).
For ``es`` and ``ars`` with their linear policy on ``--env`` (Humanoid-v5: 5,950 weights), builds
the run as ``train`` does, writes the checkpoint ``--repeats`` times into a fresh folder and prints
the median and the slowest write with the checkpoint's size on disk. ``cmaes`` is listed with the
line it refuses this size with: its two n x n matrices would be written in full every iteration.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import policysearch
from policysearch.errors import ConfigError

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaling import table  # the same fixed-width table as the physics benchmark


def measure(algorithm: str, env: str, repeats: int) -> dict[str, Any]:
    """One algorithm's checkpoint: numbers in its state, bytes on disk, median and slowest write in ms."""
    try:
        agent = getattr(policysearch, algorithm.upper())(env, policy="linear")
    except ConfigError as exc:
        return {"algorithm": algorithm, "numbers": "-", "bytes": "-", "median_ms": "-", "worst_ms": str(exc)}
    trainer = agent._trainer
    numbers = sum(a.size for a in trainer.algorithm.state_arrays().values())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        trainer.save(folder)  # the first write, not timed
        times = []
        for _ in range(repeats):
            tick = time.perf_counter()
            trainer.save(folder)
            times.append(1e3 * (time.perf_counter() - tick))
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {
        "algorithm": algorithm,
        "numbers": numbers,
        "bytes": size,
        "median_ms": float(np.median(times)),
        "worst_ms": f"{max(times):.3g}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="Humanoid-v5")
    parser.add_argument("--repeats", type=int, default=20, help="checkpoints written per algorithm")
    args = parser.parse_args()
    rows = [measure(algorithm, args.env, args.repeats) for algorithm in ("es", "ars", "cmaes")]
    table(f"Checkpoint of one iteration, {args.env}, linear policy ({args.repeats} writes)", rows)


if __name__ == "__main__":
    main()
