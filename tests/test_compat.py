"""Run folders written by release 0.1.0 still evaluate and resume, to the same numbers.

tests/data/v0.1.0 holds small runs of every algorithm and policy kind made by 0.1.0 with
make_fixtures.sh (its hyperparameters use the old names: n_simulations, start_groups, sigma,
common_starts), with what 0.1.0 printed for ``evaluate`` and the metrics it wrote when the run
was resumed for two more iterations.

Floats are compared to a relative 1e-7: the fixtures were written on another CPU, and BLAS and
pycma's linear algebra round the last bits differently from one CPU to the next (a continuous
env's mean return moved by 3e-9 relative and its spread by 2e-8, pycma's sigma by one unit in
the last place). Every count, every discrete return and every key must still be equal.
"""

import json
import shutil
from pathlib import Path

import pytest

from conftest import metrics_without_timings, run_cli

DATA = Path(__file__).parent / "data" / "v0.1.0"


def close(record: dict) -> dict:
    """A record whose floats compare to a relative 1e-7 (ints, bools and strings exactly)."""
    return {k: pytest.approx(v, rel=1e-7) if type(v) is float else v for k, v in record.items()}


RUNS = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def test_every_algorithm_has_a_fixture() -> None:
    assert RUNS == ["cem-gaussian", "cem-gru", "cem-mlp", "cem-tabular", "cmaes-linear", "es-mlp"]


@pytest.mark.parametrize("name", RUNS)
def test_old_run_evaluates_as_before(name: str, tmp_path: Path, capsys) -> None:
    folder = tmp_path / name
    shutil.copytree(DATA / name, folder)
    code, out, err = run_cli(["evaluate", folder, "--episodes", "100"], capsys)
    assert code == 0, err
    assert json.loads(out) == close(json.loads((DATA / name / "evaluate.json").read_text()))


@pytest.mark.parametrize("name", RUNS)
def test_old_run_resumes_as_before(name: str, tmp_path: Path, capsys) -> None:
    folder = tmp_path / name
    shutil.copytree(DATA / name, folder)
    done = json.loads((folder / "summary.json").read_text())["iterations"]
    code, _, err = run_cli(["train", "--resume", folder, "--max-iterations", done + 2, "--quiet"], capsys)
    assert code == 0, err
    expected = [
        {k: v for k, v in json.loads(line).items() if k not in ("wall_time_s", "steps_per_s")}
        for line in (DATA / name / "continued.jsonl").read_text().splitlines()
    ]
    assert metrics_without_timings(folder) == [close(record) for record in expected]

