"""benchmarks/defaults.py, the defaults suite: its task table, normalisation, rliable aggregation and
resumption, on synthetic runs (nothing is trained)."""

import importlib.util
import json
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from conftest import load_script
from policysearch.envs import make_env

DEFAULTS_PY = Path(__file__).resolve().parent.parent / "benchmarks" / "defaults.py"
SIBLINGS = ("defaults_tasks", "runners", "suites")  # what defaults.py imports from benchmarks/


@pytest.fixture(scope="module")
def suite() -> Iterator[ModuleType]:
    """defaults.py loaded by its path; loading it puts benchmarks/ on sys.path for its siblings."""
    yield from load_script(DEFAULTS_PY, "benchmarks_defaults", SIBLINGS)


@pytest.fixture(scope="module")
def tasks(suite: ModuleType) -> ModuleType:
    module = sys.modules["defaults_tasks"]
    assert Path(module.__file__ or "") == DEFAULTS_PY.parent / "defaults_tasks.py"
    return module


def test_table_has_twenty_tasks_from_every_family(tasks: ModuleType) -> None:
    assert len(tasks.TASKS) >= 20
    families = {t.family for t in tasks.TASKS.values()}
    assert {"classic", "box2d", "mujoco", "policysearch"} <= families
    for task in tasks.TASKS.values():
        assert task.source and task.env_id == task.env_id.strip()


def test_every_task_can_be_made(tasks: ModuleType) -> None:
    for env_id in tasks.TASKS:
        env = make_env(env_id)
        try:
            env.reset(seed=0)
            env.step(env.action_space.sample())
        finally:
            env.close()


def test_dm_control_tasks_follow_shimmy(tasks: ModuleType) -> None:
    shimmy = (
        importlib.util.find_spec("shimmy") is not None and importlib.util.find_spec("dm_control") is not None
    )
    assert any(t.family == "dm_control" for t in tasks.TASKS.values()) == shimmy


def test_parts_are_disjoint_cover_the_table_and_mix_families(tasks: ModuleType) -> None:
    tune = {t.env_id for t in tasks.tasks_of("tune")}
    holdout = {t.env_id for t in tasks.tasks_of("holdout")}
    assert not tune & holdout
    assert tune | holdout == set(tasks.TASKS) == {t.env_id for t in tasks.tasks_of("all")}
    assert abs(len(tune) - len(holdout)) <= 2
    for part in ("tune", "holdout"):
        assert {"classic", "box2d", "mujoco", "policysearch"} <= {t.family for t in tasks.tasks_of(part)}
    with pytest.raises(ValueError, match="unknown part"):
        tasks.tasks_of("train")


def test_every_task_has_a_measured_random_score_below_its_reference(tasks: ModuleType) -> None:
    data = json.loads(tasks.RANDOM_FILE.read_text())
    assert data["episodes"] >= 20
    random = tasks.load_random()
    for env_id, task in tasks.TASKS.items():
        assert env_id in random, f"{env_id}: run benchmarks/defaults.py --measure-random"
        assert random[env_id] < task.reference, env_id


def test_normalise(tasks: ModuleType) -> None:
    assert tasks.normalise(-200.0, -1200.0, -200.0) == 1.0
    assert tasks.normalise(-1200.0, -1200.0, -200.0) == 0.0
    assert tasks.normalise(-700.0, -1200.0, -200.0) == pytest.approx(0.5)
    assert tasks.normalise(600.0, 100.0, 350.0) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        tasks.normalise(1.0, 5.0, 5.0)


def write_run(out: Path, config: str, task: Any, seed: int, ret: float) -> None:
    folder = out / "runs" / config / task.slug / f"seed{seed}"
    folder.mkdir(parents=True)
    summary = {
        "algorithm": config.split("-")[0],
        "env_id": task.env_id,
        "seed": seed,
        "eval_mean_return": ret,
    }
    (folder / "summary.json").write_text(json.dumps(summary))


