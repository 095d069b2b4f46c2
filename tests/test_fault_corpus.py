"""The fault corpus: bad input, failing envs, the OS and signals, one parametrised test per class.

Every probe asserts the exit status, exactly one line on stderr with no traceback (exit 2, 130
and 143), and that an existing run folder is byte for byte unchanged where nothing may be lost.
Probes run the CLI in this process where they can; signals, locks and mounts need a child
process, started as a terminal would start it (SIGINT handled, in its own session). Lost
sampling workers, which cost only time, are tested in test_faults.py.
"""

import contextlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import testenvs
from conftest import snapshot
from policysearch.cli import main
from policysearch.run.runfolder import (
    IDENTITY,
    LOCK,
    RunFolder,
    load_checkpoint,
    read_checkpoint_meta,
    read_identity,
    read_metrics,
    save_checkpoint,
)

TESTS = Path(__file__).parent
QUICK = ["--max-iterations", "2", "--quiet"]
TAXI = ["cem", "--env", "Taxi-v4", "--set", "n_sessions=200", *QUICK]


def cli(args: list) -> tuple[int, str, str]:
    """Run the CLI in this process; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def one_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def env_of_tests() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


#: Starts policysearch as a terminal does: SIGINT raises KeyboardInterrupt (a test runner in the
#: background may have it ignored, and children inherit that).
LAUNCH = [
    sys.executable,
    "-c",
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'policysearch'; runpy.run_module('policysearch', run_name='__main__')",
]


def start(args: list, **kw) -> subprocess.Popen:
    """The CLI in a child process of its own session (so that signals reach it and its workers)."""
    return subprocess.Popen(
        [*LAUNCH, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env_of_tests(),
        **kw,
    )


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the child ended early: {proc.communicate()}")
        if time.time() > deadline:
            proc.kill()
            raise AssertionError("timed out")
        time.sleep(0.02)


def iterations_written(folder: Path) -> int:
    path = folder / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture(scope="module")
def existing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run that probes must leave untouched."""
    folder = tmp_path_factory.mktemp("faults") / "existing"
    code, _, err = cli(["train", *TAXI, "--out", folder])
    assert code == 0, err
    return folder


