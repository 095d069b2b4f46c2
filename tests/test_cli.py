import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import policysearch
from conftest import run_cli, snapshot

FAST = ["--set", "n_sessions=300", "--max-iterations", "3"]


@pytest.fixture(scope="module")
def existing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs") / "existing"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "policysearch",
            "train",
            "cem",
            "--env",
            "FrozenLake-v1",
            "--out",
            folder,
            *FAST,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return folder


def test_train_writes_the_run_folder(existing_run: Path) -> None:
    summary = json.loads((existing_run / "summary.json").read_text())
    for key in (
        "algorithm env_id policy seed solved target iterations env_steps episodes wall_time_s "
        "eval_mean_return eval_std_return eval_episodes"
    ).split():
        assert key in summary
    assert summary["iterations"] == 3 and summary["eval_episodes"] == 1000
    records = [json.loads(line) for line in (existing_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2, 3]
    for key in ("env_steps", "episodes", "wall_time_s", "mean_return", "max_return", "elite_threshold"):
        assert key in records[0]
    png = (existing_run / "learning_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_evaluate_prints_the_contract_json(existing_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["evaluate", existing_run, "--episodes", "200", "--seed", "3"], capsys)
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"mean_return", "std_return", "episodes"}
    assert result["episodes"] == 200 and 0 <= result["mean_return"] <= 1


BAD_INPUTS = {
    "unknown env": (["train", "cem", "--env", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
    "tabular on Box": (
        ["train", "cem", "--env", "CartPole-v1", "--policy", "tabular"],
        "Discrete observation",
    ),
    "box actions": (
        ["train", "cem", "--env", "testenvs:DiscreteObsBoxAction-v0", "--policy", "tabular"],
        "Discrete action",
    ),
    "percentile": (["train", "cem", "--env", "Taxi-v4", "--set", "percentile=101"], "percentile"),
    "percentile<0": (["train", "cem", "--env", "Taxi-v4", "--set", "percentile=-1"], "percentile"),
    "n_sessions": (["train", "cem", "--env", "Taxi-v4", "--set", "n_sessions=0"], "n_sessions"),
    "alpha=0": (["train", "cem", "--env", "Taxi-v4", "--set", "alpha=0"], "alpha"),
    "alpha>1": (["train", "cem", "--env", "Taxi-v4", "--set", "alpha=1.5"], "alpha"),
    "lambda<0": (["train", "cem", "--env", "Taxi-v4", "--set", "lambda=-0.1"], "smoothing"),
    "unknown key": (["train", "cem", "--env", "Taxi-v4", "--set", "nope=1"], "nope"),
    "bad type": (["train", "cem", "--env", "Taxi-v4", "--set", "n_sessions=many"], "n_sessions"),
    "unknown algo": (["train", "nope", "--env", "Taxi-v4"], "nope"),
    "eval episodes": (["train", "cem", "--env", "Taxi-v4", "--eval-episodes", "10"], "eval_episodes"),
    "bad flag value": (["train", "cem", "--env", "Taxi-v4", "--seed", "x"], "seed"),
    "noise table smaller than the policy": (
        ["train", "es", "--env", "CartPole-v1", "--set", "noise_table_size=1000"],
        "noise_table_size=1,000 is smaller than the policy's",
    ),
    "ars noise table": (
        ["train", "ars", "--env", "Humanoid-v5", "--set", "noise_table_size=1000"],
        "smaller than the policy's",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_leaves_the_run_alone(
    case: str, existing_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, needle = BAD_INPUTS[case]
    before = snapshot(existing_run)
    code, _, err = run_cli([*args, "--out", existing_run, "--force"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err and "Traceback" not in err
    assert snapshot(existing_run) == before


def test_existing_run_is_never_overwritten_without_force(
    existing_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(existing_run)
    code, _, err = run_cli(["train", "cem", "--env", "FrozenLake-v1", "--out", existing_run, *FAST], capsys)
    assert code == 2 and "--resume" in err
    assert snapshot(existing_run) == before


def test_malformed_yaml_config(
    tmp_path: Path, existing_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("env: [Taxi-v4\npercentile: : 3\n")
    before = snapshot(existing_run)
    code, _, err = run_cli(["train", "cem", "--config", config, "--out", existing_run, "--force"], capsys)
    assert code == 2 and "not valid YAML" in err and len(err.strip().splitlines()) == 1
    assert snapshot(existing_run) == before


def test_config_file_and_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("env: FrozenLake-v1\nseed: 4\nmax-iterations: 2\npercentile: 60\nn_sessions: 100\n")
    out = tmp_path / "run"
    code, _, err = run_cli(
        ["train", "cem", "--config", config, "--set", "percentile=75", "--out", out], capsys
    )
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 4 and summary["iterations"] == 2
    assert summary["hyperparameters"]["percentile"] == 75 and summary["hyperparameters"]["n_sessions"] == 100


@pytest.mark.parametrize("content", [b"garbage", b"PK\x03\x04 not really a zip"])
def test_unreadable_checkpoint(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "checkpoint").write_bytes(content)
    for args in (["evaluate", tmp_path], ["train", "--resume", tmp_path]):
        before = snapshot(tmp_path)
        code, _, err = run_cli(args, capsys)
        assert code == 2 and "checkpoint" in err and len(err.strip().splitlines()) == 1
        assert snapshot(tmp_path) == before


def test_foreign_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open(tmp_path / "checkpoint", "wb") as f:
        np.savez(f, weights=np.zeros(3))
    code, _, err = run_cli(["evaluate", tmp_path], capsys)
    assert code == 2 and "not a policysearch checkpoint" in err


def test_missing_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["evaluate", tmp_path / "nothing"], capsys)
    assert code == 2 and "no checkpoint" in err


def test_console_script_exit_code_and_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "policysearch", "train", "cem", "--env", "Nope-v1"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "Traceback" not in result.stderr


def test_warnings_show_once_on_one_line_and_mujoco_leaves_no_log(tmp_path: Path) -> None:
    """HalfCheetah-v4 warns as each env is made (Gymnasium: out of date; MuJoCo: a deprecated
    compiler attribute of its model, also v5's): Gymnasium's once for the whole run, workers
    included, on one line without colours; MuJoCo's not at all, and no MUJOCO_LOG.TXT."""
    args = ["train", "es", "--env", "HalfCheetah-v4", "--max-iterations", "1", "--workers", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "policysearch", *args, "--set", "population=6", "--out", "r", "--quiet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[1].startswith("no target given"), result.stderr
    upgrade = "You should consider upgrading to version `v5`."
    assert lines[0] == f"warning: The environment HalfCheetah-v4 is out of date. {upgrade}"
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["--version"], capsys)
    assert code == 0 and err == ""
    assert out == f"policysearch {policysearch.__version__}\n"
    assert policysearch.__version__ == importlib.metadata.version("policysearch")
    assert re.fullmatch(r"\d+\.\d+\.\d+", policysearch.__version__)


def test_cmaes_without_pycma_gives_the_install_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cma", None)  # import cma now raises ImportError
    code, _, err = run_cli(["train", "cmaes", "--env", "CartPole-v1", "--out", tmp_path / "r"], capsys)
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    (pin,) = pyproject["project"]["optional-dependencies"]["cma"]
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"pip install {pin}" in err  # the same pin as the extra that make run installs
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert re.search(r"^\$\(VENV\)/\.installed:.*\n\t\$\(PIP\) install -e \"\.\[cma\]\"", makefile, re.M)
    assert not (tmp_path / "r").exists()


def test_a_hyperparameter_given_as_an_option_points_to_set(capsys) -> None:
    code, _, err = run_cli(["train", "es", "--env", "CartPole-v1", "--population", "100"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--population is not an option" in err and "--set population=100" in err
    code, _, err = run_cli(["train", "cem", "--env", "CartPole-v1", "--elite-memory=3"], capsys)
    assert code == 2 and "--set elite_memory=3" in err
    code, _, err = run_cli(["train", "cem", "--env", "CartPole-v1", "--bogus", "1"], capsys)
    assert code == 2 and "No such option: --bogus" in err and "--set" not in err


def test_a_misspelt_hyperparameter_gets_a_did_you_mean(capsys) -> None:
    code, _, err = run_cli(["train", "es", "--env", "CartPole-v1", "--set", "sigmaa=0.1"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown hyperparameter 'sigmaa' (did you mean 'sigma'?" in err


def test_summary_shows_the_values_auto_resolved_to(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    args = ["train", "es", "--env", "Pendulum-v1", "--policy", "linear", "--max-iterations", "1"]
    code, _, err = run_cli([*args, "--eval-episodes", "100", "--out", out, "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hyperparameters"]["sigma"] == 0.05 and "sigma" in summary["auto_hyperparameters"]
    assert "auto" not in summary["hyperparameters"].values()


def test_progress_metrics_and_summary_count_the_same_env_steps(tmp_path: Path, capsys) -> None:
    """The greedy check of a reached target is training steps: in the last record as in the summary."""
    out = tmp_path / "run"
    args = ["train", "cem", "--env", "CartPole-v1", "--target", "475", "--max-iterations", "60"]
    code, _, err = run_cli([*args, "--out", out, "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert "greedy_return" in last  # the check ran, and its steps count
    assert last["env_steps"] == summary["env_steps"]


def test_cmaes_says_plainly_that_it_is_not_for_humanoid_size(tmp_path, capsys) -> None:
    """Two 5,950 x 5,950 matrices a checkpoint: refused in one line, before anything is written."""
    args = ["train", "cmaes", "--env", "Humanoid-v5", "--policy", "linear", "--out", tmp_path / "r"]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert (
        "cmaes is not for this size: the linear policy has 5,950 parameters" in err and "use es or ars" in err
    )
    assert not (tmp_path / "r").exists()


def test_cmaes_on_images_says_that_their_default_policy_is_not_its(tmp_path, capsys) -> None:
    """The default policy for image observations is cnn, which cmaes lacks: the line says so, not
    that the user asked for a --policy they never typed; --policy mlp is taken, and refused for
    its size."""
    args = ["train", "cmaes", "--env", "policysearch/Catch-v0", "--max-iterations", "1"]
    code, _, err = run_cli([*args, "--out", tmp_path / "r"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "cmaes has no default policy for these observations" in err
    assert "their default is --policy cnn, which cmaes does not offer" in err and "train cem or es" in err
    assert not (tmp_path / "r").exists()
    code, _, err = run_cli([*args, "--policy", "mlp", "--out", tmp_path / "r"], capsys)
    assert code == 2 and "cmaes is not for this size: the mlp policy has 2,115 parameters" in err


def test_exponent_floats_are_numbers_in_set_and_configs_and_the_dry_run_round_trips(
    tmp_path: Path, capsys
) -> None:
    """YAML 1.1 reads 1e-2 as a string: --set sigma=1e-2 was refused, and so was a dry run's 1e-05."""
    code, out, err = run_cli(
        ["train", "es", "--env", "CartPole-v1", "--set", "sigma=1e-2", "--dry-run"], capsys
    )
    assert code == 0 and "sigma: 0.01 " in out, err
    args = ["train", "es", "--env", "CartPole-v1", "--set", "sigma_min=0.00001", "--dry-run"]
    code, out, err = run_cli(args, capsys)
    assert code == 0 and "sigma_min: 1e-05" in out, err
    (tmp_path / "again.yml").write_text(out)
    code, again, err = run_cli(["train", "--config", tmp_path / "again.yml", "--dry-run"], capsys)
    assert code == 0, err
    assert "sigma_min: 1e-05" in again  # read back as the number it was


def test_integers_are_read_as_yaml_1_2_reads_them(tmp_path: Path, capsys) -> None:
    """YAML 1.1 read 010 as octal (8) and 1:30 as sexagesimal (90), silently."""
    args = ["train", "cem", "--env", "CartPole-v1", "--set", "n_sessions=010", "--dry-run"]
    code, out, err = run_cli([*args, "--set", "elite_memory=0o3"], capsys)
    assert code == 0 and "n_sessions: 10 " in out and "elite_memory: 3 " in out, err
    code, _, err = run_cli([*args, "--set", "percentile=1:30"], capsys)
    assert code == 2 and "percentile must be a number, not '1:30'" in err, err
    (tmp_path / "c.yml").write_text("env: CartPole-v1\nseed: 010\n")
    code, out, err = run_cli(["train", "cem", "--config", tmp_path / "c.yml", "--dry-run"], capsys)
    assert code == 0 and "seed: 10 " in out, (out, err)
    code, _, err = run_cli([*args, "--set", "percentile=0o_"], capsys)  # not an integer: a string
    assert code == 2 and "percentile must be a number, not '0o_'" in err, err
    # YAML's merge keys share settings, as before
    (tmp_path / "m.yml").write_text(
        "env: CartPole-v1\nhyperparameters:\n  <<: {n_sessions: 12}\n  alpha: 0.5\n"
    )
    code, out, err = run_cli(["train", "cem", "--config", tmp_path / "m.yml", "--dry-run"], capsys)
    assert code == 0 and "n_sessions: 12 " in out, (out, err)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("env: CartPole-v1\nseed: 2.5", "seed must be an integer"),
        ("env: CartPole-v1\nmax_iterations: 1.5", "max_iterations must be an integer"),
        ("env: CartPole-v1\nworkers: 1.5", "workers must be an integer"),
        ("env: CartPole-v1\nno_preset: 'false'", "no_preset must be true or false"),
        ("env: [CartPole-v1]", "env must be a string"),
        ("env: CartPole-v1\nout: 5", "out must be a string"),
        ("env: CartPole-v1\nhyperparameters: {1: 2}", "names are words, not 1"),
        ("env: CartPole-v1\nquiet: true", "'quiet' is not a config option"),  # was an unknown hyperparameter
        ("env: CartPole-v1\ndry-run: true", "--dry-run is given on the command line"),
        # a key given twice was the last one silently
        ("env: CartPole-v1\nseed: 1\nenv: Pendulum-v1", "'env' is given twice (lines 1 and 3)"),
        ("env: CartPole-v1\nmax-iterations: 1\nmax_iterations: 7", "as 'max-iterations' and as"),
        ("env: CartPole-v1\nn_sessions: 10\nhyperparameters: {n_sessions: 20}", "gives 'n_sessions' twice"),
        ("env: CartPole-v1\nhyperparameters: {n_sessions: 20, n_sessions: 30}", "'n_sessions' is given"),
    ],
)
def test_a_configs_options_are_typed_as_the_python_apis(
    config: str, message: str, tmp_path: Path, capsys
) -> None:
    (tmp_path / "c.yml").write_text(config + "\n")
    code, _, err = run_cli(["train", "cem", "--config", tmp_path / "c.yml", "--dry-run"], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_an_error_quoting_a_space_is_one_line(capsys) -> None:
    """numpy wraps a Box's bounds over lines: the message is still one line."""
    code, _, err = run_cli(
        ["train", "cem", "--env", "LunarLander-v3", "--policy", "tabular", "--dry-run"], capsys
    )
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]  # Box2D's SWIG
    assert code == 2 and len(lines) == 1 and "needs a Discrete observation space" in lines[0], err
