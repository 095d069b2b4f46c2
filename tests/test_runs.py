import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import metrics_without_timings, run_cli
from policysearch import CEM, Trainer, TrainOptions
from policysearch.run.runfolder import load_checkpoint, save_checkpoint


def options(out: Path, **kw) -> TrainOptions:
    base = dict(
        algorithm="cem",
        env_id="Taxi-v4",
        seed=3,
        max_iterations=6,
        out=str(out),
        hyperparameters={"n_sessions": 400},
    )
    base.update(kw)
    return TrainOptions(**base)


def test_another_seed_another_run(tmp_path: Path) -> None:
    Trainer(options(tmp_path / "a")).train()
    Trainer(options(tmp_path / "b", seed=4)).train()
    assert metrics_without_timings(tmp_path / "a") != metrics_without_timings(tmp_path / "b")


def test_killed_run_resumes_and_matches_an_uninterrupted_one(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "killed"
    cmd = [sys.executable, "-m", "policysearch", "train", "cem", "--env", "Taxi-v4", "--seed", "3"]
    cmd += ["--max-iterations", "40", "--set", "n_sessions=3000", "--out", str(folder), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = folder / "metrics.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 4:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (folder / "summary.json").exists(), "the run ended before it could be killed"
    meta, _ = load_checkpoint(folder)  # the last complete checkpoint is readable
    assert 1 <= meta["iteration"] < 40
    code, _, err = run_cli(["train", "--resume", folder, "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["iterations"] == 40
    straight = tmp_path / "straight"
    Trainer(options(straight, max_iterations=40, hyperparameters={"n_sessions": 3000})).train()
    assert metrics_without_timings(folder) == metrics_without_timings(straight)


@pytest.mark.parametrize(
    ("stop", "budget", "again"),
    [
        ("max_iterations", {}, []),
        ("target", {"max_iterations": 30, "target": -100}, ["--max-iterations", "60"]),
    ],
)
def test_a_run_stopped_before_its_summary_resumes_to_that_summary(
    stop: str, budget: dict, again: list[str], tmp_path: Path, capsys
) -> None:
    """Killed after the last checkpoint, before summary.json: no evaluation again, no training on."""
    folder = tmp_path / "run"
    first = Trainer(options(folder, **budget)).train()
    assert first["stop_reason"] == stop
    (folder / "summary.json").unlink()  # as if killed between the last checkpoint and the summary
    code, _, err = run_cli(["train", "--resume", folder, "--quiet", *again], capsys)
    assert code == 0, err
    summary = json.loads((folder / "summary.json").read_text())
    for key in ("stop_reason", "iterations", "env_steps", "eval_mean_return", "eval_env_steps"):
        assert summary[key] == first[key], key
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == first["iterations"]


def test_a_checkpoint_with_a_broken_evaluation_record_is_refused(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "run"
    Trainer(options(folder, max_iterations=2)).train()
    meta, arrays = load_checkpoint(folder)
    meta["evaluated"] = {"iteration": 2, "mean": "high"}
    save_checkpoint(folder, meta, arrays)
    code, _, err = run_cli(["train", "--resume", folder], capsys)
    assert code == 2 and "incomplete or inconsistent" in err and "Traceback" not in err


#: Runs whose checkpoints are edited below: (algorithm, env, hyperparameters).
EDITED_RUNS = {
    "es": ("es", "Pendulum-v1", {"population": 8}),
    "cmaes": ("cmaes", "Pendulum-v1", {"population": 8}),
    "cem-weights": ("cem", "CartPole-v1", {"n_sessions": 16, "search": "weights", "elite_memory": 2}),
    "cem-actions": (
        "cem",
        "Pendulum-v1",
        {"n_sessions": 16, "search": "actions", "elite_memory": 3, "episodes_per_candidate": 2},
    ),
    "cem-tabular": ("cem", "FrozenLake-v1", {"n_sessions": 100, "elite_memory": 3}),
}


def _cut(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1)[:-1]


@pytest.mark.parametrize(
    ("run", "key", "edit", "said"),
    [
        ("es", "es.sigma", lambda a: np.stack([a, a]), "es.sigma has shape (2, "),  # was a traceback
        ("es", "obs.mean", _cut, "obs.mean has shape (2,)"),
        ("cmaes", "cma.C", _cut, "cma.C has shape"),  # was an IndexError on resume, evaluate ignored it
        ("cem-weights", "cem.sigma", _cut, "cem.sigma has shape"),
        ("cem-weights", "memory.0.vectors", lambda a: a[:, :-1], "memory's vectors"),
        ("cem-actions", "memory.0.obs", _cut, "memory's obs"),
        ("cem-actions", "memory.0.lengths", lambda a: a[:-1], "memory's lengths"),  # < candidates x 2
        ("cem-actions", "memory.2.scores", None, "entries [0, 1, 2]; this run keeps 2"),
        ("cem-tabular", "memory.0.states", lambda a: a + 100, "states are not indices below 16"),
        ("cem-tabular", "memory.0.owners", lambda a: a.astype(np.float64), "owners are not indices"),
        ("cem-tabular", "memory.1.actions", _cut, "memory's actions"),
        ("cem-weights", "policy.layers.0.weight", lambda a: a * np.nan, "holds NaN"),  # was exit 1
        ("es", "es.mu", lambda a: a * np.inf, "holds NaN or infinite"),
    ],
)
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_checkpoint_edited_to_other_shapes_is_refused_in_one_line(
    run: str, key: str, edit, said: str, command: str, tmp_path: Path, capsys
) -> None:
    """Every array is checked against the run's own before it is used: no traceback, nothing written."""
    algorithm, env_id, hyper = EDITED_RUNS[run]
    folder = tmp_path / "run"
    Trainer(
        options(folder, algorithm=algorithm, env_id=env_id, max_iterations=3, hyperparameters=hyper)
    ).train()
    meta, arrays = load_checkpoint(folder)
    if edit is None:
        arrays[key] = arrays["memory.0.scores"]
    else:
        assert key in arrays, sorted(arrays)
        arrays[key] = edit(arrays[key])
    save_checkpoint(folder, meta, arrays)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    args = ["evaluate", folder, "--episodes", "2"] if command == "evaluate" else ["train", "--resume", folder]
    code, _, err = run_cli([*args, "--quiet"] if command == "resume" else args, capsys)
    assert code == 2 and "incomplete or inconsistent" in err and said in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_checkpoint_is_written_atomically(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, {"x": 1}, {"a": np.arange(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]  # no temporary left behind
    meta, arrays = load_checkpoint(tmp_path)
    assert meta["x"] == 1 and arrays["a"].tolist() == [0, 1, 2]


def test_a_write_syncs_the_file_and_then_its_folder(tmp_path: Path, monkeypatch) -> None:
    """A rename is durable only once the folder's entry is on disk (a power cut keeps the old file)."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    save_checkpoint(tmp_path, {"x": 1}, {"a": np.arange(3)})
    assert synced == ["file", "folder"]


def test_incomplete_checkpoint_is_bad_input(tmp_path: Path, capsys) -> None:
    save_checkpoint(tmp_path, {"algorithm": "cem"}, {})
    code, _, err = run_cli(["evaluate", tmp_path], capsys)
    assert code == 2 and "incomplete" in err


def test_api_train_evaluate_save_load(tmp_path: Path) -> None:
    agent = CEM("FrozenLake-v1", seed=1, n_sessions=100)
    summary = agent.train(max_iterations=2)
    assert summary["iterations"] == 2
    more = agent.train(max_iterations=4)  # continues the same run
    assert more["iterations"] == 4
    result = agent.evaluate(episodes=300)
    assert result["episodes"] == 300
    assert agent.act(0) in range(4)
    saved = agent.save(tmp_path / "saved")
    loaded = CEM.load(saved)
    assert loaded.evaluate(episodes=300) == result
    with pytest.raises(ValueError, match="percentile"):
        CEM("Taxi-v4", percentile=120)


def test_cmaes_over_300_parameters_resumes_to_the_uninterrupted_run(tmp_path: Path) -> None:
    """From 300 parameters pycma adapted sigma by TPA, whose state the checkpoint lacked: resume failed."""

    def cmaes(out: Path, iterations: int) -> TrainOptions:
        return options(
            out, algorithm="cmaes", env_id="Pendulum-v1", policy="mlp", max_iterations=iterations,
            hyperparameters={"hidden": [100]},  # 502 parameters
        )  # fmt: skip

    Trainer(cmaes(tmp_path / "straight", 4)).train()
    Trainer(cmaes(tmp_path / "resumed", 2)).train()
    Trainer.resume(tmp_path / "resumed", max_iterations=4).train()
    assert metrics_without_timings(tmp_path / "resumed") == metrics_without_timings(tmp_path / "straight")


def test_the_drivers_blas_is_single_threaded_whatever_the_workers() -> None:
    """With its threads numpy.linalg gave other last bits: CMA-ES parted with --workers 2 from --workers 1."""
    code = (
        "from threadpoolctl import threadpool_info\n"
        "from policysearch.sampling import make_sampler\n"
        "sampler = make_sampler('CartPole-v1', 2, workers=2)\n"
        "print(max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'))\n"
        "sampler.close()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_each_metrics_record_is_on_disk_before_its_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """A power cut must not keep iteration N's checkpoint and lose its record (resume refuses that)."""
    order: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        order.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    Trainer(options(tmp_path / "run", max_iterations=2)).train()
    records = [i for i, name in enumerate(order) if "metrics.jsonl" in name]
    checkpoints = [i for i, name in enumerate(order) if name.startswith(".checkpoint.tmp")]
    assert len(records) == 2 and all(r < c for r, c in zip(records, checkpoints, strict=False))


def test_a_checkpoint_missing_a_weight_names_it(tmp_path: Path, capsys) -> None:
    """torch's first line alone ("Error(s) in loading state_dict for TorchPolicy:"), in a repr, before."""
    algorithm, env_id, hyper = EDITED_RUNS["cem-actions"]
    folder = tmp_path / "run"
    Trainer(
        options(folder, algorithm=algorithm, env_id=env_id, max_iterations=1, hyperparameters=hyper)
    ).train()
    meta, arrays = load_checkpoint(folder)
    del arrays["policy.head.bias"]
    save_checkpoint(folder, meta, arrays)
    code, _, err = run_cli(["evaluate", folder, "--episodes", "2"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "do not fit this policy: missing ['head.bias'], not of this policy none" in err, err
    assert "ConfigError(" not in err


def rewrite_meta(folder: Path, changes: dict) -> None:
    """Edit the checkpoint's metadata in place, as a hand or a damaged disk might (no checks)."""
    import io
    import zipfile

    with zipfile.ZipFile(folder / "checkpoint") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta_name = next(n for n in members if n.startswith("__meta__"))
    meta = json.loads(np.load(io.BytesIO(members[meta_name])).tobytes().decode())
    meta.update(changes)
    buffer = io.BytesIO()
    np.save(buffer, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    members[meta_name] = buffer.getvalue()
    with zipfile.ZipFile(folder / "checkpoint", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("key", "changes"),
    [
        ("iteration", {"iteration": "two"}),
        ("options", {"options": [1]}),
        ("seed", {"options": {"seed": "x"}}),
        ("env_steps", {"env_steps": -5}),
        ("algorithm", {"algorithm": 3}),
    ],
)
def test_checkpoint_metadata_of_another_type_is_named(key: str, changes: dict, tmp_path: Path, capsys):
    """Fields of another type were a ValueError or AttributeError deep in the readers (a traceback)."""
    from policysearch import Agent
    from policysearch.errors import CheckpointError

    folder = tmp_path / "run"
    Trainer(options(folder, max_iterations=1)).train()
    rewrite_meta(folder, changes)
    with pytest.raises(CheckpointError, match=f"is damaged: its '{key}' is"):
        Agent.load(folder)
    code, _, err = run_cli(["evaluate", folder], capsys)
    assert code == 2 and "is damaged" in err and len(err.strip().splitlines()) == 1, err


def test_a_checkpoint_or_metrics_with_values_policysearch_never_writes_is_refused(
    tmp_path: Path, capsys
) -> None:
    """NaN in the metadata, a metrics line that is not a record: one line, exit 2 (they were tracebacks)."""

    folder = tmp_path / "run"
    Trainer(options(folder, max_iterations=2)).train()
    broken = tmp_path / "nan"
    shutil.copytree(folder, broken)
    rewrite_meta(broken, {"wall_time_s": float("nan")})  # json writes NaN
    code, _, err = run_cli(["evaluate", broken], capsys)
    assert code == 2 and "not a readable policysearch checkpoint" in err and "Traceback" not in err, err
    odd = tmp_path / "odd"
    shutil.copytree(folder, odd)
    (odd / "metrics.jsonl").write_text("5\n" + (odd / "metrics.jsonl").read_text())
    code, _, err = run_cli(["train", "--resume", odd, "--max-iterations", "3"], capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_damaged_summary_says_how_to_keep_the_checkpoint(tmp_path: Path) -> None:
    """The checkpoint cannot be checked against an unreadable summary.json: the refusal says what to do."""
    from policysearch import Agent
    from policysearch.errors import CheckpointError

    folder = tmp_path / "run"
    Trainer(options(folder, max_iterations=1)).train()
    (folder / "summary.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"remove summary\.json"):
        Agent.load(folder)
    (folder / "summary.json").unlink()
    with Agent.load(folder) as agent:
        assert agent.train(max_iterations=2)["iterations"] == 2
    assert json.loads((folder / "summary.json").read_text())["iterations"] == 2
