"""The Ray backend for real, as two hosts: network namespaces on this machine (tests/raynodes.py).

The driver runs inside the head's namespace with the cluster's address given explicitly. Every
run is compared with the same run in this process: identical metrics.jsonl (apart from timings
and worker_restarts), summary and final policy.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import metrics_without_timings
from policysearch import Trainer, TrainOptions
from policysearch.run.runfolder import load_checkpoint
from raynodes import Cluster, cluster_fixture  # noqa: F401 (the cluster fixture)

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

SAME_SUMMARY = ("iterations", "env_steps", "episodes", "eval_mean_return", "eval_std_return", "solved")


def cli_args(algo: str, env: str, policy: str, iterations: int, hyper: dict, out: Path) -> list[str]:
    args = ["train", algo, "--env", env, "--policy", policy, "--seed", "5"]
    args += ["--max-iterations", str(iterations), "--out", str(out), "--quiet"]
    for k, v in hyper.items():
        args += ["--set", f"{k}={json.dumps(v) if isinstance(v, list) else v}"]
    return args


def local_run(algo: str, env: str, policy: str, iterations: int, hyper: dict, out: Path) -> None:
    opts = TrainOptions(
        algorithm=algo, env_id=env, policy=policy, seed=5, max_iterations=iterations, out=str(out)
    )
    opts.hyperparameters = hyper
    Trainer(opts).train()


def assert_same_run(a: Path, b: Path) -> None:
    assert metrics_without_timings(a) == metrics_without_timings(b)
    sa, sb = (json.loads((f / "summary.json").read_text()) for f in (a, b))
    assert {k: sa[k] for k in SAME_SUMMARY} == {k: sb[k] for k in SAME_SUMMARY}
    (_, xa), (_, xb) = load_checkpoint(a), load_checkpoint(b)
    assert xa.keys() == xb.keys()
    for key in xa:
        np.testing.assert_array_equal(xa[key], xb[key], err_msg=key)


def sessions_by_node(stderr: str) -> list[int]:
    line = next(ln for ln in stderr.splitlines() if ln.startswith("ray: sessions played:"))
    return [int(n) for n in re.findall(r"(\d+) on node", line)]


@pytest.mark.parametrize(
    ("algo", "env", "policy", "hyper"),
    [
        ("cem", "testenvs:DyingCartPole-v1", "mlp", {"n_sessions": 40, "hidden": [8]}),
        ("cem", "CartPole-v1", "gru", {"n_sessions": 40, "hidden": [8]}),
        ("es", "CartPole-v1", "linear", {"population": 20, "sigma_schedule": "adaptive"}),
    ],
)
def test_two_nodes_give_the_local_result(cluster: Cluster, tmp_path: Path, algo, env, policy, hyper) -> None:
    """CEM (MLP on a custom env whose module is shipped to the nodes, GRU) and ES on both nodes."""
    remote, local = tmp_path / "remote", tmp_path / "local"
    args = cli_args(algo, env, policy, 3, hyper, remote)
    proc = cluster.driver(
        [*args, "--backend", "ray", "--address", cluster.address, "--workers", "2"], stderr=subprocess.PIPE
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    played = sessions_by_node(err)
    assert len(played) == 2 and min(played) > 0, err  # both nodes did work
    local_run(algo, env, policy, 3, hyper, local)
    assert_same_run(remote, local)


def start_long_run(cluster: Cluster, folder: Path, log: Path) -> tuple:
    hyper = {"population": 40, "sigma_schedule": "adaptive"}
    args = cli_args("es", "CartPole-v1", "linear", 20, hyper, folder)
    proc = cluster.driver(
        [*args, "--backend", "ray", "--address", cluster.address, "--workers", "2"], stderr=log.open("w")
    )
    deadline = time.time() + 120
    pids: list[int] = []
    while time.time() < deadline and proc.poll() is None:
        match = re.search(r"actor pids ([\d, ]+)\)", log.read_text())
        metrics = folder / "metrics.jsonl"
        if match and metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            pids = [int(p) for p in match[1].split(",")]
            break
        time.sleep(0.05)
    assert pids, log.read_text()
    return proc, pids, hyper


def restarts(folder: Path) -> int:
    return sum(
        json.loads(ln)["worker_restarts"] for ln in (folder / "metrics.jsonl").read_text().splitlines()
    )


def test_a_killed_actor_process_costs_only_time(cluster: Cluster, tmp_path: Path) -> None:
    folder = tmp_path / "remote"
    proc, pids, hyper = start_long_run(cluster, folder, tmp_path / "log")
    on_b = [p for p in pids if p in cluster.pids(cluster.b)]
    assert len(on_b) == 1
    os.kill(on_b[0], signal.SIGKILL)
    assert proc.wait(timeout=300) == 0, (tmp_path / "log").read_text()
    assert restarts(folder) >= 1
    assert len(metrics_without_timings(folder)) == 20
    local_run("es", "CartPole-v1", "linear", 20, hyper, tmp_path / "local")
    assert_same_run(folder, tmp_path / "local")


def test_losing_a_whole_node_costs_only_time(cluster: Cluster, tmp_path: Path) -> None:
    """Runs last: the second node stays dead. The run ends on the head's actor, or stops with exit 2
    and resumes there to the same result."""
    folder = tmp_path / "remote"
    proc, _, hyper = start_long_run(cluster, folder, tmp_path / "log")
    cluster.kill_namespace(cluster.b)
    code = proc.wait(timeout=300)
    log = (tmp_path / "log").read_text()
    if code == 2:
        assert "--resume" in log.strip().splitlines()[-1], log
        resume = ["train", "--resume", str(folder), "--backend", "ray", "--address", cluster.address]
        again = cluster.driver([*resume, "--workers", "1", "--quiet"])
        code = again.wait(timeout=300)
    assert code == 0, log
    assert restarts(folder) >= 1, log
    local_run("es", "CartPole-v1", "linear", 20, hyper, tmp_path / "local")
    assert_same_run(folder, tmp_path / "local")
