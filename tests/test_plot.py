import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from policysearch.cli import main
from policysearch.run.plots import _mean_band, plot_learning_curve, plot_runs, read_run

SETTINGS = {
    "cem": ["--set", "n_sessions=40", "--set", "hidden=[8]"],
    "es": ["--set", "population=20", "--set", "hidden=[8]", "--set", "noise_table_size=100000"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """cem and es on CartPole-v1, two seeds each, three iterations."""
    root = tmp_path_factory.mktemp("runs")
    folders = []
    for algo, settings in SETTINGS.items():
        for seed in (0, 1):
            folder = root / f"{algo}-{seed}"
            args = ["train", algo, "--env", "CartPole-v1", "--seed", seed, "--target", 475]
            args += ["--max-iterations", 3, "--out", folder, "--quiet", *settings]
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                assert exc.code in (0, None)
            folders.append(folder)
    return folders


def colour_pixels(png: Path, rgb: tuple[int, int, int]) -> int:
    """How many of the image's pixels are within a small distance of a colour."""
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=int)
    return int((np.abs(pixels - np.array(rgb)).sum(axis=2) < 30).sum())


@pytest.mark.parametrize("x", ["iteration", "env_steps", "wall_time"])
def test_plot_writes_a_png_of_both_algorithms(
    runs: list[Path], tmp_path: Path, x: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub" / "curves.png"
    code, _, err = run_cli(["plot", *runs, "--out", out, "--x", x], capsys)
    assert code == 0, err
    assert "4 runs in 2 groups" in err
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (720, 480)  # one env: one subplot
    # Both groups are drawn, each in its own colour (matplotlib's C0 blue and C1 orange).
    assert colour_pixels(out, (31, 119, 180)) > 100 and colour_pixels(out, (255, 127, 14)) > 100


def test_plot_groups_by_algorithm_and_env(runs: list[Path], tmp_path: Path) -> None:
    read = plot_runs(runs, tmp_path / "p.png", x="iteration")
    assert [(r.algorithm, r.env_id, r.policy, r.seed) for r in read] == [
        ("cem", "CartPole-v1", "mlp", 0),
        ("cem", "CartPole-v1", "mlp", 1),
        ("es", "CartPole-v1", "mlp", 0),
        ("es", "CartPole-v1", "mlp", 1),
    ]
    for run in read:
        summary = json.loads((run.folder / "summary.json").read_text())
        assert run.target == 475 and run.eval_mean_return == summary["eval_mean_return"]
        assert [r["iteration"] for r in run.records] == list(range(1, summary["iterations"] + 1))


def test_a_run_still_training_is_read_from_its_checkpoint(runs: list[Path], tmp_path: Path) -> None:
    training = tmp_path / "training"
    shutil.copytree(runs[2], training)
    (training / "summary.json").unlink()
    run = read_run(training)
    assert (run.algorithm, run.env_id, run.policy, run.seed, run.target) == (
        "es",
        "CartPole-v1",
        "mlp",
        0,
        475,
    )
    assert run.eval_mean_return is None  # no final evaluation yet
    plot_runs([training, runs[3]], tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_the_mean_and_band_on_a_common_grid() -> None:
    a = (np.array([1.0, 2.0, 3.0]), np.array([0.0, 10.0, 20.0]))
    b = (np.array([1.0, 2.0]), np.array([4.0, 6.0]))
    band = _mean_band([a, b], integer=True)
    assert band is not None
    grid, mean, low, high = band
    assert grid.tolist() == [1, 2] and mean.tolist() == [2, 8] and low.tolist() == [0, 6]
    assert high.tolist() == [4, 10]
    line = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    band = _mean_band([line, line], integer=False)
    assert band is not None and len(band[0]) == 200 and np.allclose(band[1], band[0])
    assert (
        _mean_band([(np.array([0.0, 1.0]), a[1][:2]), (np.array([2.0, 3.0]), a[1][:2])], integer=False)
        is None
    )


def test_plot_errors(runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    a_file = tmp_path / "file"
    a_file.write_text("")
    (tmp_path / "dir.png").mkdir()
    cases = {
        "no metrics": ([empty], tmp_path / "p.png", [], "has no metrics"),
        "no folder": ([tmp_path / "nope"], tmp_path / "p.png", [], "does not exist"),
        "not png": (runs, tmp_path / "p.jpg", [], "PNG"),
        "folder out": (runs, tmp_path / "dir.png", [], "is a folder"),
        "not writable": (runs, a_file / "p.png", [], "cannot make its folder"),
        "unknown x": (runs, tmp_path / "p.png", ["--x", "episodes"], "iteration, env_steps, wall_time"),
    }
    for name, (folders, out, extra, words) in cases.items():
        code, _, err = run_cli(["plot", *folders, "--out", out, *extra], capsys)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, (name, err)
        assert "Traceback" not in err
    assert not (tmp_path / "p.png").exists() and not (tmp_path / "p.jpg").exists()


def test_the_single_run_curve_marks_the_final_evaluation(runs: list[Path], tmp_path: Path) -> None:
    folder = runs[0]
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((folder / "summary.json").read_text())
    with_eval, without = tmp_path / "with.png", tmp_path / "without.png"
    plot_learning_curve(with_eval, records, None, "t", None, summary=summary)
    plot_learning_curve(without, records, None, "t", None)
    # The final evaluation's star is drawn in red (C3) only when the summary is given.
    assert colour_pixels(with_eval, (214, 39, 40)) > colour_pixels(without, (214, 39, 40)) + 50
    plot_learning_curve(tmp_path / "one.png", records[:1], None, "one record", 475.0, summary=None)
    with Image.open(tmp_path / "one.png") as image:
        assert image.size == (990, 396)
    # A one-record curve is drawn as a point (a line alone would not show it): C0 blue, beyond the legend's
    alone = {k: v for k, v in records[0].items() if k != "elite_threshold"}  # nothing drawn over it
    plot_learning_curve(tmp_path / "dot.png", [alone], None, "one record", 475.0, summary=None)
    plot_learning_curve(tmp_path / "none.png", [{**alone, "mean_return": None}], None, "legend", 475.0)
    blue = (31, 119, 180)
    assert colour_pixels(tmp_path / "dot.png", blue) > colour_pixels(tmp_path / "none.png", blue) + 20


def test_plot_counts_a_folder_given_twice_once(runs: list[Path], tmp_path: Path) -> None:
    again = Path(str(runs[0]) + "/")
    read = plot_runs(
        [runs[0], again, runs[0].parent / ".." / runs[0].parent.name / runs[0].name], tmp_path / "p.png"
    )
    assert [run.folder for run in read] == [runs[0]]
    read = plot_runs([runs[1], runs[0], Path(str(runs[1]) + "/")], tmp_path / "q.png")
    assert [run.folder for run in read] == [runs[1], runs[0]]  # in the order given


def test_plot_refuses_a_summary_or_metrics_policysearch_did_not_write(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(record: dict) -> dict:
        return {**record, "mean_return": "high"}

    def without(key: str):  # records without a key gave an empty plot, exit 0
        return lambda record: {k: v for k, v in record.items() if k != key}

    metric_edits = {
        "metrics": (edit, "is not a number"),
        "no mean_return": (without("mean_return"), "no record has mean_return"),
        "no env_steps": (without("env_steps"), "a record has no env_steps"),
        # said "missing or empty"; records follow it, so it is named as damage
        "a first line not a record": (None, "line 1 is not a record policysearch wrote, and records follow"),
    }
    for name, change in {
        "seed": lambda s: {**s, "seed": "x"},
        "target": lambda s: {**s, "target": "high"},
        **dict.fromkeys(metric_edits),
    }.items():
        folder = tmp_path / name
        shutil.copytree(runs[0], folder)
        summary = json.loads((folder / "summary.json").read_text())
        if change is not None:
            (folder / "summary.json").write_text(json.dumps(change(summary)))
            # a seed is checked against the checkpoint's first, as evaluate checks it
            words = "is not a readable summary" if name == "seed" else "does not name the run"
        else:
            record_edit, words = metric_edits[name]
            lines = (folder / "metrics.jsonl").read_text().splitlines()
            if record_edit is None:
                lines.insert(0, "not json")
            else:
                lines = [json.dumps(record_edit(json.loads(line))) for line in lines]
            (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        out = tmp_path / "new" / "deeper" / "p.png"
        code, _, err = run_cli(["plot", folder, "--out", out], capsys)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, (name, err)
        assert not (tmp_path / "new").exists(), name  # no folder made for a plot that failed


def test_the_histogram_is_of_what_the_elite_threshold_cuts(tmp_path: Path, monkeypatch) -> None:
    """With several sessions per candidate the threshold cuts candidates' means: those are drawn."""
    from matplotlib.axes import Axes

    drawn: list[np.ndarray] = []
    hist = Axes.hist
    monkeypatch.setattr(
        Axes, "hist", lambda self, x, **kw: drawn.append(np.asarray(x)) or hist(self, x, **kw)
    )
    records = [{"iteration": 1, "env_steps": 100, "mean_return": 0.5, "elite_threshold": 0.5}]
    returns = np.array([0.0, 1.0, 1.0, 1.0, 0.0, 0.0])  # three candidates of two sessions
    plot_learning_curve(tmp_path / "a.png", records, returns, episodes_per_candidate=2)
    plot_learning_curve(tmp_path / "b.png", records, returns)
    assert drawn[0].tolist() == [0.5, 1.0, 0.0] and drawn[1].tolist() == returns.tolist()
