"""The Ray backend on a local instance of its own, and its bad input (no cluster needed)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import metrics_without_timings, run_cli
from policysearch import Trainer, TrainOptions
from policysearch.errors import BackendError, ConfigError
from policysearch.sampling import raycluster

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]


def es(out: Path, **kw) -> TrainOptions:
    base = dict(algorithm="es", env_id="CartPole-v1", policy="linear", seed=2, max_iterations=3, out=str(out))
    base["hyperparameters"] = {"population": 10, "sigma_schedule": "adaptive"}
    base.update(kw)
    return TrainOptions(**base)


def test_a_local_ray_instance_gives_the_local_result(tmp_path: Path, capsys) -> None:
    Trainer(es(tmp_path / "local")).train()
    Trainer(es(tmp_path / "ray", backend="ray", workers=2)).train()
    assert metrics_without_timings(tmp_path / "local") == metrics_without_timings(tmp_path / "ray")
    a = json.loads((tmp_path / "local" / "summary.json").read_text())
    b = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert a["eval_mean_return"] == b["eval_mean_return"]
    code, out, err = run_cli(["evaluate", tmp_path / "ray", "--backend", "ray", "--workers", "2"], capsys)
    assert code == 0, err
    assert json.loads(out)["mean_return"] == a["eval_mean_return"]


def test_ray_actors_progress_is_counted_as_they_play() -> None:
    """Each actor reports its counts twice a second while it plays (and before it answers a
    share), so that the progress line moves before any share returns; the next request counts
    from 0 again. It said only "0 of 200 sessions returned by 2 Ray actors" until a share came."""
    import re

    import numpy as np

    import testenvs
    from policysearch.envs import make_env
    from policysearch.policies.numpy_policy import NumpyActor
    from policysearch.policies.spec import make_spec
    from policysearch.policies.torch_policy import TorchPolicy
    from policysearch.sampling import closed_after, make_sampler
    from test_sampling import progress_seen

    assert testenvs.Slow  # 2 ms a step, 10 steps a session
    env = make_env("testenvs:Slow-v0")
    spec = make_spec(env.observation_space, env.action_space, "linear", (), "tanh", "parameter")
    actor = NumpyActor(spec, TorchPolicy(spec).numpy_params())
    line = re.compile(r"(\d+) of 400 sessions done, ([\d,]+) env steps")
    with closed_after(make_sampler("testenvs:Slow-v0", workers=2, backend="ray")) as sampler:
        share = 400 // (2 * sampler.shares_per_worker)  # the fewest sessions a returned share adds
        # the counts actor's first answer can take more than a read's second on a busy machine
        # (the line then says "0 of 400 sessions returned by ..."): wait for it once
        waited = time.monotonic() + 60
        while sampler.transport.counted() is None and time.monotonic() < waited:
            pass
        assert sampler.transport.counted() is not None, "the counts actor never answered"
        for _ in range(2):
            seen, sessions = progress_seen(
                sampler, lambda: sampler.sample(actor, 400, np.random.default_rng(0), keep="returns")
            )
            counts = [m.groups() for m in map(line.fullmatch, seen) if m]
            assert counts and {s for s in seen if not line.fullmatch(s)} <= {""}, set(seen)
            done = [int(c[0]) for c in counts]
            steps = [int(c[1].replace(",", "")) for c in counts]
            assert done == sorted(done) and done[0] < share and max(done) <= 400  # from 0 again
            assert any(0 < d < share for d in done), sorted(set(done))  # before any share returned
            assert steps == sorted(steps) and steps[-1] <= sessions.env_steps
            assert sampler.progress() == ""


def test_ray_leaves_the_callers_environment_as_it_was(tmp_path: Path, monkeypatch) -> None:
    """The Ray variables a run sets for its instance (no usage report, sockets on 127.0.0.1) are
    removed when it ends, also when it cannot connect; a variable the caller had set stays. They
    were left in the caller's process."""
    ours = ("RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    for key in ours:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the caller's own
    Trainer(es(tmp_path / "ray", backend="ray", workers=2, max_iterations=1)).train()
    assert not any(key in os.environ for key in ours) and os.environ["RAY_AUTH_MODE"] == "disabled"
    with pytest.raises(BackendError, match="cannot reach"):
        Trainer(es(tmp_path / "far", backend="ray", address=f"127.0.0.1:{free_port()}")).train()
    assert not any(key in os.environ for key in ours) and os.environ["RAY_AUTH_MODE"] == "disabled"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--address", "nohost"], "not HOST:PORT"),
        (["--address", "10.0.0.1:99999"], "not HOST:PORT"),
        (["--address", f"127.0.0.1:{free_port()}"], "cannot reach the Ray cluster"),
        (["--workers", "64"], "--workers 64 needs 64 CPUs"),
    ],
)
def test_bad_ray_input_is_one_line_exit_2_and_no_folder(tmp_path: Path, capsys, extra, message) -> None:
    start = time.monotonic()
    args = ["train", "es", "--env", "CartPole-v1", "--backend", "ray", *extra, "--out", tmp_path / "r"]
    code, _, err = run_cli([*args, "--quiet"], capsys)
    assert time.monotonic() - start < 30
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_more_workers_than_this_machines_cpus_are_refused_before_ray_starts(monkeypatch) -> None:
    """A run's own Ray instance gets this machine's CPUs: more workers are refused before it is
    started (it took 5 s to start and stop one to say so), with the message of a cluster's
    refusal; a connection the caller made is asked instead."""
    import importlib.util
    import types

    from policysearch.errors import BackendError
    from policysearch.sampling import RunnerFactory

    def started(self):
        raise AssertionError("Ray was started")

    def ray_module(connected: bool) -> types.SimpleNamespace:  # found as installed, not imported
        spec = importlib.util.find_spec("ray")
        return types.SimpleNamespace(__spec__=spec, is_initialized=lambda: connected)

    monkeypatch.setattr(raycluster.RayTransport, "_connect", started)
    monkeypatch.setattr(raycluster.os, "cpu_count", lambda: 3)
    monkeypatch.setitem(sys.modules, "ray", ray_module(False))
    with pytest.raises(BackendError, match=r"^--workers 4 needs 4 CPUs, but the local Ray instance has 3$"):
        raycluster.RayTransport(RunnerFactory("CartPole-v1", 1), 4)
    monkeypatch.setitem(sys.modules, "ray", ray_module(True))
    with pytest.raises(AssertionError, match="Ray was started"):  # the caller's cluster may have more
        raycluster.RayTransport(RunnerFactory("CartPole-v1", 1), 4)


