"""The registry is the one list: CLI, API, public names and presets derive from it; old names work."""

import json
import re
import warnings
from pathlib import Path

import pytest

import policysearch
from conftest import run_cli
from policysearch import Trainer, TrainOptions
from policysearch.config import from_mapping
from policysearch.presets import all_presets, eval_episodes_for, preset_for
from policysearch.registry import POLICY_KINDS, REGISTRY, resolve
from policysearch.run.factory import make_run


def test_public_names_and_api_classes_come_from_the_registry() -> None:
    for entry in REGISTRY.values():
        assert entry.api_name in policysearch.__all__
        agent = getattr(policysearch, entry.api_name)
        assert agent.algorithm == entry.name and issubclass(agent, policysearch.Agent)
    assert "check_algorithm" in policysearch.__all__


def test_cli_help_lists_every_registered_algorithm(capsys) -> None:
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    for name, entry in REGISTRY.items():
        assert f"{name}, {entry.summary}" in text
    for kind in POLICY_KINDS:
        assert kind in text


def test_every_preset_is_keyed_by_a_registered_algorithm_and_a_policy_it_offers() -> None:
    presets = all_presets()
    assert presets
    for env_id, by_algorithm in presets.items():
        for name, preset in by_algorithm.items():
            assert name in REGISTRY and preset.env_id == env_id
            cls = resolve(name, preset.policy)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # presets use the current names only
                from_mapping(cls.config_class, preset.hyperparameters)


def test_a_preset_applies_only_to_the_policy_it_was_tuned_for(tmp_path: Path) -> None:
    tuned = preset_for("MountainCar-v0", "cem")
    assert tuned is not None and tuned.policy == "mlp"
    base = dict(algorithm="cem", env_id="MountainCar-v0", max_iterations=1)
    mlp = Trainer(TrainOptions(**base, out=str(tmp_path / "a")))
    assert mlp.policy == "mlp" and mlp.config.param_noise == tuned.hyperparameters["param_noise"]
    linear = Trainer(TrainOptions(**base, policy="linear", out=str(tmp_path / "b")))
    assert linear.config.param_noise == 0.0 and linear.run.preset is None


def test_the_evaluation_protocol_is_kept_apart_from_the_presets() -> None:
    assert eval_episodes_for("Taxi-v4") == 1000
    assert eval_episodes_for("policysearch/BannerAds-v0") == 10000
    assert eval_episodes_for("CartPole-v1") == 100
    assert eval_episodes_for("some.module:Taxi-v4") == 1000


@pytest.mark.parametrize(
    ("env_id", "episodes"),
    [
        ("Blackjack-v1", 1000),
        ("CliffWalking-v1", 1000),
        ("Acrobot-v1", 100),
        ("policysearch/BannerAds-v0", 10000),
    ],
)
def test_envs_with_discrete_observations_are_judged_over_1000_episodes(env_id: str, episodes: int) -> None:
    """Toy-text MDPs the list leaves out (Blackjack's card draws): the protocol's 1000, from their spaces."""
    assert make_run(TrainOptions(algorithm="cem", env_id=env_id)).eval_episodes == episodes


@pytest.mark.parametrize(
    ("algorithm", "env_id", "old", "new", "value"),
    [
        ("cem", "FrozenLake-v1", "n_simulations", "episodes_per_candidate", 3),
        ("cem", "CartPole-v1", "n_simulations", "episodes_per_candidate", 2),
        ("cem", "Pendulum-v1", "sigma", "std_head", "network"),
        ("es", "CartPole-v1", "common_starts", "start_groups", True),
    ],
)
def test_former_hyperparameter_names_work_with_one_warning_line(
    tmp_path: Path, capsys, algorithm: str, env_id: str, old: str, new: str, value
) -> None:
    set_value = str(value).lower() if isinstance(value, bool) else value
    args = ["train", algorithm, "--env", env_id, "--max-iterations", "1", "--quiet", "--set", "n_sessions=20"]
    if algorithm == "es":
        args[-1] = "population=6"
    code, _, err = run_cli([*args, "--set", f"{old}={set_value}", "--out", tmp_path / "set"], capsys)
    assert code == 0, err
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warned == [f"warning: {old!r} is deprecated: use {new!r}"]
    summary = json.loads((tmp_path / "set" / "summary.json").read_text())
    assert summary["hyperparameters"][new] == (int(value) if isinstance(value, bool) else value)
    assert old not in summary["hyperparameters"]

    config = tmp_path / "config.yml"
    config.write_text(f"hyperparameters:\n  {old}: {set_value}\n")
    code, _, err = run_cli([*args, "--config", config, "--out", tmp_path / "config"], capsys)
    assert code == 0, err
    assert (
        json.loads((tmp_path / "config" / "summary.json").read_text())["hyperparameters"]
        == (summary["hyperparameters"])
    )