@pytest.fixture(scope="module")
def fine_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run on testenvs:Fine-v0 (for faults that appear after training)."""
    folder = tmp_path_factory.mktemp("faults") / "fine"
    code, _, err = cli(
        ["train", "cem", "--env", "testenvs:Fine-v0", "--set", "n_sessions=20", *QUICK, "--out", folder]
    )
    assert code == 0, err
    return folder


def module(tmp: Path, name: str, source: str) -> str:
    (tmp / f"{name}.py").write_text(source)
    return name


# -- 1. exit status and messages: user-caused errors are one line and exit 2 -------------------

ENV_FAULTS = {
    "unknown module": ("faultmod_missing:Env-v0", None, "No module named 'faultmod_missing'"),
    "syntax error in module": ("{mod}:Env-v0", "def broken(:\n", "syntax error in"),
    "module raises on import": ("{mod}:Env-v0", "raise RuntimeError('licence server down')\n", "licence"),
    "module lacks a dependency": ("{mod}:Env-v0", "import faultmod_no_such_dependency\n", "No module named"),
    "module calls sys.exit on import": ("{mod}:Env-v0", "import sys\nsys.exit(3)\n", "called sys.exit(3)"),
    "close raises": ("testenvs:RaisingClose-v0", None, "raised in close: RuntimeError: the simulator would"),
    "unknown id in a module": ("testenvs:NoSuchEnv-v0", None, "NoSuchEnv-v0"),
    "constructor raises": ("testenvs:RaisingInit-v0", None, "no licence for the simulator"),
    "reset raises": ("testenvs:RaisingReset-v0", None, "raised in reset of session 0"),
    "reset of the old API": ("testenvs:OldApiReset-v0", None, "reset returned a ndarray"),
    "step of the old API": ("testenvs:OldApiStep-v0", None, "raised in step 1"),
    "constructor calls sys.exit": ("testenvs:ExitingInit-v0", None, "ExitingInit-v0': SystemExit: 4"),
    "step calls sys.exit": ("testenvs:ExitingStep-v0", None, "raised in step 1 of session 0: SystemExit: 3"),
    "an error whose message raises": (
        "testenvs:UnprintableError-v0",
        None,
        "raised in step 1 of session 0: Unprintable: (its message could not be read: RuntimeError)",
    ),
    "reward not a number": ("testenvs:StringReward-v0", None, "numeric reward"),
    "observation of another shape at reset": ("testenvs:WrongShapeReset-v0", None, "shape (3,)"),
    "observation of another shape in a step": ("testenvs:WrongShapeStep-v0", None, "step 5 of session 0"),
    "Discrete observation out of range": ("testenvs:DiscreteOutOfRange-v0", None, "observation 7, outside"),
}


@pytest.mark.parametrize("case", sorted(ENV_FAULTS))
def test_env_faults_are_one_line_exit_2(
    case: str, existing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_id, source, needle = ENV_FAULTS[case]
    if source is not None:
        monkeypatch.syspath_prepend(str(tmp_path))
        name = f"faultmod_{abs(hash(case))}"
        env_id = env_id.format(mod=module(tmp_path, name, source))
    before = snapshot(existing)
    code, _, err = cli(
        ["train", "cem", "--env", env_id, "--set", "n_sessions=20", *QUICK, "--out", existing, "--force"]
    )
    assert code == 2
    one_line(err, needle)
    assert snapshot(existing) == before


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ("RaisingReset", "the simulator would not start"),
        ("ExitingStep", ": SystemExit: 3"),  # not a lost worker
        ("UnprintableError", "Unprintable: (its message could not be read: RuntimeError)"),
    ],
)
def test_env_fault_in_a_worker_process_is_one_line_exit_2(env: str, needle: str, existing: Path) -> None:
    before = snapshot(existing)
    args = ["train", "cem", "--env", f"testenvs:{env}-v0", "--policy", "mlp", "--workers", "2"]
    code, _, err = cli([*args, *QUICK, "--out", existing, "--force"])
    assert code == 2
    one_line(err, "iteration 1", needle)
    assert snapshot(existing) == before


AFTER_TRAINING = {
    "evaluate: reset raises": (["evaluate"], "reset", "raised in reset"),
    "evaluate: step raises": (["evaluate"], "step", "raised in step"),
    "record: render raises": (["record", "--out", "{tmp}/new/folder/v.gif"], "render", "raised in render"),
    "record: step raises": (["record", "--out", "{tmp}/v.gif"], "step", "raised in step 1"),
    "evaluate: step calls sys.exit": (["evaluate"], "step", "raised in step 1 of session 0: SystemExit"),
    "record: step calls sys.exit": (
        ["record", "--out", "{tmp}/v.gif"],
        "step",
        "SystemExit: step failed",
    ),
}


@pytest.mark.parametrize("case", sorted(AFTER_TRAINING))
def test_env_faults_after_training_are_one_line_exit_2(
    case: str, fine_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, method, needle = AFTER_TRAINING[case]

    def fail(self, *args, **kwargs):
        if case.endswith("sys.exit"):
            raise SystemExit(f"{method} failed")
        raise RuntimeError(f"{method} failed")

    monkeypatch.setattr(testenvs.Fine, method, fail)
    before = snapshot(fine_run)
    args = [command[0], fine_run, *(a.format(tmp=tmp_path) for a in command[1:])]
    code, out, err = cli(args)
    assert code == 2 and out == ""
    one_line(err, needle, f"{method} failed")
    assert snapshot(fine_run) == before
    assert list(tmp_path.iterdir()) == []  # no video, no temporary file, no folder made for them


def test_an_env_that_does_not_give_expected_rewards_is_one_line_for_bandits() -> None:
    code, _, err = cli(["bandit", "ucb1", "--env", "testenvs:Fine-v0", "--rounds", "10"])
    assert code == 2
    one_line(err, "expected_rewards")


PATHS: dict[str, tuple[Callable[[Path, Path], list], str]] = {
    "--out is a file": (lambda run, tmp: ["train", *TAXI, "--out", run / "checkpoint"], "is not a folder"),
    "--out under a file": (
        lambda run, tmp: ["train", *TAXI, "--out", run / "summary.json" / "x"],
        "Not a directory",
    ),
    "--config is a folder": (lambda run, tmp: ["train", *TAXI, "--config", tmp], "Is a directory"),
    "--config is missing": (lambda run, tmp: ["train", *TAXI, "--config", tmp / "no.yaml"], "No such file"),
    "--config is binary": (lambda run, tmp: ["train", *TAXI, "--config", run / "checkpoint"], "not UTF-8"),
    "--config is not a mapping": (
        lambda run, tmp: ["train", *TAXI, "--config", run / "metrics.jsonl"],
        "config",
    ),
    "evaluate a file": (lambda run, tmp: ["evaluate", run / "summary.json"], "no checkpoint"),
    "record --out is a folder": (lambda run, tmp: ["record", run, "--out", tmp], "--out must end in"),
    "record --out.gif is a folder": (lambda run, tmp: ["record", run, "--out", tmp / "d.gif"], "is a folder"),
    "record --out under a file": (
        lambda run, tmp: ["record", run, "--out", run / "summary.json" / "v.gif"],
        "its folder is a file",
    ),
    "evaluate --seed too large": (
        lambda run, tmp: ["evaluate", run, "--seed", 2148],  # reset seeds stay below 2**32
        "must lie in [0, 2147]",
    ),
    "evaluate --episodes too large": (
        lambda run, tmp: ["evaluate", run, "--episodes", 2**63],
        "episodes=",
    ),
    "record --seed too large": (
        lambda run, tmp: ["record", run, "--out", tmp / "v.gif", "--seed", 10**10],
        "seed=",
    ),
    "train --seed negative": (lambda run, tmp: ["train", *TAXI, "--seed", -1, "--out", tmp / "r"], "seed=-1"),
    "bandit --rounds 0": (lambda run, tmp: ["bandit", "ucb1", "--rounds", 0], "rounds=0"),
    "bandit --seed negative": (lambda run, tmp: ["bandit", "ucb1", "--seed", -2], "seed=-2"),
    "unknown command": (lambda run, tmp: ["trian"], "No such command"),
    # integers past what the machine holds were OverflowError tracebacks, exit 1
    "train --n-envs huge": (
        lambda run, tmp: ["train", *TAXI, "--n-envs", 10**20, "--out", tmp / "r"],
        "n_envs=100000000000000000000 is out of range",
    ),
    "evaluate --workers huge": (lambda run, tmp: ["evaluate", run, "--workers", 10**20], "workers="),
    "plot a symbolic link loop": (
        lambda run, tmp: ["plot", _loop(tmp), "--out", tmp / "p.png"],
        "cannot read run folder",
    ),
    "record an MP4 larger than H.264 takes": (
        lambda run, tmp: ["record", run, "--out", tmp / "v.mp4", "--scale", 32],  # Taxi: 17600x11200
        "larger than an MP4 takes",
    ),
    "record a GIF past 100 frames a second": (  # its frames last whole hundredths: 0 ms, merged
        lambda run, tmp: ["record", run, "--out", tmp / "v.gif", "--fps", 400],
        "at most 100",
    ),
    "record --fps huge": (lambda run, tmp: ["record", run, "--out", tmp / "v.gif", "--fps", 10**20], "fps="),
    "bandit --env-option without =": (
        lambda run, tmp: ["bandit", "ucb1", "--env-option", "foo"],
        "--env-option expects KEY=VALUE",
    ),
}


def _loop(tmp: Path) -> Path:
    """A symbolic link to itself."""
    (tmp / "loop").symlink_to(tmp / "loop")
    return tmp / "loop"


@pytest.mark.parametrize("case", sorted(PATHS))
def test_bad_paths_and_ranges_are_one_line_exit_2(case: str, existing: Path, tmp_path: Path) -> None:
    build, needle = PATHS[case]
    (tmp_path / "d.gif").mkdir()
    before = snapshot(existing)
    code, _, err = cli(build(existing, tmp_path))
    assert code == 2
    one_line(err, needle)
    assert snapshot(existing) == before


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (["evaluate", "{run}", "--episodes", "3"], 2),
        (["presets", "Taxi-v3"], 2),
        (["train", *TAXI, "--out", "{tmp}/run"], 0),  # its result is the run folder; it speaks on stderr
    ],
)
def test_a_closed_standard_output_is_one_line_exit_2(
    command: list[str], status: int, existing: Path, tmp_path: Path
) -> None:
    """Started with ``>&-``, a command whose result goes to standard output refuses to run, rather
    than print nothing and exit 0."""
    args = [a.format(run=existing, tmp=tmp_path) for a in command]
    proc = subprocess.run(
        [sys.executable, "-m", "policysearch", *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(1),
    )
    assert proc.returncode == status, proc.stderr
    if status:
        one_line(proc.stderr, "standard output is closed")
    else:
        assert (tmp_path / "run" / "summary.json").is_file()


def unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


MOUNTS = {
    "read-only --out": ("ro", ["train", *TAXI, "--out", "{mnt}/run"], "Read-only file system"),
    "no space left for the checkpoint": (
        "size=48k",
        ["train", *TAXI, "--out", "{mnt}/run"],
        "No space left on device",
    ),
    "read-only record --out": ("ro", ["record", "{run}", "--out", "{mnt}/v.gif"], "Read-only file system"),
    # a GIF's writer printed its traceback after the error; an MP4 was left cut, exit 0
    "no space left for a GIF": ("size=8k", ["record", "{run}", "--out", "{mnt}/v.gif"], "No space left"),
    "no space left for an MP4": ("size=8k", ["record", "{run}", "--out", "{mnt}/v.mp4"], "could not finish"),
}


@pytest.mark.parametrize("case", sorted(MOUNTS))
def test_os_errors_on_the_users_paths_are_one_line_exit_2(case: str, existing: Path, tmp_path: Path) -> None:
    if not unshare_works():
        pytest.skip("needs unshare -rm (a user and mount namespace) to mount a tmpfs")
    options, args, needle = MOUNTS[case]
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    command = shlex.join([*LAUNCH, *(str(a).format(mnt=mnt, run=existing) for a in args)])
    script = f"mount -t tmpfs -o {options} none {shlex.quote(str(mnt))} && exec {command}"
    before = snapshot(existing)
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env_of_tests()
    )
    assert result.returncode == 2, result.stderr
    one_line(result.stderr, needle)
    assert snapshot(existing) == before


def test_our_own_bug_is_exit_1_with_the_traceback_and_a_request_to_report_it(
    existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policysearch.run import trainer

    def broken(*args, **kwargs):
        raise ZeroDivisionError("an internal slip")

    monkeypatch.setattr(trainer.Trainer, "_budget_spent", broken)
    code, _, err = cli(["train", *TAXI, "--out", existing.parent / "bug"])
    assert code == 1
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert "bug in policysearch" in err.strip().splitlines()[-1]
    assert "please report it" in err.strip().splitlines()[-1]


# -- 1. signals: 130 on SIGINT, 143 on SIGTERM, one line, the checkpoint kept -------------------

SLOW_TAXI = ["cem", "--env", "Taxi-v4", "--set", "n_sessions=20000", "--max-iterations", "200", "--quiet"]
SIGNALLED = {
    "train tabular, SIGINT": (["train", *SLOW_TAXI], signal.SIGINT, False),
    "train tabular, SIGTERM": (["train", *SLOW_TAXI], signal.SIGTERM, False),
    "train neural with 2 workers, Ctrl-C to the group": (
        ["train", "cem", "--env", "CartPole-v1", "--workers", "2", "--max-iterations", "200", "--quiet"],
        signal.SIGINT,
        True,
    ),
    "train neural with 2 workers, SIGTERM": (
        ["train", "cem", "--env", "CartPole-v1", "--workers", "2", "--max-iterations", "200", "--quiet"],
        signal.SIGTERM,
        False,
    ),
}


@pytest.mark.parametrize("case", sorted(SIGNALLED))
def test_signals_stop_training_with_130_or_143_and_one_line(case: str, tmp_path: Path) -> None:
    args, signum, group = SIGNALLED[case]
    folder = tmp_path / "run"
    proc = start([*args, "--out", folder])
    wait_for(lambda: iterations_written(folder) >= 2, proc)
    (os.killpg if group else os.kill)(proc.pid, signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    expected = "interrupted" if signum == signal.SIGINT else "interrupted (SIGTERM)"
    one_line(err, f"{expected}; resume with: policysearch train --resume {folder}")
    meta, _ = load_checkpoint(folder)
    assert read_identity(folder).run_id == meta["run_id"]
    assert not (folder / LOCK).exists()
    assert [r["iteration"] for r in read_metrics(folder)][: meta["iteration"]] == list(
        range(1, meta["iteration"] + 1)
    )
    code, _, err = cli(["train", "--resume", folder, "--max-iterations", meta["iteration"] + 1, "--quiet"])
    assert code == 0, err


#: ``supervisor.run`` (what the console script does for a Ray command) around a local command, with
#: SIGINT as a terminal gives it.
SUPERVISED = [
    sys.executable,
    "-c",
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from policysearch.cli import supervisor; sys.exit(supervisor.run(sys.argv[1:]))",
]


def supervised_taxi(folder: Path) -> subprocess.Popen[str]:
    """A slow Taxi run under the Ray commands' supervisor, in a session of its own (as a terminal's)."""
    return subprocess.Popen(
        [*SUPERVISED, *map(str, ["train", *SLOW_TAXI, "--out", folder])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env_of_tests(),
    )


@pytest.mark.parametrize(
    ("signum", "group"), [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)]
)
def test_a_supervised_command_passes_each_signal_on_once(signum: int, group: bool, tmp_path: Path) -> None:
    """SIGINT to the parent alone (``kill -INT``) or to its group (Ctrl-C) stops the child once."""
    folder = tmp_path / "run"
    proc = supervised_taxi(folder)
    wait_for(lambda: iterations_written(folder) >= 2, proc)
    (os.killpg if group else os.kill)(proc.pid, signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    expected = "interrupted" if signum == signal.SIGINT else "interrupted (SIGTERM)"
    one_line(err, f"{expected}; resume with: policysearch train --resume {folder}")
    assert not (folder / LOCK).exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_supervised_command_signalled_as_its_child_starts_is_interrupted(
    signum: int, tmp_path: Path
) -> None:
    """Before the child has set its own handlers (its imports): interrupted, not 'ended abruptly'."""
    folder = tmp_path / "run"
    proc = supervised_taxi(folder)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    wait_for(lambda: children.exists() and children.read_text().strip() != "", proc)
    os.kill(proc.pid, signum)  # the child is importing: its own handlers are not set yet
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    one_line(err, "interrupted")
    assert "ended abruptly" not in err


def test_interrupted_before_the_first_checkpoint_leaves_the_old_run(existing: Path) -> None:
    before = snapshot(existing)
    proc = start(
        [
            "train",
            "cem",
            "--env",
            "testenvs:Slow-v0",
            "--set",
            "n_sessions=2000",
            *QUICK,
            "--out",
            existing,
            "--force",
        ]
    )
    wait_for(lambda: existing.joinpath(LOCK).exists(), proc)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    one_line(err, "interrupted; no checkpoint was written", "is unchanged")
    assert snapshot(existing) == before


OTHER_COMMANDS = {
    "evaluate, SIGINT": (["evaluate", "{run}", "--episodes", 10**9], signal.SIGINT, "evaluated "),
    "evaluate, SIGTERM": (["evaluate", "{run}", "--episodes", 10**9], signal.SIGTERM, "evaluated "),
    "bandit, SIGINT": (["bandit", "ucb1", "--rounds", 10**12], signal.SIGINT, "played "),
    "record, SIGTERM": (["record", "{slow}", "--out", "{tmp}/v.gif"], signal.SIGTERM, None),
}


@pytest.fixture(scope="module")
def slow_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run on testenvs:SlowRender-v0, whose record takes long enough to be interrupted."""
    folder = tmp_path_factory.mktemp("faults") / "slow"
    code, _, err = cli(
        [
            "train",
            "cem",
            "--env",
            "testenvs:SlowRender-v0",
            "--set",
            "n_sessions=2",
            "--max-iterations",
            "1",
            "--quiet",
            "--out",
            folder,
        ]
    )
    assert code == 0, err
    return folder


