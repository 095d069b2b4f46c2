"""Losing the Ray head mid-run, on a cluster of its own (the head does not come back).

The driver runs in the head's namespace; the head's Ray processes (GCS, raylet, its actor) are
SIGKILLed, the driver is not. Ray then ends the driver's process from its C++ core, which the
command line's parent process (:mod:`policysearch.cli.supervisor`) turns into one line: the run stops
with exit 2, its last checkpoint intact, and ``train --resume`` on the local backend continues it
to the uninterrupted result.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from raynodes import Cluster, cluster_fixture  # noqa: F401 (the cluster fixture)
from test_ray import assert_same_run, local_run, start_long_run

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray-head")]


def children(pid: int) -> list[int]:
    """The descendants of ``pid`` (from /proc)."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, pp in parent.items() if pp == current]
        found += kids
        frontier += kids
    return found


def test_losing_the_head_stops_with_exit_2_and_resumes_locally(cluster: Cluster, tmp_path: Path) -> None:
    folder, log = tmp_path / "remote", tmp_path / "log"
    proc, _, hyper = start_long_run(cluster, folder, log)
    driver = {proc.pid, *children(proc.pid)}
    for pid in cluster.pids(cluster.a):  # the head's Ray processes, not the driver's two
        if pid not in driver:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    code = proc.wait(timeout=300)
    text = log.read_text()
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert code == 2, text
    assert "Traceback" not in text and "--resume" in lines[-1], text
    assert 3 <= len((folder / "metrics.jsonl").read_text().splitlines()) < 20
    resume = [sys.executable, "-m", "policysearch", "train", "--resume", str(folder), "--backend", "local"]
    again = subprocess.run(
        [*resume, "--quiet"], env=cluster.env(), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    local_run("es", "CartPole-v1", "linear", 20, hyper, tmp_path / "local")
    assert_same_run(folder, tmp_path / "local")
