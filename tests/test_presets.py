"""Presets as data: listed, shown, resolved with --dry-run, dropped with --no-preset, and each one runs."""

import json
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from policysearch.presets import all_presets, env_ids


def test_presets_lists_every_env_one_per_line(capsys) -> None:
    code, out, _ = run_cli(["presets"], capsys)
    assert code == 0 and out.split("\n")[:-1] == env_ids()
    assert set(all_presets()) <= set(env_ids())


def test_presets_env_shows_its_presets_in_full(capsys) -> None:
    code, out, _ = run_cli(["presets", "LunarLander-v3"], capsys)
    shown = yaml.safe_load(out)
    assert code == 0 and shown["cem"]["policy"] == "mlp" and shown["cem"]["start_groups"] == 10
    assert shown["eval_episodes"] == 100
    code, _, err = run_cli(["presets", "NoSuch-v0"], capsys)
    assert code == 2 and "no preset" in err


def test_dry_run_prints_where_each_value_came_from_and_touches_nothing(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yml"
    config.write_text("seed: 3\nhyperparameters:\n  elite_memory: 2\n")
    args = ["train", "cem", "--env", "LunarLander-v3", "--config", config, "--set", "percentile=80"]
    code, out, err = run_cli([*args, "--out", tmp_path / "run", "--dry-run"], capsys)
    assert code == 0, err
    assert not (tmp_path / "run").exists()
    sources = {
        line.split(":")[0].strip(): line.split("#")[1].strip() for line in out.splitlines() if "#" in line[1:]
    }
    assert sources["seed"] == "config" and sources["elite_memory"] == "config"
    assert sources["percentile"] == "--set" and sources["start_groups"] == "preset (LunarLander-v3)"
    assert sources["learning_rate"] == "default" and sources["eval_episodes"] == "evaluation protocol"
    # the output is a config for the same run
    resolved = tmp_path / "resolved.yml"
    resolved.write_text(out)
    code, again, err = run_cli(["train", "--config", resolved, "--dry-run"], capsys)
    assert code == 0, err
    assert yaml.safe_load(again) == yaml.safe_load(out)


def test_no_preset_drops_tuned_values_but_keeps_the_evaluation_protocol(tmp_path: Path, capsys) -> None:
    env = "LunarLander-v3"
    code, out, _ = run_cli(["train", "cem", "--env", env, "--no-preset", "--dry-run"], capsys)
    resolved = yaml.safe_load(out)
    assert code == 0 and resolved["no_preset"]
    # auto shown as what it means for this env's discrete actions, marked as auto
    hyper = resolved["hyperparameters"]
    assert hyper["search"] == "actions" and hyper["start_groups"] == 0
    assert 'search: "actions"' in out and out.count("# default (auto)") >= 2
    args = ["train", "cem", "--env", "Taxi-v4", "--no-preset", "--max-iterations", "1", "--quiet"]
    code, _, err = run_cli([*args, "--out", tmp_path / "taxi"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "taxi" / "summary.json").read_text())
    assert summary["eval_episodes"] == 1000 and summary["policy"] == "tabular"


PRESETS = [(env_id, name) for env_id, by_algorithm in all_presets().items() for name in by_algorithm]


@pytest.mark.slow
@pytest.mark.parametrize(("env_id", "algorithm"), PRESETS, ids=[f"{a}-{e}" for e, a in PRESETS])
def test_each_preset_runs_an_iteration(env_id: str, algorithm: str, tmp_path: Path, capsys) -> None:
    """Every preset's values run an iteration (MuJoCo episodes cut at 100 steps: Ant's 120 sessions
    of 1000 steps took 97 s)."""
    args = ["train", algorithm, "--env", env_id, "--max-iterations", "1", "--quiet", "--out", tmp_path / "r"]
    if env_id.endswith("-v5"):
        args += ["--env-kwargs", '{"max_episode_steps": 100}']
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["iterations"] == 1 and summary["policy"] == all_presets()[env_id][algorithm].policy


def test_a_refusal_of_a_presets_value_says_it_came_from_the_preset(capsys) -> None:
    """search=weights refuses param_noise, which the user never gave: MountainCar's preset did."""
    code, _, err = run_cli(
        ["train", "cem", "--env", "MountainCar-v0", "--set", "search=weights", "--dry-run"], capsys
    )
    assert code == 2 and "param_noise: the preset for MountainCar-v0" in err and "--no-preset" in err, err
    code, _, err = run_cli(
        ["train", "cem", "--env", "MountainCar-v0", "--no-preset", "--set", "search=weights", "--dry-run"],
        capsys,
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("kwargs", "applied"),
    [({}, True), ({"is_slippery": True}, True), ({"map_name": "8x8"}, True), ({"is_slippery": False}, False)],
)
def test_a_preset_chosen_for_slippery_ice_is_not_applied_on_ice_that_is_not(
    kwargs: dict, applied: bool, tmp_path: Path, capsys
) -> None:
    """FrozenLake's preset scores candidates over 25 sessions because the ice is slippery; on ice
    that is not, it trained nothing on the 8x8 map, where the defaults solve it."""
    args = ["train", "cem", "--env", "FrozenLake-v1", "--env-kwargs", json.dumps(kwargs)]
    code, out, err = run_cli([*args, "--out", tmp_path / "r", "--dry-run"], capsys)
    assert code == 0, err
    resolved = yaml.safe_load(out)
    assert (resolved["hyperparameters"]["episodes_per_candidate"] == 25) is applied
    warning = (
        "warning: the cem preset of FrozenLake-v1 is not applied: it was chosen for is_slippery=true, "
        "and the env is made with is_slippery=false"
    )
    assert err.strip() == ("" if applied else warning)
    code, _, err = run_cli([*args, "--policy", "mlp", "--out", tmp_path / "r", "--dry-run"], capsys)
    assert code == 0 and err.strip() == "", err  # a preset of another policy never applies: no word
    code, out, _ = run_cli(["presets", "FrozenLake-v1"], capsys)
    assert yaml.safe_load(out)["cem"]["env_kwargs"] == {"is_slippery": True}


def test_frozen_lake_8x8_without_slippery_ice_is_solved_by_default(tmp_path: Path, capsys) -> None:
    """Seeds 0-2 solved it (1.0) in 13-19 iterations; with the slippery ice's preset, 0 after 60 s."""
    ice = '{"is_slippery": false, "map_name": "8x8"}'
    args = ["train", "cem", "--env", "FrozenLake-v1", "--env-kwargs", ice, "--target", "1"]
    code, _, err = run_cli([*args, "--max-iterations", "100", "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["solved"] and summary["eval_mean_return"] == 1.0