@pytest.mark.parametrize("case", sorted(OTHER_COMMANDS))
def test_signals_stop_other_commands_with_130_or_143_and_print_what_was_measured(
    case: str, existing: Path, slow_run: Path, tmp_path: Path
) -> None:
    args, signum, progress = OTHER_COMMANDS[case]
    args = [str(a).format(run=existing, slow=slow_run, tmp=tmp_path) for a in args]
    before = snapshot(existing)
    proc = start(args)
    peak = 0
    if progress is not None:  # the first progress line: the work is under way and has results
        line = proc.stderr.readline()
        assert line.startswith(progress), line
        for _ in range(20):  # memory stays flat while the work goes on
            peak = max(peak, rss_kb(proc.pid))
            time.sleep(0.1)
    else:  # the video's temporary file: the episode is being played
        wait_for(lambda: any(tmp_path.glob(".v.tmp*")), proc)
        time.sleep(0.5)
    os.killpg(proc.pid, signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    err = "\n".join(line for line in err.splitlines() if not line.startswith(progress or "\0"))
    one_line(err, "interrupted")
    if progress is not None:
        partial = json.loads(out)
        assert partial["interrupted"] is True
        assert partial.get("episodes", partial.get("rounds")) > 0
        assert peak < 1_000_000  # kB: a billion episodes or rounds would need far more
    assert snapshot(existing) == before
    assert list(tmp_path.iterdir()) == []


def test_a_long_final_evaluation_shows_progress_and_stops_with_130(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    args = ["train", "cem", "--env", "CartPole-v1", "--set", "n_sessions=50", "--max-iterations", "1"]
    proc = start([*args, "--eval-episodes", 10**9, "--out", folder])
    line = proc.stderr.readline()  # off a terminal: plain lines
    assert line.startswith("final evaluation: evaluated "), line
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    err = "\n".join(line for line in err.splitlines() if not line.startswith("final evaluation: "))
    one_line(err, f"interrupted; resume with: policysearch train --resume {folder}")
    assert load_checkpoint(folder)[0]["iteration"] == 1 and not (folder / "summary.json").exists()
    assert not (folder / LOCK).exists()


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- 2. finite or refused --------------------------------------------------------------------

NON_FINITE = {
    "--set learning_rate=.inf (es)": (
        ["es", "--env", "CartPole-v1", "--set", "learning_rate=.inf"],
        "learning_rate=inf",
    ),
    "--set learning_rate=.nan (cem)": (
        ["cem", "--env", "CartPole-v1", "--set", "learning_rate=.nan"],
        "learning_rate=nan",
    ),
    "--set sigma=.inf (es)": (["es", "--env", "CartPole-v1", "--set", "sigma=.inf"], "sigma=inf"),
    # finite, but beyond float32: a traceback at the first iteration (exit 1)
    "--set sigma=1e300 (es)": (["es", "--env", "CartPole-v1", "--set", "sigma=1e300"], "the largest float32"),
    "--set weight_std=1e39 (cem)": (
        ["cem", "--env", "Pendulum-v1", "--set", "weight_std=1e39"],
        "weight_std=1e+39 is out of range",
    ),
    # within float32, but not once multiplied by the noise: NaN weights played without a word
    "--set sigma=1e38 (es)": (
        ["es", "--env", "CartPole-v1", "--set", "sigma=1e38"],
        "the noise's scale (1e+38) times the noise table's largest number",
    ),
    "--set noise=1e38 (ars)": (
        ["ars", "--env", "Pendulum-v1", "--set", "noise=1e38"],
        "puts candidates' weights beyond the float32 numbers",
    ),
    "--set weight_std=1e38 (cem)": (
        ["cem", "--env", "Pendulum-v1", "--set", "weight_std=1e38"],
        "puts candidates' weights beyond the float32 numbers",
    ),
    "--set reward_shift=.nan (es)": (
        ["es", "--env", "CartPole-v1", "--set", "reward_shift=.nan"],
        "reward_shift",
    ),
    "--set percentile=.nan": (["cem", "--env", "Taxi-v4", "--set", "percentile=.nan"], "percentile=nan"),
    "--set alpha=-.inf": (["cem", "--env", "Taxi-v4", "--set", "alpha=-.inf"], "alpha=-inf"),
    "--set lambda=.inf": (["cem", "--env", "Taxi-v4", "--set", "lambda=.inf"], "inf"),
    "--target nan": (["cem", "--env", "Taxi-v4", "--target", "nan"], "target=nan"),
    "--target inf": (["cem", "--env", "Taxi-v4", "--target", "inf"], "target=inf"),
    "--max-seconds inf": (["cem", "--env", "Taxi-v4", "--max-seconds", "inf"], "max_seconds=inf"),
    "--max-seconds nan": (["cem", "--env", "Taxi-v4", "--max-seconds", "nan"], "max_seconds=nan"),
    "config with .inf": (["cem", "--env", "Taxi-v4", "--config", "{tmp}/inf.yaml"], "smoothing"),
    "NaN observation in a step": (
        ["cem", "--env", "testenvs:NaNObs-v0"],
        "step 3 of session 0 returned a non-finite",
    ),
    "NaN observation at reset": (["cem", "--env", "testenvs:NaNObsReset-v0"], "reset of session 0"),
    "inf reward": (["cem", "--env", "testenvs:InfReward-v0"], "non-finite reward (inf) at step 4"),
    "rewards adding up to inf": (["cem", "--env", "testenvs:HugeReward-v0"], "add up to inf"),
    "NaN reward in a worker": (
        ["cem", "--env", "testenvs:NaNRewardBox-v0", "--policy", "mlp", "--workers", "2"],
        "non-finite reward (nan) at step 7",
    ),
}


@pytest.mark.parametrize(
    ("algorithm", "key"), [("ES", "reward_shift"), ("ES", "sigma"), ("CEM", "n_sessions"), ("CEM", "hidden")]
)
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_the_python_api_refuses_non_finite_hyperparameters(algorithm: str, key: str, value: float) -> None:
    import policysearch
    from policysearch.errors import ConfigError

    given = [value] if key == "hidden" else value
    with pytest.raises(ConfigError, match=f"{key}.*not a finite number"):
        getattr(policysearch, algorithm)("CartPole-v1", **{key: given})


@pytest.mark.parametrize("case", sorted(NON_FINITE))
def test_non_finite_values_are_refused_before_anything_is_written(
    case: str, existing: Path, tmp_path: Path
) -> None:
    args, needle = NON_FINITE[case]
    (tmp_path / "inf.yaml").write_text("hyperparameters:\n  smoothing: .inf\n")
    before = snapshot(existing)
    args = [a.format(tmp=tmp_path) for a in args]
    size = {"es": "population=8", "ars": "directions=4"}.get(args[0], "n_sessions=20")
    code, _, err = cli(["train", *args, "--set", size, *QUICK, "--out", existing, "--force"])
    assert code == 2
    one_line(err, needle)
    if "testenvs" in args[2]:
        assert "iteration 1" in err
    assert snapshot(existing) == before


def our_non_finite_bug(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Make ES's policy weights (``where="weights"``) or a metric of its update non-finite, as a bug would."""
    from policysearch.algorithms.es import ES

    ask, tell = ES.ask, ES._tell

    def nan_weights(self, rng):
        request = ask(self, rng)
        request.actor.mu[0] = np.nan
        return request

    def inf_metric(self, request, sessions, rng):
        return {**tell(self, request, sessions, rng), "step_norm": float("inf")}

    if where == "weights":
        monkeypatch.setattr(ES, "ask", nan_weights)
    else:
        monkeypatch.setattr(ES, "_tell", inf_metric)


@pytest.mark.parametrize("where", ["weights", "metric"])
def test_a_non_finite_result_of_our_own_is_exit_1_and_named(
    where: str, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of ours that makes a number non-finite (simulated here) is exit 1 and named.

    (Huge hyperparameters, which did it before, are refused as bad input: ``sigma=1e300``.)"""
    our_non_finite_bug(monkeypatch, where)
    before = snapshot(existing)
    code, _, err = cli(["train", "es", "--env", "CartPole-v1", *QUICK, "--out", existing, "--force"])
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert "NumericalError: iteration 1:" in last and ("non-finite" in last or " is inf" in last), last
    assert snapshot(existing) == before


def test_a_search_that_diverges_beyond_float32_stops_with_its_last_good_checkpoint(tmp_path: Path) -> None:
    """A step size that takes the weights past float32 (3e38 a step) is bad input, not our bug.

    The search keeps float64 numbers; the policy plays float32 ones. It was exit 1, "this is a
    bug", at the iteration after, with the diverged weights already in the checkpoint.
    """
    folder = tmp_path / "run"
    args = ["train", "es", "--env", "CartPole-v1", "--set", "learning_rate=3e38", "--set", "population=8"]
    code, _, err = cli([*args, "--max-iterations", "4", "--quiet", "--out", folder])
    assert code == 2
    assert "Traceback" not in err, err
    # numpy's overflow warnings of the weights' products come first
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: iteration 2: the search diverged: its update took the policy's"), err
    assert "checkpoint keeps iteration 1" in last
    assert read_checkpoint_meta(folder)["iteration"] == 1
    records = (folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["iteration"] for r in records] == [1]


def test_a_search_that_diverges_at_its_first_iteration_says_no_checkpoint_was_written(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    args = ["es", "--env", "CartPole-v1", "--set", "optimizer=sgd", "--set", "learning_rate=3e38"]
    code, _, err = cli(
        ["train", *args, "--set", "population=8", "--max-iterations", "2", "--quiet", "--out", folder]
    )
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert (
        last.startswith("error: iteration 1: the search diverged") and "(no checkpoint was written)" in last
    ), err
    assert not (folder / "checkpoint").exists()


def test_every_json_file_is_strict(existing: Path) -> None:
    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")

    for name in ("summary.json", IDENTITY):
        json.loads((existing / name).read_text(), parse_constant=refuse)
    for line in (existing / "metrics.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=refuse)
    json.dumps(read_checkpoint_meta(existing), allow_nan=False)


# -- 3. a run folder belongs to one run ------------------------------------------------------


def train(folder: Path, *args: str) -> None:
    code, _, err = cli(["train", *args, *QUICK, "--out", folder])
    assert code == 0, err


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Runs whose checkpoints are copied into another run's folder."""
    root = tmp_path_factory.mktemp("others")
    runs = {
        "es": ("es", "--env", "CartPole-v1"),
        "frozenlake": ("cem", "--env", "FrozenLake-v1", "--set", "n_sessions=200"),
        "same run again": TAXI[:5],
        "taxi, more sessions": ("cem", "--env", "Taxi-v4", "--set", "n_sessions=300"),
    }
    for name, args in runs.items():
        train(root / name, *args)
    return {name: root / name for name in runs}


FOREIGN = {
    "an ES checkpoint in a CEM run": ("es", False, "belongs to another run (es (mlp) on CartPole-v1"),
    "another env's checkpoint": ("frozenlake", False, "FrozenLake-v1"),
    "another run of the same options": ("same run again", False, "belongs to another run"),
    "another run's, no run.json (older release)": (
        "taxi, more sessions",
        True,
        "does not match metrics.jsonl",
    ),
    "an ES checkpoint, no run.json (older release)": ("es", True, "does not match the run that summary.json"),
}


@pytest.mark.parametrize("case", sorted(FOREIGN))
def test_resume_refuses_a_checkpoint_of_another_run(
    case: str, existing: Path, others: dict[str, Path], tmp_path: Path
) -> None:
    """And so do evaluate and record, which scored and filmed the other run's policy as this one's."""
    source, legacy, needle = FOREIGN[case]
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    shutil.copy(others[source] / "checkpoint", folder / "checkpoint")
    if legacy:
        (folder / IDENTITY).unlink()
    before = snapshot(folder)
    for command in (
        ["train", "--resume", folder, "--max-iterations", "3", "--quiet"],
        ["evaluate", folder, "--episodes", "100"],
        ["record", folder, "--out", tmp_path / "v.gif"],
    ):
        code, _, err = cli(command)
        assert code == 2, (command, err)
        one_line(err, needle)
    assert snapshot(folder) == before and not (tmp_path / "v.gif").exists()


def test_resume_refuses_a_run_whose_metrics_are_gone(existing: Path, tmp_path: Path) -> None:
    """It went on with a metrics.jsonl of the new iterations only: the history was lost."""
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    (folder / "metrics.jsonl").unlink()
    before = snapshot(folder)
    code, _, err = cli(["train", "--resume", folder, "--max-iterations", "30", "--quiet"])
    assert code == 2
    one_line(err, "metrics.jsonl' is missing")
    assert snapshot(folder) == before
    code, _, err = cli(["evaluate", folder, "--episodes", "1000"])  # a reader does not need it
    assert code == 0, err


def test_a_damaged_line_of_metrics_before_others_is_named_by_every_reader(
    existing: Path, tmp_path: Path
) -> None:
    """Read as the end of the file (a torn last line), it dropped the records after it: a resume
    blamed the checkpoint, and plot drew the records before it without a word."""
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    assert len(lines) >= 2
    (folder / "metrics.jsonl").write_text("\n".join(['{"iteration": 1, broken', *lines[1:]]) + "\n")
    before = snapshot(folder)
    for command in (
        ["train", "--resume", folder, "--max-iterations", "30", "--quiet"],
        ["evaluate", folder],
        ["plot", folder, "--out", tmp_path / "curve.png"],
    ):
        code, _, err = cli(command)
        assert code == 2, (command, err)
        one_line(err, "metrics.jsonl': line 1 is not a record policysearch wrote, and records follow it")
    assert snapshot(folder) == before and not (tmp_path / "curve.png").exists()


def test_plot_refuses_a_summary_of_another_run(existing: Path, tmp_path: Path) -> None:
    """As evaluate does: the curve was titled and labelled with the other run's env and algorithm."""
    folder, other = tmp_path / "run", tmp_path / "other"
    shutil.copytree(existing, folder)
    code, _, err = cli(
        ["train", "cem", "--env", "CartPole-v1", "--set", "n_sessions=20", *QUICK, "--out", other]
    )
    assert code == 0, err
    shutil.copy(other / "summary.json", folder / "summary.json")
    code, _, err = cli(["plot", folder, "--out", tmp_path / "curve.png"])
    assert code == 2
    one_line(err, "does not match the run that summary.json reports")
    assert not (tmp_path / "curve.png").exists()


@pytest.mark.parametrize("edit", ["metrics cut short", "metrics of another run"])
def test_resume_refuses_a_checkpoint_that_metrics_do_not_have(
    edit: str, existing: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    if edit == "metrics cut short":
        kept = lines[:1]
    else:
        kept = [
            json.dumps({**json.loads(line), "episodes": 1 + json.loads(line)["episodes"]}) for line in lines
        ]
    (folder / "metrics.jsonl").write_text("".join(line + "\n" for line in kept))
    (folder / IDENTITY).unlink()
    (folder / "summary.json").unlink()
    before = snapshot(folder)
    code, _, err = cli(["train", "--resume", folder, "--max-iterations", "3", "--quiet"])
    assert code == 2
    one_line(err, "metrics.jsonl")
    assert snapshot(folder) == before


def test_a_folder_of_the_current_release_resumes_and_is_adopted(existing: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    (folder / IDENTITY).unlink()
    meta = read_checkpoint_meta(folder)
    meta.pop("run_id")
    _, arrays = load_checkpoint(folder)
    save_checkpoint(folder, {k: v for k, v in meta.items() if k not in ("format", "version")}, arrays)
    code, _, err = cli(["train", "--resume", folder, "--max-iterations", "3", "--quiet"])
    assert code == 0, err
    assert read_identity(folder).run_id == read_checkpoint_meta(folder)["run_id"]
    assert [r["iteration"] for r in read_metrics(folder)] == [1, 2, 3]


def test_a_second_writer_is_refused_and_a_killed_run_resumes(existing: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    proc = start(["train", *SLOW_TAXI, "--out", folder])
    try:
        wait_for(lambda: iterations_written(folder) >= 1, proc)
        written = iterations_written(folder)
        for args in (["--resume", folder], [*TAXI, "--out", folder, "--force"]):
            code, _, err = cli(["train", *args])
            assert code == 2
            one_line(err, "is in use by another run", f"(process {proc.pid})")
        wait_for(lambda: iterations_written(folder) > written, proc)  # the first writer goes on
    finally:
        proc.kill()
        proc.wait()
    assert (folder / LOCK).exists()  # stale: the kernel released its lock with the process
    meta = read_checkpoint_meta(folder)
    code, _, err = cli(["train", "--resume", folder, "--max-iterations", meta["iteration"] + 1, "--quiet"])
    assert code == 0, err
    assert not (folder / LOCK).exists()


#: A run that fails before its first checkpoint, and the exit status it fails with (2: bad input,
#: one line; 1: a failure of ours, reported as one).
FORCE_FAILURES = {
    "env fails at reset": (["cem", "--env", "testenvs:RaisingReset-v0"], 2),
    "NaN observation in the first batch": (["cem", "--env", "testenvs:NaNObs-v0"], 2),
    "a table that cannot fit": (["cem", "--env", "testenvs:HugeTable-v0"], 2),
    "a batch that cannot fit": (["cem", "--env", "Taxi-v4", "--set", "n_sessions=10000000000"], 2),
    "a bug of ours at the first iteration": (["es", "--env", "CartPole-v1"], 1),  # simulated
}


@pytest.mark.parametrize("case", sorted(FORCE_FAILURES))
def test_force_keeps_the_old_run_until_the_new_one_has_a_checkpoint(
    case: str, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(existing)
    args, expected = FORCE_FAILURES[case]
    if expected == 1:
        our_non_finite_bug(monkeypatch, "metric")
    code, _, err = cli(["train", *args, *QUICK, "--out", existing, "--force"])
    assert code == expected, err
    if code == 2:
        one_line(err)
    assert snapshot(existing) == before


def test_force_replaces_the_old_run_at_the_first_checkpoint(existing: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    old = read_identity(folder)
    train(folder, "cem", "--env", "FrozenLake-v1", "--set", "n_sessions=100", "--force")
    new = read_identity(folder)
    assert new.env_id == "FrozenLake-v1" and new.run_id != old.run_id
    assert read_checkpoint_meta(folder)["run_id"] == new.run_id
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["checkpoint", "metrics.jsonl", "summary.json", "learning_curve.png", IDENTITY]
    )


@pytest.mark.parametrize("moved", [0, 2, 5])
@pytest.mark.parametrize("written", [False, True])
def test_a_swap_cut_short_by_a_kill_is_undone_or_finished(
    moved: int, written: bool, existing: Path, tmp_path: Path
) -> None:
    """A new run (--force) killed in the middle of putting itself in place of the old one."""
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    before = snapshot(folder)
    run = RunFolder.create(folder, "cem", "Taxi-v4", "tabular", 9, force=True)
    old_files = run.replaces
    aside = folder / f".replaced-{run.identity.run_id}"
    aside.mkdir()
    (aside / "plan.json").write_text(json.dumps(old_files))
    for name in old_files[:moved]:
        os.replace(folder / name, aside / name)
    if written:  # all moved, the new metrics and checkpoint written, killed before the end
        for name in old_files[moved:]:
            os.replace(folder / name, aside / name)
        (folder / "metrics.jsonl").write_text('{"iteration": 1, "episodes": 5, "env_steps": 50}\n')
        meta, arrays = load_checkpoint(existing)
        meta = {k: v for k, v in meta.items() if k not in ("format", "version")}
        meta.update(iteration=1, episodes=5, env_steps=50, run_id=run.identity.run_id)
        save_checkpoint(folder, meta, arrays)
    run._lock.release()  # the process is gone (its lock with it)
    RunFolder.create(folder, "cem", "Taxi-v4", "tabular", 9, force=True).close()  # the next writer
    if written:
        assert read_checkpoint_meta(folder)["run_id"] == run.identity.run_id
        assert sorted(p.name for p in folder.iterdir()) == sorted(["checkpoint", "metrics.jsonl", IDENTITY])
    else:
        assert snapshot(folder) == before


# -- 4. bounded resources --------------------------------------------------------------------

TOO_BIG = {
    "tabular batch": (
        ["cem", "--env", "Taxi-v4", "--set", "n_sessions=1000000000000"],
        "sessions of up to 200 steps",
    ),
    "neural batch": (["cem", "--env", "CartPole-v1", "--set", "n_sessions=1000000000"], "needs about"),
    "ES population": (["es", "--env", "CartPole-v1", "--set", "population=1000000000"], "memory"),
    "env objects' batch": (
        ["cem", "--env", "testenvs:Fine-v0", "--set", "n_sessions=100000000000"],
        "needs about",
    ),
    "tabular table": (["cem", "--env", "testenvs:HugeTable-v0"], "out of memory"),
    # torch's allocation failed with a traceback as the network was built (40 GB of float32)
    "ES network": (
        ["es", "--env", "Pendulum-v1", "--set", "hidden=[100000,100000]"],
        "the mlp policy has 10,000,600,002 parameters, which need at least 120 GB",
    ),
    "ARS noise table": (
        ["ars", "--env", "Hopper-v5", "--set", "noise_table_size=100000000000"],
        "noise_table_size=100,000,000,000 needs 400 GB of memory (float32 numbers), but",
    ),
    # one copy (6 GB) fits the 8 GB the test sets; the driver's and two workers' do not
    "ES noise table in every worker": (
        ["es", "--env", "CartPole-v1", "--workers", "2", "--set", "noise_table_size=1500000000"],
        "make their own copy of the noise table, 3 x 6 GB = 18 GB, but 8 GB is available",
    ),
}


@pytest.mark.parametrize("case", sorted(TOO_BIG))
def test_what_cannot_fit_in_memory_is_refused_up_front(
    case: str, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, needle = TOO_BIG[case]
    if case in ("ES network", "ARS noise table", "ES noise table in every worker"):  # on any host
        monkeypatch.setattr("policysearch.run.guards.available_memory", lambda: 8 * 10**9)
    before = snapshot(existing)
    code, _, err = cli(["train", *args, *QUICK, "--out", existing, "--force"])
    assert code == 2
    one_line(err, needle)
    assert "the preset for" not in err, err  # Hopper's preset sets `noise`, which this does not name
    assert snapshot(existing) == before


class Left:
    """A deterministic actor that always takes action 0."""

    noise_dim = 0
    noise_kind = "uniform"

    def act(self, obs, index, noise):
        return np.zeros(len(obs), dtype=np.int64)


def test_evaluation_in_parts_is_the_evaluation_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from policysearch.run import evaluation

    returns = np.random.default_rng(0).normal(size=1000)
    whole = evaluation.Evaluation.of(returns, 0)
    parts = evaluation.Evaluation.of(returns[:300], 0).combine(evaluation.Evaluation.of(returns[300:], 0))
    assert parts.episodes == 1000
    assert parts.mean == pytest.approx(whole.mean, rel=1e-12)
    assert parts.std == pytest.approx(whole.std, rel=1e-12)
    # a part is bounded: in memory, by the steps the numpy dynamics hold (CartPole), by outcomes
    # where they stream; in time, by the steps at the env's limit (Humanoid: 1000 a episode)
    assert 100 <= evaluation.part_episodes("CartPole-v1", 10**9) < evaluation.PART_EPISODES
    assert evaluation.part_episodes("Humanoid-v5", 10**9) == evaluation.PART_STEPS // 1000
    assert evaluation.part_episodes("Humanoid-v5", 40) == 40
    at_once = evaluation.evaluate_actor(Left(), "CartPole-v1", 200)
    monkeypatch.setattr(evaluation, "PART_STEPS", 1)
    monkeypatch.setattr(evaluation, "MIN_PART_EPISODES", 64)  # parts of 64 episodes
    in_parts = list(evaluation.evaluation_parts(Left(), "CartPole-v1", 200))
    assert [p.episodes for p in in_parts] == [64, 128, 192, 200]
    assert in_parts[-1].mean == pytest.approx(at_once.mean, rel=1e-12)
    assert in_parts[-1].std == pytest.approx(at_once.std, rel=1e-12)
    assert in_parts[-1].env_steps == at_once.env_steps


def test_bandit_rounds_in_chunks_are_the_same_rounds() -> None:
    from policysearch.bandits import make_player, play, run
    from policysearch.envs import make_env

    logs = []
    for chunk in (7, 65_536):
        env = make_env("policysearch/BannerAds-v0")
        player = make_player("thompson", env, seed=1)
        parts = list(play(env, player, 100, seed=2, chunk=chunk))
        logs.append(np.concatenate([p.rewards for p in parts]))
    np.testing.assert_array_equal(logs[0], logs[1])
    env = make_env("policysearch/BannerAds-v0")
    whole = run(env, make_player("thompson", env, seed=1), 100, seed=2)
    np.testing.assert_array_equal(whole.rewards, logs[0])


# -- 5. resume with other options ------------------------------------------------------------

FIXED_ON_RESUME = {
    "ALGO": ["es"],
    "--env": ["--env", "FrozenLake-v1"],
    "--policy": ["--policy", "mlp"],
    "--seed": ["--seed", "4"],
    "--set": ["--set", "percentile=50"],
    "--config": ["--config", "{tmp}/c.yaml"],
    "--eval-episodes": ["--eval-episodes", "500"],
    "--out": ["--out", "{tmp}/elsewhere"],
    "--force": ["--force"],
    "--no-atari-preprocessing": ["--no-atari-preprocessing"],  # named as given, not as its opposite
    "--atari-preprocessing": ["--atari-preprocessing"],
}


@pytest.mark.parametrize("case", sorted(FIXED_ON_RESUME))
def test_resume_refuses_what_cannot_change(case: str, existing: Path, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("max-iterations: 5\n")
    args = [a.format(tmp=tmp_path) for a in FIXED_ON_RESUME[case]]
    before = snapshot(existing)
    code, _, err = cli(["train", *args, "--resume", existing, "--max-iterations", "3"])
    assert code == 2
    one_line(err, f"{case} cannot be given with --resume")
    assert "--tensorboard and --quiet may be given again" in err
    assert snapshot(existing) == before
    assert not (tmp_path / "elsewhere").exists()


def test_resume_applies_budgets_target_and_where_it_runs(existing: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    args = ["--max-iterations", "3", "--target", "-500", "--n-envs", "3", "--workers", "2"]
    code, _, err = cli(["train", "--resume", folder, *args, "--quiet"])
    assert code == 0, err
    meta = read_checkpoint_meta(folder)
    assert meta["options"]["target"] == -500 and meta["options"]["n_envs"] == 3
    assert meta["options"]["workers"] == 2 and meta["options"]["max_iterations"] == 3
    assert json.loads((folder / "summary.json").read_text())["target"] == -500
    assert "solved" in err.strip().splitlines()[-1]


# -- 7. progress for logs ----------------------------------------------------------------------


def test_progress_off_a_terminal_is_plain_uncut_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from policysearch.run.callbacks import ProgressBar

    bar = ProgressBar(3, "cem Taxi-v4", every=0.0)
    metrics = {"env_steps": 123_456, "mean_return": -70.5, "max_return": 8, "steps_per_s": 2e6}
    for i in (1, 2, 3):
        bar.on_iteration(i, {**metrics, "elite_threshold": -3.25})
    bar.on_end({})
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"cem Taxi-v4: iteration {i}/3, 123,456 env steps, mean -70.5, best 8, elite≥-3.25, 2,000,000 steps/s"
        for i in (1, 2, 3)
    ]
    args = ["train", "cem", "--env", "testenvs:Fine-v0", "--set", "n_sessions=20", "--max-iterations", "3"]
    code, _, err = cli([*args, "--out", tmp_path / "run"])
    assert code == 0, err
    lines = err.strip().splitlines()  # a short run: the last iteration's line, and the verdict
    assert len(lines) == 2
    assert lines[0].startswith("cem testenvs:Fine-v0: iteration 3/3, 600 env steps, mean 10, best 10")
    assert lines[0].endswith("steps/s")
    assert lines[1].startswith("no target given: eval mean 10") and lines[1].endswith(str(tmp_path / "run"))


def test_long_work_says_what_runs_when_nothing_else_is_printed(tmp_path: Path, monkeypatch) -> None:
    """An iteration or an evaluation part that takes minutes (Atari, CarRacing) is not silent."""
    import re

    from policysearch.run import callbacks

    monkeypatch.setattr(callbacks, "QUIET_SECONDS", 0.25)
    args = ["train", "cem", "--env", "testenvs:Slow-v0", "--set", "n_sessions=100", "--max-iterations", "1"]
    code, _, err = cli([*args, "--eval-episodes", "100", "--out", tmp_path / "run"])
    assert code == 0, err
    assert "Traceback" not in err
    iteration = re.compile(
        r"cem testenvs:Slow-v0: iteration 1 running for \d+ s "
        r"\((\d+) of 100 sessions done, ([\d,]+) env steps\)"
    )
    beats = [iteration.fullmatch(line) for line in err.splitlines()]
    counts = [(int(m[1]), int(m[2].replace(",", ""))) for m in beats if m]
    assert len(counts) >= 2, err
    assert counts == sorted(counts) and counts[-1][1] > counts[0][1]  # the steps move on
    assert all(done <= 100 and steps <= 1000 for done, steps in counts)  # 100 sessions of 10 steps
    evaluation = "cem testenvs:Slow-v0: final evaluation of 100 episodes running for "
    assert any(line.startswith(evaluation) and "sessions done" in line for line in err.splitlines()), err
    code, out, err = cli(["evaluate", tmp_path / "run", "--episodes", "100"])
    assert code == 0 and json.loads(out)["episodes"] == 100, err
    evaluation = "evaluation of 100 episodes running for "
    assert any(line.startswith(evaluation) and "sessions done" in line for line in err.splitlines()), err


def test_the_heartbeat_waits_for_quiet_and_never_prints_a_traceback(capsys) -> None:
    from policysearch.run import callbacks

    calls: list[float] = []

    def status() -> str:
        calls.append(time.monotonic())
        return "still here"

    with callbacks.Heartbeat(status, quiet=2.0):
        for _ in range(6):  # progress lines every 0.1 s keep it quiet
            last = time.monotonic()  # at or before the line is heard
            callbacks.say("a progress line")
            time.sleep(0.1)
        assert not calls
        while not calls and time.monotonic() < last + 30:  # a busy machine may be late, never early
            time.sleep(0.05)
    assert calls and calls[0] >= last + 2.0
    err = capsys.readouterr().err.splitlines()
    assert err.count("a progress line") == 6 and "still here" in err

    def broken() -> str:
        raise RuntimeError("no state yet")

    with callbacks.Heartbeat(broken, quiet=0.05) as beat:
        assert beat._thread is not None
        beat._thread.join(30)
        assert not beat._thread.is_alive()  # it stopped by itself, quietly
    assert capsys.readouterr().err == ""


def test_a_budget_spent_before_the_first_iteration_is_said(tmp_path: Path, capsys) -> None:
    from policysearch.run.trainer import Trainer, TrainOptions

    options = TrainOptions(
        algorithm="cem", env_id="CartPole-v1", max_seconds=1, eval_episodes=100, out=str(tmp_path / "r")
    )
    import re

    summary = Trainer(options, progress=True).train(clock_start=time.perf_counter() - 5)
    assert summary["iterations"] == 0 and summary["stop_reason"] == "max_seconds"
    err = capsys.readouterr().err
    said = (
        r"cem CartPole-v1: the time budget \(1 s\) was spent before the first iteration \((\d+) s since "
        r"the start\): evaluating the policy as it was made"
    )
    match = re.search(said, err)
    assert match and int(match[1]) >= 5, err


@pytest.mark.parametrize("how", ["cli", "api"])
@pytest.mark.parametrize("moved", [0, 3, 5])
def test_resume_after_a_swap_cut_short_continues_the_old_run(
    moved: int, how: str, existing: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    old = read_identity(folder)
    run = RunFolder.create(folder, "es", "CartPole-v1", "mlp", 0, force=True)
    aside = folder / f".replaced-{run.identity.run_id}"
    aside.mkdir()
    (aside / "plan.json").write_text(json.dumps(run.replaces))
    for name in run.replaces[:moved]:
        os.replace(folder / name, aside / name)
    run._lock.release()  # killed
    if how == "cli":
        code, _, err = cli(["train", "--resume", folder, "--max-iterations", "3", "--quiet"])
        assert code == 0, err
    else:  # the Python API's resume (and Agent.load) repair the folder as the command line does
        from policysearch import Agent

        Agent.load(folder).train(max_iterations=3)
    assert read_identity(folder) == old
    assert [r["iteration"] for r in read_metrics(folder)] == [1, 2, 3]
    assert not aside.exists()


def test_a_run_stored_with_more_envs_than_todays_bound_is_still_read(existing: Path, tmp_path: Path) -> None:
    """--n-envs is bounded (4,096) since 2026-12-06: a run stored with more evaluates and resumes."""
    folder = tmp_path / "run"
    shutil.copytree(existing, folder)
    meta, arrays = read_checkpoint_meta(folder), load_checkpoint(folder)[1]
    meta["options"]["n_envs"] = 5000
    save_checkpoint(folder, {k: v for k, v in meta.items() if k not in ("format", "version")}, arrays)
    code, _, err = cli(["evaluate", folder, "--episodes", "1000"])
    assert code == 0, err
