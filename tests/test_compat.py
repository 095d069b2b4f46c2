"""Run folders written by release 0.1.0 still evaluate and resume, to the same numbers.

tests/data/v0.1.0 holds small runs of every algorithm and policy kind made by 0.1.0 with
make_fixtures.sh (its hyperparameters use the old names: n_simulations, start_groups, sigma,
common_starts), with what 0.1.0 printed for ``evaluate`` and the metrics it wrote when the run
was resumed for two more iterations.

Floats are compared to a relative 1e-7: the fixtures were written on another CPU, and BLAS and
pycma's linear algebra round the last bits differently from one CPU to the next (a continuous
env's mean return moved by 3e-9 relative and its spread by 2e-8, pycma's sigma by one unit in
the last place). A resumed run whose policy torch fits to continuous actions is compared to a
relative 1e-5 (``FITTED_TO_ACTIONS``). Every count, every discrete return and every key must
still be equal.

The evaluation's reset seeds moved below 2**32 after 0.1.0 (issue 23: MinAtar and dm_control
seed numpy's RandomState, which takes no larger seed): from ``2**40 + 10**9 s + i`` to
``2**31 + 10**6 s + i``, so the same run is now evaluated on other episodes. evaluate.json is
what 0.1.0 printed, and this release prints it too when given 0.1.0's seeds (the policy and the
env restore exactly, only the episodes moved); evaluate-32bit-seeds.json is what it prints with
its own seeds (written by this release). Training's seeds did not move: resumed runs continue
exactly as 0.1.0 continued them.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import metrics_without_timings, run_cli

DATA = Path(__file__).parent / "data" / "v0.1.0"


def close(record: dict, rel: float = 1e-7) -> dict:
    """A record whose floats compare to a relative ``rel`` (ints, bools and strings exactly)."""
    return {k: pytest.approx(v, rel=rel) if type(v) is float else v for k, v in record.items()}


#: Runs whose resumed iterations play a Gaussian policy that torch's gradient steps fitted to the
#: elite's continuous actions: torch's float32 kernels differ by CPU (AVX-512 against AVX2), so the
#: fitted weights differ in their last bits, and the next iteration's returns on Pendulum moved by
#: 2.9e-6 relative (measured on an AVX-512 Xeon; the elite threshold 7e-7). Counts stay exact.
FITTED_TO_ACTIONS = {"cem-gaussian": 1e-5}


RUNS = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def test_every_algorithm_has_a_fixture() -> None:
    assert RUNS == ["cem-gaussian", "cem-gru", "cem-mlp", "cem-tabular", "cmaes-linear", "es-mlp"]


def seeds_of_0_1_0(n: int, seed: int = 0, first: int = 0) -> np.ndarray:
    """The evaluation's reset seeds as 0.1.0 drew them."""
    start = 2**40 + seed * 10**9 + first
    return np.arange(start, start + n, dtype=np.int64)


@pytest.mark.parametrize("name", RUNS)
def test_old_run_evaluates_as_before(name: str, tmp_path: Path, capsys) -> None:
    folder = tmp_path / name
    shutil.copytree(DATA / name, folder)
    code, out, err = run_cli(["evaluate", folder, "--episodes", "100"], capsys)
    assert code == 0, err
    assert json.loads(out) == close(json.loads((DATA / name / "evaluate-32bit-seeds.json").read_text()))


