"""Soak test: 20 random SIGKILL, SIGINT and SIGTERM interruptions, each followed by a resume.

Across tabular CEM (Taxi), neural CEM sampling with two worker processes (CartPole) and ES
(CartPole), the runs must end with the metrics of an uninterrupted run (apart from timings) and
a metrics.jsonl that counts its iterations one by one. Seeded: the same schedule every time.
"""

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import metrics_without_timings
from policysearch.run.runfolder import CHECKPOINT, LOCK, read_metrics
from test_fault_corpus import cli, iterations_written, one_line, start, wait_for

RUNS = {
    "tabular CEM on Taxi": (["cem", "--env", "Taxi-v4", "--set", "n_sessions=2000"], 60, 7),
    "neural CEM on CartPole, 2 workers": (
        ["cem", "--env", "CartPole-v1", "--set", "n_sessions=100", "--workers", "2"],
        20,
        7,
    ),
    "ES on CartPole": (["es", "--env", "CartPole-v1"], 25, 6),
}
KINDS = {signal.SIGKILL: -signal.SIGKILL, signal.SIGINT: 130, signal.SIGTERM: 143}


def group_gone(pgid: int, timeout: float = 15) -> bool:
    """Whether every process of the session (the run and its workers) has ended."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_twenty_interruptions_and_resumes_give_the_uninterrupted_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(2024)
    total = sum(n for _, _, n in RUNS.values())
    assert total == 20
    kinds = list(rng.permutation([signal.SIGKILL] * 7 + [signal.SIGINT] * 7 + [signal.SIGTERM] * 6))
    seen: list[str] = []
    for name, (args, iterations, interruptions) in RUNS.items():
        folder, straight = tmp_path / f"{len(seen)}-soaked", tmp_path / f"{len(seen)}-straight"
        budget = ["--max-iterations", str(iterations), "--quiet"]
        code, _, err = cli(["train", *args, *budget, "--out", straight])
        assert code == 0, err
        command = ["train", *args, *budget, "--out", folder]
        for _ in range(interruptions):
            done = iterations_written(folder)
            proc = start(command)
            wait_for(lambda f=folder, d=done: (f / CHECKPOINT).exists() and iterations_written(f) > d, proc)
            time.sleep(rng.uniform(0, 0.3))  # anywhere in the iteration: sampling, update, writing
            signum = kinds.pop()
            if signum == signal.SIGINT:
                os.killpg(proc.pid, signum)  # Ctrl-C: the run and its workers
            else:
                os.kill(proc.pid, signum)
            _, err = proc.communicate(timeout=60)
            if proc.returncode == 0:  # it was in its last steps; the run ended on its own
                break
            assert proc.returncode == KINDS[signum], err
            if signum != signal.SIGKILL:
                one_line(err, f"resume with: policysearch train --resume {folder}")
            assert group_gone(proc.pid), "a worker outlived its run"
            seen.append(f"{name}: {signal.Signals(signum).name} after iteration {iterations_written(folder)}")
            command = ["train", "--resume", folder, "--quiet"]
        code, _, err = cli(["train", "--resume", folder, "--quiet"])
        assert code == 0, err
        assert not (folder / LOCK).exists()
        assert [r["iteration"] for r in read_metrics(folder)] == list(range(1, iterations + 1))
        assert metrics_without_timings(folder) == metrics_without_timings(straight), name
    assert len(seen) == 20, seen