def test_iqm_and_ci_of_synthetic_runs_match_a_hand_computation(
    suite: ModuleType, tasks: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tune = tasks.tasks_of("tune")[:4]
    random = {t.env_id: 0.0 for t in tune}
    refs = {t.env_id: t.reference for t in tune}
    # config a: normalised scores 0.1 .. 0.8 over 2 seeds x 4 tasks; both seeds of a task alike in b
    a = {0: [0.1, 0.2, 0.3, 0.4], 1: [0.5, 0.6, 0.7, 0.8]}
    b = [0.0, 1.0, 2.0, 3.0]
    for i, task in enumerate(tune):
        random[task.env_id] = refs[task.env_id] - 100.0  # reference - random = 100: score = 100 * x + random
        for seed in (0, 1):
            write_run(tmp_path, "es-a", task, seed, random[task.env_id] + 100.0 * a[seed][i])
            write_run(tmp_path, "es-b", task, seed, random[task.env_id] + 100.0 * b[i])
    write_run(tmp_path, "es-a", tasks.tasks_of("tune")[5], 0, 0.0)  # es-b lacks it: left out
    holdout = tasks.tasks_of("holdout")[0]
    random[holdout.env_id] = holdout.reference - 10.0
    write_run(tmp_path, "es-c", holdout, 0, holdout.reference)  # only on holdout: not in tune's table

    scores = suite.part_scores(suite.collect(tmp_path), "tune", random)
    assert scores.tasks == [t.env_id for t in tune]
    assert set(scores.matrices) == {"es-a", "es-b"}
    assert scores.left_out == [tasks.tasks_of("tune")[5].env_id]
    np.testing.assert_allclose(scores.matrices["es-a"], [a[0], a[1]])

    points, cis = suite.interval_estimates(scores.matrices, reps=500)
    # IQM by hand: the 8 scores sorted, the lowest and the highest quarter (2 each) dropped
    middle = sorted(a[0] + a[1])[2:6]
    assert points["es-a"][0] == pytest.approx(np.mean(middle)) == pytest.approx(0.45)
    assert points["es-a"][1] == pytest.approx(0.45)  # median
    assert points["es-a"][2] == pytest.approx(0.45)  # mean
    assert points["es-a"][3] == pytest.approx(0.55)  # optimality gap: mean of 1 - min(score, 1)
    assert cis["es-a"][0][0] <= points["es-a"][0] <= cis["es-a"][1][0]
    assert cis["es-a"][0][0] < cis["es-a"][1][0]
    # b: IQM of [0, 0, 1, 1, 2, 2, 3, 3] is mean(1, 1, 2, 2) = 1.5; the runs of each task are alike,
    # so every stratified resample is the same matrix and the CI is the point
    assert points["es-b"][0] == pytest.approx(1.5)
    np.testing.assert_allclose(cis["es-b"][:, 0], [1.5, 1.5])
    assert points["es-b"][3] == pytest.approx(0.25)

    text = suite.report(tmp_path, ["tune", "holdout"], reps=200, random=random)
    assert "| es-a | 8 (2 x 4) | 0.450 [" in text
    assert "| **es-b** | 8 (2 x 4) | 1.500 [1.500, 1.500] | 1.500 | 1.500 | 0.250 |" in text
    assert "es-c" not in text.split("### holdout")[0]
    assert f"### holdout: 1 of {len(tasks.tasks_of('holdout'))} tasks" in text
    assert "| es-c | 1 (1 x 1) | 1.000 [1.000, 1.000] | 1.000 | 1.000 | 0.000 |" in text
    # per task, each config's mean over its runs: task 1 is (0.2 + 0.6) / 2 in a, 1 in b
    assert "| task | es-a | es-b |" in text
    assert f"| {tune[1].env_id} | 0.400 | 1.000 |" in text
    assert (tmp_path / "performance_profile.png").stat().st_size > 10_000
    assert (tmp_path / "report.md").read_text() == text
    assert capsys.readouterr().out.strip() == text.strip()


def test_finished_runs_are_not_run_again(suite: ModuleType, tasks: ModuleType, tmp_path: Path) -> None:
    calls: list[list[str]] = []
    crash = [True]  # the first session's CartPole seed-1 runs crash

    def fake_train(cmd: list[str], log: Path, timeout: float) -> int:
        calls.append(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        if crash[0] and "CartPole-v1" in cmd and cmd[cmd.index("--seed") + 1] == "1":
            out.mkdir(parents=True, exist_ok=True)  # crashes midway: a folder without a summary
            return 1
        out.mkdir(parents=True, exist_ok=True)
        env_id, seed = cmd[cmd.index("--env") + 1], int(cmd[cmd.index("--seed") + 1])
        (out / "summary.json").write_text(
            json.dumps({"env_id": env_id, "seed": seed, "eval_mean_return": 100.0})
        )
        return 0

    argv = [
        "--out", str(tmp_path), "--part", "tune", "--tasks", "CartPole-v1", "Pendulum-v1",
        "--seeds", "0", "1", "--budget-seconds", "20",
        "--config", "es-defaults=", "--config", "es-s=--set sigma=0.1", "--reps", "100",
    ]  # fmt: skip
    assert suite.main(argv, runner=fake_train, resolver=lambda cmd: shlex.join(cmd)) == 0
    assert len(calls) == 8
    first = calls[0]
    assert first[1:] == [
        "train", "es", "--env", "CartPole-v1", "--no-preset", "--seed", "0", "--workers", "2",
        "--max-seconds", "20", "--out", str(tmp_path / "runs/es-defaults/CartPole-v1/seed0"), "--quiet",
    ]  # fmt: skip
    assert calls[-1][-2:] == ["--set", "sigma=0.1"]
    assert not (tmp_path / "runs/es-s/CartPole-v1/seed1/summary.json").exists()

    calls.clear()
    crash[0] = False
    assert suite.main(argv, runner=fake_train, resolver=lambda cmd: None) == 0  # the two failed runs only
    assert [c[c.index("--env") + 1 : c.index("--env") + 2] for c in calls] == [["CartPole-v1"]] * 2
    assert all("--force" in c for c in calls)

    calls.clear()
    assert suite.main(["--out", str(tmp_path), "--resume", "--reps", "100"], runner=fake_train) == 0
    assert calls == []
    stored = json.loads((tmp_path / "suite.json").read_text())
    assert stored["configs"] == {"es-defaults": "", "es-s": "--set sigma=0.1"}
    assert stored["tasks"] == ["CartPole-v1", "Pendulum-v1"] and stored["seeds"] == [0, 1]

    with pytest.raises(SystemExit, match="budget of 20 s"):
        suite.main([*argv[:-2], "--budget-seconds", "30"], runner=fake_train)
    with pytest.raises(SystemExit, match="another name"):
        suite.main(["--out", str(tmp_path), "--config", "es-s=--set sigma=0.2", "--budget-seconds", "20"])
    with pytest.raises(SystemExit, match="--workers 2, not 1"):  # a wall-time budget buys other runs
        suite.main([*argv, "--workers", "1"], runner=fake_train)


def test_resume_runs_each_invocation_again_not_every_config_on_every_task(
    suite: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Candidates on tune, then the chosen one on holdout: --resume must not take the rejected
    candidate to the holdout tasks (it ran every config on every task ever given)."""
    calls: list[tuple[str, str]] = []

    def fake_train(cmd: list[str], log: Path, timeout: float) -> int:
        out = Path(cmd[cmd.index("--out") + 1])
        env_id, seed = cmd[cmd.index("--env") + 1], int(cmd[cmd.index("--seed") + 1])
        calls.append((out.parent.parent.name, env_id))
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(
            json.dumps({"env_id": env_id, "seed": seed, "eval_mean_return": 1.0})
        )
        return 0

    def distinct(cmd: list[str]) -> str:
        return " ".join(c for c in cmd if "/runs/" not in c)

    monkeypatch.setattr(suite, "report", lambda *args, **kwargs: "")
    base = ["--out", str(tmp_path), "--seeds", "0", "--budget-seconds", "20"]
    tune = [*base, "--part", "tune", "--tasks", "CartPole-v1"]
    suite.main(
        [*tune, "--config", "es-a=--set sigma=0.1", "--config", "es-b=--set sigma=0.2"], fake_train, distinct
    )
    holdout = [
        *base,
        "--part",
        "holdout",
        "--tasks",
        "Acrobot-v1",
        "--config",
        "es-a=--set sigma=0.1",
        "--algos",
        "es",
    ]
    suite.main(holdout, fake_train, distinct)
    for run in ("es-a", "es-defaults"):  # the holdout step interrupted before its runs
        shutil.rmtree(tmp_path / "runs" / run / "Acrobot-v1")
    calls.clear()
    suite.main(["--out", str(tmp_path), "--resume"], fake_train, distinct)
    assert sorted(calls) == [("es-a", "Acrobot-v1"), ("es-defaults", "Acrobot-v1")]


def test_configs_that_resolve_alike_share_a_run(
    suite: ModuleType, tasks: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, str, int]] = []

    def fake_train(cmd: list[str], log: Path, timeout: float) -> int:
        out = Path(cmd[cmd.index("--out") + 1])
        env_id, seed = cmd[cmd.index("--env") + 1], int(cmd[cmd.index("--seed") + 1])
        calls.append((out.parent.parent.name, env_id, seed))
        out.mkdir(parents=True, exist_ok=True)
        ret = 400.0 if "reward_shift=0" in cmd else 300.0
        (out / "summary.json").write_text(
            json.dumps({"env_id": env_id, "seed": seed, "eval_mean_return": ret})
        )
        return 0

    def fake_resolver(cmd: list[str]) -> str:
        # as --dry-run: reward_shift auto is 0 on CartPole-v1, so the two configs resolve alike there
        env_id = cmd[cmd.index("--env") + 1]
        shift = "0" if "reward_shift=0" in cmd or env_id == "CartPole-v1" else "1"
        return f"env: {env_id}\nseed: {cmd[cmd.index('--seed') + 1]}\nreward_shift: {shift}"

    argv = [
        "--out", str(tmp_path), "--part", "tune", "--tasks", "CartPole-v1", "Hopper-v5", "--seeds", "0", "1",
        "--budget-seconds", "20", "--config", "es-defaults=", "--config", "es-today=--set reward_shift=0",
        "--reps", "100",
    ]  # fmt: skip
    assert suite.main(argv, runner=fake_train, resolver=fake_resolver) == 0
    assert calls == [  # a seed at a time; es-today's CartPole runs are es-defaults's
        ("es-defaults", "CartPole-v1", 0), ("es-defaults", "Hopper-v5", 0), ("es-today", "Hopper-v5", 0),
        ("es-defaults", "CartPole-v1", 1), ("es-defaults", "Hopper-v5", 1), ("es-today", "Hopper-v5", 1),
    ]  # fmt: skip
    twin = tmp_path / "runs/es-today/CartPole-v1/seed1"
    assert json.loads((twin / "shared.json").read_text())["same_as"] == "es-defaults"
    assert json.loads((twin / "summary.json").read_text())["eval_mean_return"] == 300.0
    err = capsys.readouterr().err
    assert "es-today CartPole-v1 seed 0: the same options as es-defaults's run, shared" in err
    assert "ran: 6, shared: 2, failed: 0" in err
    assert "2 of es-today's are es-defaults's" in (tmp_path / "report.md").read_text()

    (twin / "summary.json").unlink()  # a share interrupted before its summary: shared again
    calls.clear()
    assert suite.main(["--out", str(tmp_path), "--resume", "--reps", "100"], fake_train, fake_resolver) == 0
    assert calls == [] and (twin / "summary.json").exists()


def test_resolved_options_are_the_dry_run_without_the_folder(suite: ModuleType, tasks: ModuleType) -> None:
    today, defaults = suite.Config("es-today", "--set reward_shift=0"), suite.Config("es-defaults")

    def options(config: ModuleType, env_id: str, folder: str) -> str:
        cmd = suite.train_command(config, tasks.TASKS[env_id], 0, 20.0, 2, Path(folder))
        text = suite.resolved_options(cmd)
        assert text is not None and "#" not in text and "out:" not in text and "max_seconds: 20" in text
        return str(text)

    assert options(defaults, "CartPole-v1", "/x/a") == options(today, "CartPole-v1", "/x/b")
    assert options(defaults, "Hopper-v5", "/x/a") != options(today, "Hopper-v5", "/x/a")
    bad = suite.train_command(
        suite.Config("es-bad", "--set nosuchkey=1"), tasks.TASKS["CartPole-v1"], 0, 20.0, 2, Path("/x")
    )
    assert suite.resolved_options(bad) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("es-x", "NAME=EXTRA_ARGS"), ("sigma=--set sigma=1", "start with the algorithm"), ("es/x=", "letters")],
)
def test_bad_configs_are_refused(suite: ModuleType, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        suite.parse_config(text)
    assert suite.parse_config("ars-step0.02=--set step_size=0.02").algo == "ars"