def test_a_field_under_its_old_and_new_name_is_refused(tmp_path: Path, capsys) -> None:
    args = ["train", "cem", "--env", "FrozenLake-v1", "--out", tmp_path / "r"]
    code, _, err = run_cli([*args, "--set", "n_simulations=2", "--set", "episodes_per_candidate=3"], capsys)
    assert code == 2 and "given twice" in err and not (tmp_path / "r").exists()
    assert "as 'n_simulations' and as 'episodes_per_candidate'" in err  # both spellings named


@pytest.mark.parametrize(
    ("in_config", "in_set", "value"),
    [
        ("n_simulations: 2", "episodes_per_candidate=3", 3),
        ("episodes_per_candidate: 3", "n_simulations=2", 2),
    ],
)
def test_set_overrides_a_config_that_names_the_field_otherwise(
    in_config: str, in_set: str, value: int, tmp_path: Path, capsys
) -> None:
    """--set wins over the config file as for any field, whichever of its names either uses."""
    config = tmp_path / "config.yml"
    config.write_text(f"hyperparameters:\n  {in_config}\n")
    args = ["train", "cem", "--env", "FrozenLake-v1", "--config", config, "--set", in_set, "--dry-run"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert re.search(rf"^  episodes_per_candidate: {value} +# --set$", out, re.MULTILINE), out
    assert "n_simulations" not in out


def test_former_names_work_in_the_python_api(tmp_path: Path) -> None:
    with pytest.warns(FutureWarning, match="episodes_per_candidate"):
        agent = policysearch.CEM("FrozenLake-v1", out=tmp_path / "r", n_simulations=2, n_sessions=50)
    assert agent._trainer.config.episodes_per_candidate == 2


def test_the_api_clock_starts_in_train(tmp_path: Path) -> None:
    import time

    agent = policysearch.CEM("FrozenLake-v1", out=tmp_path / "r", n_sessions=200)
    time.sleep(1.0)  # not charged to the run
    began = time.perf_counter()
    summary = agent.train(max_iterations=1)
    assert summary["wall_time_s"] <= time.perf_counter() - began
    assert agent.summary is summary


def test_the_api_takes_the_sampling_options(tmp_path: Path) -> None:
    agent = policysearch.ES("CartPole-v1", out=tmp_path / "r", workers=2, n_envs=4, population=6, hidden=[4])
    assert agent._trainer.options.workers == 2 and agent._trainer.options.n_envs == 4
    summary = agent.train(max_iterations=1)
    assert summary["iterations"] == 1


def test_an_algorithm_of_one_policy_kind_suggests_it_where_its_spaces_suit() -> None:
    """CONTRIBUTING's recipe for a new algorithm sets no default policy: a class that offers one
    kind suggests it (`train NAME --env ...` without --policy); one that refuses the spaces
    suggests none, so the registry's next class decides."""
    from gymnasium import spaces

    from policysearch.algorithms.base import Algorithm
    from policysearch.algorithms.cem_tabular import TabularCEM

    class OneKind(TabularCEM):
        default_policy = classmethod(Algorithm.default_policy.__func__)  # the base class's rule

    assert OneKind.default_policy(spaces.Discrete(16), spaces.Discrete(4)) == "tabular"
    assert OneKind.default_policy(spaces.Box(-1.0, 1.0, (4,)), spaces.Discrete(2)) is None

    from policysearch.algorithms.es import ES

    class OneLinear(ES):  # the recipe's neural variant: a WeightSearch of one body
        policies = ("linear",)

    assert ES.default_policy(spaces.Box(-1.0, 1.0, (4,)), spaces.Discrete(2)) == "mlp"
    assert OneLinear.default_policy(spaces.Box(-1.0, 1.0, (4,)), spaces.Discrete(2)) == "linear"