def test_ray_not_installed_is_bad_input(tmp_path: Path, monkeypatch, capsys) -> None:
    real = raycluster.importlib.util.find_spec
    monkeypatch.setattr(raycluster.importlib.util, "find_spec", lambda n: None if n == "ray" else real(n))
    with pytest.raises(BackendError, match=r"pip install 'policysearch\[ray\]'"):
        es(tmp_path / "r", backend="ray")
    code, _, err = run_cli(
        ["train", "es", "--env", "CartPole-v1", "--backend", "ray", "--out", tmp_path / "r"], capsys
    )
    assert code == 2 and "not installed" in err and not (tmp_path / "r").exists()


def test_an_address_needs_the_ray_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="backend='ray'"):
        es(tmp_path / "r", address="127.0.0.1:6379")


def test_versions_are_compared_and_custom_modules_shipped() -> None:
    here = raycluster.versions()
    assert set(here) == set(raycluster.CHECKED_PACKAGES) and "missing" not in here.values()
    assert raycluster.version_mismatch(here) is None
    assert raycluster.version_mismatch({**here, "numpy": "0.0"}) == f"numpy {here['numpy']} (driver: 0.0)"
    shipped = raycluster.modules_to_ship("testenvs:DyingCartPole-v1")
    assert len(shipped) == 1 and shipped[0].endswith("testenvs.py")
    assert raycluster.modules_to_ship("CartPole-v1") == []
    assert raycluster.modules_to_ship("gymnasium.envs.classic_control:CartPole-v1") == []


