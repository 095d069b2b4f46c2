"""Two Ray hosts on this machine: network namespaces joined by a veth pair (see shared DESIGN.md).

Ray rewrites ``--node-ip-address=127.0.0.1`` to the machine's address and listens on every
interface, so the two nodes live in namespaces of their own, with addresses in a private /24 that
exists only inside them: nothing they open is reachable from outside, and other Ray programs on
the machine are never touched. Names are unique per test run. Teardown SIGKILLs exactly the
processes that ``ip netns pids`` lists in each namespace (Ray's head ignores SIGTERM), then deletes
the namespaces (and so the veth pair): never ``ray stop``, never a kill by name.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

RAY = str(Path(sys.executable).with_name("ray"))
PORT = 6380
#: Node death is noticed within about 3 s instead of Ray's default 15 s or more.
HEALTH = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}


def skip_or_fail(reason: str) -> None:
    """Skip with the reason; under CI (CI=true) a Ray test that cannot run fails instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"Ray cluster test cannot run under CI: {reason}")
    pytest.skip(reason)


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@dataclass
class Cluster:
    """A head in namespace ``a`` and a second node in ``b``; drivers run in ``a``."""

    a: str
    b: str
    address: str
    temp: Path

    def env(self) -> dict[str, str]:
        """The driver's environment (tests/ on the path, so that ``testenvs`` imports)."""
        tests = str(Path(__file__).parent)
        path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH", "")) if p)
        # a local Ray instance made earlier in this process (test_ray_local.py) set this to 0,
        # with which `ray start` refuses a node of a multi-node cluster
        inherited = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
        return {**inherited, "PYTHONPATH": path, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}

    def driver(self, args: list[str], **kw) -> subprocess.Popen[str]:
        """``python -m policysearch ARGS`` inside namespace ``a``."""
        cmd = ["ip", "netns", "exec", self.a, sys.executable, "-m", "policysearch", *args]
        return subprocess.Popen(cmd, env=self.env(), text=True, **kw)

    def pids(self, ns: str) -> list[int]:
        """The processes in namespace ``ns``."""
        out = _ip("netns", "pids", ns).stdout
        return [int(p) for p in out.split()]

    def kill_namespace(self, ns: str) -> None:
        """SIGKILL every process in ``ns`` (until none is left)."""
        for _ in range(20):
            pids = self.pids(ns)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)


def _start_node(ns: str, args: list[str], temp: Path, env: dict[str, str]) -> None:
    cmd = ["ip", "netns", "exec", ns, RAY, "start", *args]
    cmd += ["--num-cpus=1", "--object-store-memory=100000000", f"--temp-dir={temp}"]
    cmd += ["--disable-usage-stats"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"ray start in {ns} failed: {done.stderr[-2000:]}")


@pytest.fixture(scope="module", name="cluster")
def cluster_fixture() -> Iterator[Cluster]:
    """Two Ray nodes of one CPU each, in namespaces made for this test run."""
    if os.geteuid() != 0:
        skip_or_fail("network namespaces need root")
    if shutil.which("ip") is None or not Path(RAY).exists():
        skip_or_fail("needs iproute2's ip and Ray's ray command")
    tag = secrets.token_hex(3)
    a, b = f"psa{tag}", f"psb{tag}"
    net = f"10.{200 + int(tag[:2], 16) % 50}.{int(tag[2:4], 16)}"
    made = _ip("netns", "add", a)
    if made.returncode != 0:
        skip_or_fail(f"cannot make a network namespace: {made.stderr.strip()}")
    temp = Path(f"/tmp/psr{tag}")
    cluster = Cluster(a, b, f"{net}.1:{PORT}", temp)
    try:
        steps = [
            ("netns", "add", b),
            ("link", "add", f"va{tag}", "type", "veth", "peer", "name", f"vb{tag}"),
            ("link", "set", f"va{tag}", "netns", a),
            ("link", "set", f"vb{tag}", "netns", b),
            ("-n", a, "addr", "add", f"{net}.1/24", "dev", f"va{tag}"),
            ("-n", b, "addr", "add", f"{net}.2/24", "dev", f"vb{tag}"),
            ("-n", a, "link", "set", f"va{tag}", "up"),
            ("-n", b, "link", "set", f"vb{tag}", "up"),
            ("-n", a, "link", "set", "lo", "up"),
            ("-n", b, "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                skip_or_fail(f"ip {' '.join(step)}: {done.stderr.strip()}")
        env = {**cluster.env(), **HEALTH}
        _start_node(
            a,
            ["--head", f"--node-ip-address={net}.1", f"--port={PORT}", "--include-dashboard=false"],
            temp / "a",
            env,
        )
        _start_node(
            b,
            [
                f"--address={cluster.address}",
                f"--node-ip-address={net}.2",
                "--dashboard-agent-listen-port=52366",
            ],
            temp / "b",
            env,
        )
        _wait_for_nodes(cluster, 2)
        yield cluster
    finally:
        for ns in (a, b):
            cluster.kill_namespace(ns)
            _ip("netns", "del", ns)
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_nodes(cluster: Cluster, count: int, timeout: float = 90) -> None:
    script = (
        "import ray, sys, time\n"
        f"ray.init(address={cluster.address!r}, logging_level='ERROR', log_to_driver=False)\n"
        f"end = time.time() + {timeout}\n"
        f"while sum(n['Alive'] for n in ray.nodes()) < {count} and time.time() < end:\n"
        "    time.sleep(0.5)\n"
        f"sys.exit(0 if sum(n['Alive'] for n in ray.nodes()) >= {count} else 1)\n"
    )
    cmd = ["ip", "netns", "exec", cluster.a, sys.executable, "-c", script]
    done = subprocess.run(cmd, env=cluster.env(), capture_output=True, text=True, timeout=timeout + 60)
    if done.returncode != 0:
        raise RuntimeError(f"the two Ray nodes did not join: {done.stderr[-2000:]}")
