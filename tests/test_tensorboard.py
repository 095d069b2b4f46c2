import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import run_cli

FAST = ["train", "cem", "--env", "CartPole-v1", "--set", "n_sessions=40", "--quiet"]


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a TensorBoard run, as (step, value) pairs in file order."""
    accumulator = EventAccumulator(str(run), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]
    }


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def expected(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """metrics.jsonl and summary.json as TensorBoard should hold them (float32 values)."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for record in records(folder):
        for key, value in record.items():
            curves.setdefault(key, []).append((record["env_steps"], float(np.float32(value))))
    summary = json.loads((folder / "summary.json").read_text())
    for key, value in summary.items():
        if isinstance(value, int | float):
            curves[f"summary/{key}"] = [(summary["env_steps"], float(np.float32(value)))]
    return curves


def test_every_metric_is_a_scalar_by_env_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, tb = tmp_path / "run", tmp_path / "tb"
    code, _, err = run_cli(
        [*FAST, "--target", "60", "--max-iterations", "4", "--out", run, "--tensorboard", tb], capsys
    )
    assert code == 0, err
    keys = {key for record in records(run) for key in record}
    assert {"mean_return", "max_return", "elite_threshold", "env_steps", "wall_time_s"} <= keys
    got = scalars(tb / "run")
    want = expected(run)
    assert set(got) == set(want)
    for tag, points in want.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in points], tag
        assert [v for _, v in got[tag]] == pytest.approx([v for _, v in points], rel=1e-6), tag
    steps = [s for s, _ in got["mean_return"]]
    assert steps == sorted(steps) and steps[0] > 0
    assert got["summary/eval_mean_return"][0][1] == pytest.approx(
        json.loads((run / "summary.json").read_text())["eval_mean_return"], rel=1e-6
    )


def test_a_resumed_run_continues_the_curves_without_duplicated_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, tb = tmp_path / "run", tmp_path / "tb"
    # The first part runs without TensorBoard: the resumed run's curves still start at iteration 1.
    assert run_cli([*FAST, "--max-iterations", "2", "--out", run], capsys)[0] == 0
    at_two = (run / "checkpoint").read_bytes()
    resume = ["train", "--resume", run, "--quiet", "--tensorboard", tb]
    assert run_cli([*resume, "--max-iterations", "3"], capsys)[0] == 0
    assert [s for s, _ in scalars(tb / "run")["iteration"]] == [r["env_steps"] for r in records(run)]
    # Back to iteration 2's checkpoint: the resume cuts metrics.jsonl back, and TensorBoard with it.
    (run / "checkpoint").write_bytes(at_two)
    assert run_cli([*resume, "--max-iterations", "5"], capsys)[0] == 0
    got = scalars(tb / "run")
    assert [v for _, v in got["iteration"]] == [1, 2, 3, 4, 5]
    steps = [s for s, _ in got["iteration"]]
    assert len(set(steps)) == len(steps)
    assert got == expected(run)
    assert len(got["summary/eval_mean_return"]) == 1  # the first resume's summary is gone too
    assert len(list((tb / "run").glob("events.out.tfevents.*"))) == 1


def test_a_resumed_run_gives_the_curves_of_an_uninterrupted_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert (
        run_cli([*FAST, "--max-iterations", "4", "--out", whole, "--tensorboard", tmp_path / "a"], capsys)[0]
        == 0
    )
    assert (
        run_cli([*FAST, "--max-iterations", "2", "--out", parts, "--tensorboard", tmp_path / "b"], capsys)[0]
        == 0
    )
    resume = ["train", "--resume", parts, "--max-iterations", "4", "--quiet", "--tensorboard", tmp_path / "b"]
    assert run_cli(resume, capsys)[0] == 0
    a, b = scalars(tmp_path / "a" / "whole"), scalars(tmp_path / "b" / "parts")
    timing = ("wall_time_s", "steps_per_s", "eval_env_steps")  # evaluations add up over the parts
    assert {t: p for t, p in a.items() if not t.endswith(timing)} == {
        t: p for t, p in b.items() if not t.endswith(timing)
    }


def test_tensorboard_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tb = tmp_path / "tb"
    for parent in ("x", "y"):
        out = tmp_path / parent / "run"
        code, _, err = run_cli([*FAST, "--max-iterations", "1", "--out", out, "--tensorboard", tb], capsys)
        if parent == "x":
            assert code == 0, err
    # A second run folder of the same name would overwrite the first one's curves: refused.
    assert code == 2 and "holds the curves of the run folder" in err and str(tmp_path / "x" / "run") in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "y" / "run").exists()
    a_file = tmp_path / "file"
    a_file.write_text("")
    for log_dir in (a_file, a_file / "sub"):
        code, _, err = run_cli(
            [*FAST, "--max-iterations", "1", "--out", tmp_path / "z", "--tensorboard", log_dir], capsys
        )
        assert code == 2 and "--tensorboard" in err and len(err.strip().splitlines()) == 1, err
        code, _, err = run_cli([*FAST, "--dry-run", "--tensorboard", log_dir], capsys)
        assert code == 2 and "--tensorboard" in err, err  # a dry run checks it as the run would
    code, out, err = run_cli([*FAST, "--dry-run", "--tensorboard", tb], capsys)
    assert code == 0 and f"tensorboard: {json.dumps(str(tb))}" in out, err


def test_event_files_another_program_wrote_are_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TensorBoard run of the same name that policysearch did not write (SB3's, by hand) stays."""
    theirs = tmp_path / "tb" / "run" / "events.out.tfevents.123.other.0"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"their curves")
    out = tmp_path / "run"
    code, _, err = run_cli(
        [*FAST, "--max-iterations", "1", "--out", out, "--tensorboard", tmp_path / "tb"], capsys
    )
    assert code == 2 and "did not write" in err and len(err.strip().splitlines()) == 1, err
    assert theirs.read_bytes() == b"their curves" and not out.exists()


def test_tensorboard_from_a_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yml"
    config.write_text(f"tensorboard: {tmp_path / 'tb'}\nmax-iterations: 1\n")
    code, _, err = run_cli([*FAST, "--out", tmp_path / "run", "--config", config], capsys)
    assert code == 0, err
    assert len(scalars(tmp_path / "tb" / "run")["mean_return"]) == 1


def test_a_tensorboard_run_that_would_be_a_run_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Event files went into another run's folder (``--tensorboard`` its parent) or into the run's
    own, and a symbolic link loop failed after the run folder was made."""
    victim = tmp_path / "sub" / "victim"
    code, _, err = run_cli([*FAST, "--max-iterations", "1", "--out", victim], capsys)
    assert code == 0, err
    before = sorted(p.name for p in victim.iterdir())
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    cases = [
        (tmp_path / "other" / "victim", tmp_path / "sub", "would be the policysearch run folder"),
        (tmp_path / "own" / "run", tmp_path / "own", "would be the policysearch run folder"),
        (tmp_path / "new" / "run", tmp_path / "loop", "--tensorboard"),
        (tmp_path / "empty" / "run", "", "--tensorboard is empty"),  # was the current folder
    ]
    for out, log_dir, needle in cases:
        args = [*FAST, "--max-iterations", "1", "--out", out, "--tensorboard", log_dir]
        code, _, err = run_cli(args, capsys)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    assert sorted(p.name for p in victim.iterdir()) == before