def test_the_command_line_runs_ray_commands_supervised(tmp_path: Path) -> None:
    """From the console script a Ray command runs in a child (policysearch.cli.supervisor), which
    reports its own status: bad input still gives one line and exit 2, and nothing else."""
    from policysearch.cli import supervisor

    assert supervisor.wanted(["train", "es", "--backend", "ray"]) and supervisor.wanted(
        ["evaluate", "d", "--backend=ray"]
    )
    assert not supervisor.wanted(["train", "es", "--backend", "local"]) and not supervisor.wanted(["presets"])
    assert not supervisor.wanted(["train", "--resume", str(tmp_path / "none")])  # unreadable: not Ray
    config = tmp_path / "c.yml"
    config.write_text("backend: ray\nworkers: 2\n")
    assert supervisor.wanted(["train", "es", "--config", str(config)])
    assert not supervisor.wanted(["train", "es", "--config", str(config), "--backend", "local"])
    assert not supervisor.wanted(["train", "es", "--config", str(tmp_path / "none.yml")])
    args = [
        "train",
        "es",
        "--env",
        "CartPole-v1",
        "--backend",
        "ray",
        "--address",
        "nohost",
        "--out",
        tmp_path / "r",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "policysearch", *map(str, args)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr
    assert "not HOST:PORT" in done.stderr and not (tmp_path / "r").exists()


def test_a_hung_ray_actor_costs_one_deadline_and_not_the_result(tmp_path: Path, monkeypatch) -> None:
    """An actor stuck in ``step`` is killed past its share's deadline and replaced; the share re-run."""
    from test_faults import TouchAt

    flag = tmp_path / "hang-once"
    monkeypatch.setenv("POLICYSEARCH_TEST_HANG_STEP_ONCE", str(flag))
    env = "testenvs:DyingCartPole-v1"
    Trainer(es(tmp_path / "local", env_id=env)).train()  # no flag: no hang
    tick = time.monotonic()
    Trainer(es(tmp_path / "ray", env_id=env, backend="ray", workers=2), callbacks=[TouchAt(flag, 1)]).train()
    took = time.monotonic() - tick
    assert not flag.exists(), "no actor hung"
    lines = (tmp_path / "ray" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["worker_stalls"] for line in lines] == [0, 1, 0]
    assert metrics_without_timings(tmp_path / "local") == metrics_without_timings(tmp_path / "ray")
    a = json.loads((tmp_path / "local" / "summary.json").read_text())
    b = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert a["eval_mean_return"] == b["eval_mean_return"]
    assert took < 120, f"{took:.0f} s: the hung actor held the run"


def test_a_ray_actor_stopped_by_sigterm_in_a_step_is_lost_not_an_env_error(
    tmp_path: Path, monkeypatch
) -> None:
    """Ray's SIGTERM handler (a node drained or stopped) raises SystemExit in the env's ``step``,
    which the runner takes for the env's own ``sys.exit``: the actor is lost and replaced, and
    the run goes on with the same result, rather than end on an env error."""
    import signal
    import threading

    from test_faults import TouchAt

    flag = tmp_path / "hang-once"
    monkeypatch.setenv("POLICYSEARCH_TEST_HANG_STEP_ONCE", str(flag))
    env = "testenvs:DyingCartPole-v1"
    Trainer(es(tmp_path / "local", env_id=env)).train()
    signalled: list[int] = []

    def stop_the_hung_actor() -> None:
        pid_file, waited = Path(f"{flag}.pid"), time.monotonic() + 120
        while not pid_file.exists() and time.monotonic() < waited:
            time.sleep(0.02)
        if pid_file.exists():
            signalled.append(int(pid_file.read_text()))
            os.kill(signalled[0], signal.SIGTERM)

    stopper = threading.Thread(target=stop_the_hung_actor, daemon=True)
    stopper.start()
    Trainer(es(tmp_path / "ray", env_id=env, backend="ray", workers=2), callbacks=[TouchAt(flag, 1)]).train()
    stopper.join(timeout=5)
    assert signalled, "no actor hung"
    lines = [json.loads(line) for line in (tmp_path / "ray" / "metrics.jsonl").read_text().splitlines()]
    assert [r["worker_restarts"] for r in lines] == [0, 1, 0] and [r["worker_stalls"] for r in lines] == [
        0
    ] * 3
    assert metrics_without_timings(tmp_path / "local") == metrics_without_timings(tmp_path / "ray")


def test_ray_actors_on_a_busy_machine_are_not_taken_for_hung(monkeypatch) -> None:
    """Actors on the driver's node are watched on their CPU clocks, as worker processes are:
    given a twentieth of the CPU they had (at least 2% of a CPU), 8 to 20 times slower than
    before, they finish without a stall."""
    import numpy as np

    from policysearch.envs import make_env
    from policysearch.policies.numpy_policy import NumpyActor
    from policysearch.policies.spec import make_spec
    from policysearch.policies.torch_policy import TorchPolicy
    from policysearch.sampling import RunnerFactory
    from policysearch.sampling.pool import main_thread_cpu_seconds
    from test_faults import NO_PROC, starved_request

    if main_thread_cpu_seconds(os.getpid()) is None:
        pytest.skip(NO_PROC)
    env = make_env("Acrobot-v1")
    spec = make_spec(env.observation_space, env.action_space, "linear", (), "tanh", "parameter")
    params = {k: np.zeros_like(v) for k, v in TorchPolicy(spec).numpy_params().items()}
    still = NumpyActor(spec, params, deterministic=True)  # the first action always: 500 steps
    transport = raycluster.RayTransport(RunnerFactory("Acrobot-v1", 1), 2)
    try:
        assert all(transport.cpu_seconds(w) is not None for w in range(2))  # on this node
        # at this process's niceness, as worker processes: Ray's own 15 more, beside a busy
        # process, gave them 3% of a CPU
        actors = [*transport.pids, transport.ray.get(transport._counter.pid.remote())]  # and the counts'
        assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in actors] == [os.nice(0)] * 3
    except BaseException:
        transport.close()
        raise
    normal, took = starved_request(transport, lambda: transport.pids, still, monkeypatch)
    assert took > normal
