import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from policysearch.cli import main

TIMING_KEYS = {"wall_time_s", "steps_per_s", "worker_restarts", "worker_stalls"}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit status, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def need(module: str, extra: str) -> None:
    """Skip unless ``module`` imports (fail under CI=true: make test installs every extra)."""
    try:
        __import__(module)
    except ImportError:
        message = f"{module} is not installed (pip install -e '.[{extra}]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"under CI=true: {message}")
        pytest.skip(message)


def metrics_without_timings(folder: Path) -> list[dict]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS} for line in lines]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a folder with its content, to check nothing was touched."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Under CI (CI=true) a Ray test that was skipped fails the run: Ray must be tested for real."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") == "true" and item.get_closest_marker("ray"):
        report.outcome = "failed"
        report.longrepr = f"a Ray test was skipped under CI=true: {report.longrepr}"


def assert_same_sessions(fast, slow) -> None:
    """Two batches of sessions are equal in every array (the vector runners against real envs)."""
    import numpy as np

    np.testing.assert_array_equal(fast.observations[0], slow.observations[0])  # the same start states
    np.testing.assert_array_equal(fast.lengths, slow.lengths)
    np.testing.assert_array_equal(fast.observations, slow.observations)
    np.testing.assert_array_equal(fast.actions, slow.actions)
    np.testing.assert_array_equal(fast.rewards, slow.rewards)
    np.testing.assert_array_equal(fast.terminated, slow.terminated)
    np.testing.assert_array_equal(fast.truncated, slow.truncated)


def load_script(path: Path, name: str, siblings: tuple[str, ...]) -> Iterator[ModuleType]:
    """A benchmarks/ script loaded by its path as module ``name`` (a fixture's body: yield from it).

    Loading it puts benchmarks/ on sys.path for its ``siblings``, which are unloaded again after.
    """
    path_before = list(sys.path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    for loaded in (spec.name, *siblings):
        sys.modules.pop(loaded, None)
    sys.path[:] = path_before