@pytest.mark.parametrize("name", RUNS)
def test_old_run_evaluates_as_0_1_0_did_on_its_episodes(
    name: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policysearch.run import evaluation

    monkeypatch.setattr(evaluation, "evaluation_seeds", seeds_of_0_1_0)
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
    rel = FITTED_TO_ACTIONS.get(name, 1e-7)
    assert metrics_without_timings(folder) == [close(record, rel) for record in expected]


#: Import paths from before the package was regrouped (0.2.0), as the README, docs and tutorial
#: of 0.1.0 used them, with the name each is imported for.
FORMER_PATHS = {
    "policysearch.trainer": ("policysearch.run.trainer", "Trainer"),
    "policysearch.factory": ("policysearch.run.factory", "make_run"),
    "policysearch.options": ("policysearch.run.options", "TrainOptions"),
    "policysearch.guards": ("policysearch.run.guards", "RunGuard"),
    "policysearch.evaluation": ("policysearch.run.evaluation", "evaluate_actor"),
    "policysearch.runfolder": ("policysearch.run.runfolder", "load_checkpoint"),
    "policysearch.interrupts": ("policysearch.run.interrupts", "deferred"),
    "policysearch.logging": ("policysearch.run.callbacks", "Callback"),
    "policysearch.plotting": ("policysearch.run.plots", "plot_runs"),
    "policysearch.tensorboard_logger": ("policysearch.run.tensorboard", "TensorBoardLogger"),
    "policysearch.supervisor": ("policysearch.cli.supervisor", "wanted"),
    "policysearch.recording": ("policysearch.cli.video", "record_episode"),
    "policysearch.checks": ("policysearch.conformance", "check_algorithm"),
    "policysearch.envs.banners": ("policysearch.bandits.envs", "BannerAdsEnv"),
}


@pytest.mark.parametrize("former", sorted(FORMER_PATHS))
def test_a_former_import_path_still_works_and_says_where_it_went(former: str) -> None:
    import importlib
    import subprocess
    import sys
    import warnings

    new, name = FORMER_PATHS[former]
    # A fresh interpreter: in this one the former module may already be imported (no warning).
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('error')\n"
        f"try:\n    importlib.import_module({former!r})\n"
        "except DeprecationWarning as w:\n    print(w)\n"
        "else:\n    print('no warning')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"{former} moved to {new}" in out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(former)
        namespace: dict = {}
        exec(f"from {former} import {name}", namespace)  # as the docs of 0.1.0 wrote it
    assert module is importlib.import_module(new)
    assert namespace[name] is getattr(module, name)


def test_the_former_top_level_imports_of_the_docs_still_work() -> None:
    """``policysearch.cli.main`` (the console script), ``policysearch.bandits.compare`` and the
    public names of the package are where they were."""
    import policysearch
    from policysearch.bandits import UCB1Player, compare
    from policysearch.cli import main

    assert callable(main) and callable(compare) and UCB1Player.__name__ == "UCB1Player"
    for name in policysearch.__all__:
        assert getattr(policysearch, name) is not None


def test_a_run_stored_without_its_policy_kind_keeps_the_kind_it_trained(tmp_path: Path, capsys) -> None:
    """0.1.0 stored options.policy None when the kind was the default (mlp then); today's default for
    Hopper's 11 observations is linear: the run must still evaluate and resume as mlp."""
    from policysearch.run.runfolder import load_checkpoint, save_checkpoint

    folder = tmp_path / "old"
    args = [
        "train",
        "es",
        "--env",
        "Hopper-v5",
        "--policy",
        "mlp",
        "--set",
        "population=4",
        "--set",
        "hidden=[4]",
    ]
    code, _, err = run_cli([*args, "--max-iterations", "1", "--out", folder, "--quiet"], capsys)
    assert code == 0, err
    meta, arrays = load_checkpoint(folder)
    meta["options"]["policy"] = None  # as 0.1.0 wrote it; meta["policy"] names the kind
    save_checkpoint(folder, meta, arrays)
    code, out, err = run_cli(["evaluate", folder, "--episodes", "100"], capsys)
    assert code == 0, err
    assert (
        json.loads(out)["mean_return"]
        == json.loads((folder / "summary.json").read_text())["eval_mean_return"]
    )
    code, _, err = run_cli(["train", "--resume", folder, "--max-iterations", "2", "--quiet"], capsys)
    assert code == 0, err
