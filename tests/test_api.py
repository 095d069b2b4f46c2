"""The Python API: whole run folders, recurrent act(), no temporary folders left, validated input."""

import gc
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from policysearch import CEM, CMAES, ES, Agent, TrainOptions
from policysearch.envs import make_env
from policysearch.errors import ConfigError, RunFolderError
from policysearch.seeding import evaluation_seeds


def test_save_writes_a_whole_run_folder_that_resumes_with_its_history(tmp_path: Path, capsys) -> None:
    with CEM("FrozenLake-v1", n_sessions=100) as agent:
        agent.train(max_iterations=2)
        saved = agent.save(tmp_path / "saved")
    for name in ("checkpoint", "metrics.jsonl", "summary.json", "learning_curve.png"):
        assert (saved / name).is_file(), name
    code, out, err = run_cli(["evaluate", saved, "--episodes", "100"], capsys)
    assert code == 0, err
    assert json.loads(out)["episodes"] == 100
    loaded = Agent.load(saved)
    assert isinstance(loaded, CEM)
    loaded.train(max_iterations=3)
    iterations = [
        json.loads(line)["iteration"] for line in (saved / "metrics.jsonl").read_text().splitlines()
    ]
    assert iterations == [1, 2, 3]


def test_no_temporary_folder_is_left_behind(tmp_path: Path, monkeypatch) -> None:
    made: list[Path] = []  # the agents' own temporary folders (other tests make theirs alongside)
    mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        made.append(Path(mkdtemp(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    agent = CEM("FrozenLake-v1", n_sessions=50)
    agent.train(max_iterations=1)
    assert agent.folder == made[0] and (made[0] / "checkpoint").is_file()
    del agent
    gc.collect()
    with pytest.raises(ConfigError):
        CEM("FrozenLake-v1", n_sessions=0)
    with CEM("FrozenLake-v1", n_sessions=50) as agent:
        agent.train(max_iterations=1)
    assert len(made) == 3 and not any(folder.exists() for folder in made)
    with CEM("FrozenLake-v1", out=tmp_path / "kept", n_sessions=50) as agent:
        agent.train(max_iterations=1)
    assert (tmp_path / "kept" / "checkpoint").is_file()


def test_load_of_another_algorithms_run_is_refused(tmp_path: Path) -> None:
    with ES("CartPole-v1", out=tmp_path / "es", population=6, hidden=[4]) as agent:
        agent.train(max_iterations=1)
    with pytest.raises(ConfigError, match=r"ES\.load"):
        CEM.load(tmp_path / "es")
    assert isinstance(Agent.load(tmp_path / "es"), ES)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a: a.evaluate(episodes=0), "episodes"),
        (lambda a: a.evaluate(seed=-1), "seed"),
        (lambda a: a.evaluate(episodes="5"), "integer"),
        (lambda a: a.train(max_iterations="5"), "max_iterations"),
        (lambda a: a.train(target=float("nan")), "target"),
        (lambda a: a.act(np.zeros(3)), "shape"),
        (lambda a: a.act("left"), "shape"),
        (lambda a: a.act(np.array([np.nan, 0, 0, 0])), "finite"),  # a NaN action then
        (lambda a: a.act(np.zeros(4, complex)), "complex128"),
        (lambda a: Agent.load(None), "run folder's path"),  # a TypeError from pathlib
    ],
)
def test_api_arguments_are_validated_as_the_command_lines(call, match: str, tmp_path: Path) -> None:
    with (
        CEM("CartPole-v1", out=tmp_path / "r", n_sessions=10, hidden=[4]) as agent,
        pytest.raises(ConfigError, match=match),
    ):
        call(agent)


def test_act_keeps_a_recurrent_policys_state_and_scores_as_evaluate(tmp_path: Path) -> None:
    env_id = "LunarLander-v3"
    with CEM(env_id, policy="gru", out=tmp_path / "r", n_sessions=8, hidden=[8]) as agent:
        agent.train(max_iterations=1)
        expected = agent.evaluate(episodes=3, seed=2)
        env = make_env(env_id)
        returns = []
        for reset_seed in evaluation_seeds(3, 2):
            obs, _ = env.reset(seed=int(reset_seed))
            agent.reset()
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        env.close()
    assert np.mean(returns) == pytest.approx(expected["mean_return"], abs=1e-9)
    assert np.std(returns) == pytest.approx(expected["std_return"], abs=1e-9)


def test_the_agent_continues_in_the_folder_it_saved_to(tmp_path: Path) -> None:
    with CEM("FrozenLake-v1", n_sessions=100) as agent:
        agent.train(max_iterations=2)
        temporary = agent.folder
        saved = agent.save(tmp_path / "taxi")
        assert agent.folder == saved and not temporary.exists()  # the temporary folder went
        assert agent.summary is not None and agent.summary["iterations"] == 2
        agent.train(max_iterations=3)  # and training goes on there
    records = (saved / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in records] == [1, 2, 3]


class Iterations:
    """A callback that records the iterations it sees."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_iteration(self, iteration: int, metrics: dict) -> None:
        self.seen.append(iteration)

    def on_end(self, summary: dict) -> None:
        pass


def test_callbacks_go_on_after_save_and_can_be_given_to_load(tmp_path: Path) -> None:
    watcher = Iterations()
    with CEM("FrozenLake-v1", n_sessions=100, callbacks=[watcher]) as agent:
        agent.train(max_iterations=1)
        agent.save(tmp_path / "saved")
        agent.train(max_iterations=2)
    assert watcher.seen == [1, 2]
    later = Iterations()
    loaded = Agent.load(tmp_path / "saved", callbacks=[later])
    assert loaded.summary is not None and loaded.summary["iterations"] == 2  # its summary.json
    loaded.train(max_iterations=3)
    assert later.seen == [3]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a: a.act(16), "Discrete"),  # FrozenLake has states 0 to 15
        (lambda a: a.act(-1), "Discrete"),
        (lambda a: a.act(3.7), "Discrete"),
    ],
)
def test_act_refuses_a_state_the_env_does_not_have(call, match: str) -> None:
    with CEM("FrozenLake-v1", n_sessions=100) as agent, pytest.raises(ConfigError, match=match):
        call(agent)


def test_api_inputs_are_refused_at_construction_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="env_kwargs must be a dict"):
        CEM("FrozenLake-v1", env_kwargs='{"is_slippery": false}')
    with CEM("FrozenLake-v1", out=tmp_path / "r", n_sessions=100) as agent:
        agent.train(max_iterations=1)
    with pytest.raises(ConfigError, match=r"already holds a run: continue it with Agent\.load"):
        CEM("FrozenLake-v1", out=tmp_path / "r")
    with CEM("FrozenLake-v1", seed=np.int64(3), n_sessions=np.int64(100)) as agent:  # numpy integers
        assert agent._trainer.options.seed == 3


def test_the_black_box_optimiser_checks_its_options() -> None:
    from policysearch.optim import ESConfig, EvolutionStrategy, maximize, minimize

    for bad, match in [
        ({"optimizer": "Adam"}, "optimizer='Adam' is not one of"),
        ({"sigma_schedule": "decays"}, "sigma_schedule"),
        ({"fitness_shaping": "rank"}, "fitness_shaping"),
        ({"population": "20"}, "population must be an integer"),
        # a float population failed in ask, a string was taken as true
        ({"population": 51.5}, "population must be an integer, not 51.5"),
        ({"mirrored": "no"}, "mirrored must be true or false"),
    ]:
        with pytest.raises(ConfigError, match=match):
            ESConfig(**bad)
    assert ESConfig(population=50.0).population == 50
    with pytest.raises(ConfigError, match="iterations"):
        maximize(lambda x: -float(x @ x), np.ones(2), iterations=-5)
    with pytest.raises(ConfigError, match="ask first"):
        EvolutionStrategy(np.zeros(2)).tell(np.zeros(4))
    # numpy's errors, or the objective blamed for a bad start, before
    sphere = lambda x: float(x @ x)  # noqa: E731
    for kwargs, match in [
        ({"seed": -1}, r"seed=-1 is out of range"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"iterations": 2.5}, "iterations must be an integer"),
        ({"tolerance": "a"}, "tolerance must be a number"),
        ({"config": {"population": 10}}, "config must be an ESConfig"),
    ]:
        with pytest.raises(ConfigError, match=match):
            minimize(sphere, np.ones(2), **kwargs)
    for x0 in (None, np.array([]), np.array([np.nan, 1.0])):
        with pytest.raises(ConfigError, match="x0 must be a non-empty array of finite numbers"):
            minimize(sphere, x0)
    with pytest.raises(ConfigError, match="rng must be a numpy Generator"):
        EvolutionStrategy(np.zeros(2), rng=5)  # type: ignore[arg-type]
    # a whole float is a seed, as for the agents (the checked value is the one used)
    small = ESConfig(population=4)
    assert minimize(sphere, np.ones(2), iterations=2, seed=3.0, config=small)[1] == pytest.approx(
        minimize(sphere, np.ones(2), iterations=2, seed=3, config=small)[1]
    )


def test_trainoptions_made_directly_are_typed_as_the_command_lines() -> None:
    """The guide builds TrainOptions for Trainer: wrong types fail there, not deep in a run."""
    base = {"algorithm": "cem", "env_id": "CartPole-v1"}
    for bad, match in [
        ({"seed": 1.5}, "seed must be an integer"),
        ({"max_iterations": 1.5}, "max_iterations must be an integer"),  # ran 2 iterations
        ({"workers": 1.5}, "workers must be an integer"),  # a TypeError in the pool
        ({"eval_episodes": 100.5}, "eval_episodes must be an integer"),  # after training
        ({"target": "5"}, "target must be a number"),
        ({"env_id": 5}, "env_id must be a string"),
        ({"hyperparameters": [1]}, "hyperparameters must be a mapping"),
        ({"out": ""}, "out is empty"),  # wrote runs/... in the working folder
    ]:
        with pytest.raises(ConfigError, match=match):
            TrainOptions(**{**base, **bad})
    assert TrainOptions(**base, seed=2.0, out=Path("x"), hyperparameters=None).seed == 2


def test_cmaes_leaves_numpys_global_generator_as_it_found_it() -> None:
    np.random.seed(123)  # noqa: NPY002
    expected = np.random.rand()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    with CMAES("CartPole-v1", population=6) as agent:
        agent.train(max_iterations=2)
    assert np.random.rand() == expected  # noqa: NPY002


def test_save_to_the_agents_own_folder_keeps_it_and_training_goes_on(tmp_path: Path) -> None:
    with CEM("CartPole-v1", out=tmp_path / "a", n_sessions=10, hidden=[4]) as agent:
        agent.save(tmp_path / "a")  # untrained: the next train() took the checkpoint for another run's
        assert agent.train(max_iterations=1)["iterations"] == 1
    agent = CEM("CartPole-v1", n_sessions=10, hidden=[4])
    agent.train(max_iterations=1)
    own = agent.save(agent.folder)
    agent.close()  # the temporary folder, saved, is the run now: kept
    assert (own / "checkpoint").is_file()
    shutil.rmtree(own)
    with CEM("CartPole-v1", n_sessions=10, hidden=[4]) as agent:
        agent.train(max_iterations=1)
        agent.save(tmp_path / "c")
        saved = json.loads((tmp_path / "c" / "summary.json").read_text())
        assert saved["checkpoint"] == agent.summary["checkpoint"] == str(tmp_path / "c" / "checkpoint")
    with pytest.raises(RunFolderError, match="cannot save the run to"):
        agent.save(tmp_path / "c" / "summary.json" / "x")  # a file on the way
    agent = CEM("CartPole-v1", n_sessions=10, hidden=[4])
    agent.close()
    with pytest.raises(ConfigError, match="the agent was closed"):
        agent.train(max_iterations=1)


def test_callbacks_no_preset_and_where_a_loaded_run_samples(tmp_path: Path) -> None:
    class OnlyIteration:
        def on_iteration(self, iteration: int, metrics: dict) -> None:
            pass

    for callbacks in ([OnlyIteration()], object()):  # were an AttributeError at the end / a TypeError
        with pytest.raises(ConfigError, match="callback"):
            CEM("CartPole-v1", n_sessions=10, callbacks=callbacks)
    with CEM("LunarLander-v3", no_preset=True, n_sessions=20, hidden=[4]) as agent:
        assert agent._trainer.run.preset is None
    with CEM("CartPole-v1", out=tmp_path / "r", n_sessions=10, hidden=[4]) as agent:
        agent.train(max_iterations=1)
    loaded = Agent.load(tmp_path / "r", workers=2, n_envs=4)
    assert (loaded._trainer.options.workers, loaded._trainer.options.n_envs) == (2, 4)


def test_warnings_about_the_callers_input_name_the_callers_line(tmp_path: Path) -> None:
    """An id without a version and a former hyperparameter name warn at the user's own line, not
    inside the library (where Python's filters by module and its location would point)."""
    with pytest.warns(UserWarning, match="has no version") as unversioned:
        TrainOptions(algorithm="cem", env_id="CartPole")
    with pytest.warns(FutureWarning, match="'n_simulations' is deprecated") as renamed:
        agent = CEM("CartPole-v1", out=tmp_path / "run", n_simulations=2)
    agent.close()
    for record in (*unversioned, *renamed):
        assert record.filename == __file__, (record.message, record.filename)


def test_save_in_the_middle_of_an_episode_keeps_acts_recurrent_state(tmp_path: Path) -> None:
    """``save`` changes where the run lives, not the policy: a GRU's hidden state in the middle
    of an episode of ``act`` goes on, so the actions are those of an agent that did not save."""
    env_id = "LunarLander-v3"
    actions = []
    for name, save_at in (("plain", None), ("saved", 5)):
        with CEM(env_id, policy="gru", out=tmp_path / name, n_sessions=8, hidden=[8]) as agent:
            agent.train(max_iterations=1)
            env = make_env(env_id)
            obs, _ = env.reset(seed=3)
            agent.reset()
            played = []
            for step in range(40):
                if step == save_at:
                    agent.save(tmp_path / f"{name}-copy")
                action = agent.act(obs)
                played.append(int(action))
                obs, *_ = env.step(action)
            env.close()
            actions.append(played)
    assert actions[0] == actions[1]


def test_a_loaded_agent_saved_elsewhere_evaluates_and_trains_there(tmp_path: Path, capsys) -> None:
    """Saved before any training of its own, its checkpoint lacked the run id that the copied
    run.json has: the saved folder was refused as another run's (evaluate too)."""
    with CEM("CartPole-v1", out=tmp_path / "run", n_sessions=20) as agent:
        agent.train(max_iterations=1)
    with Agent.load(tmp_path / "run") as loaded:
        loaded.save(tmp_path / "saved")
        loaded.train(max_iterations=2)
    code, _, err = run_cli(["evaluate", tmp_path / "saved"], capsys)
    assert code == 0, err


GUARDLESS = """
from policysearch import CEM
CEM("CartPole-v1", workers=2, out={out!r}).train(max_iterations=1)
"""

REGISTERED_UNDER_MAIN = """
import gymnasium as gym
import numpy as np
from policysearch import CEM

class Mine(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,))
    action_space = gym.spaces.Discrete(2)
    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {{}}
    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), float(action), self.t >= 10, False, {{}}

if __name__ == "__main__":
    gym.register("Mine-v0", entry_point=Mine)
    CEM("Mine-v0", workers=2, out={out!r}).train(max_iterations=1)
"""


@pytest.mark.parametrize(
    ("script", "needle"),
    [
        (GUARDLESS, 'put the code that trains under `if __name__ == "__main__":`'),
        (REGISTERED_UNDER_MAIN, "worker processes start afresh and import your script without running"),
    ],
    ids=["no __main__ guard", "env registered under the guard"],
)
def test_a_script_whose_workers_cannot_start_as_its_driver_is_told_why(
    script: str, needle: str, tmp_path: Path
) -> None:
    """``workers`` start with spawn, which imports the script again: what that breaks is named.

    A script that trains at its top level had every worker fail as it started ("every sampling
    worker process is gone"); one that registers its env under its ``__main__`` guard had its
    workers not know the id the driver had made.
    """
    import subprocess
    import sys

    path = tmp_path / "train.py"
    path.write_text(script.format(out=str(tmp_path / "run")))
    command = [sys.executable, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert needle in done.stderr.strip().splitlines()[-1], done.stderr[-2000:]


@pytest.mark.parametrize("bad", [b"runs/x", ["a"], 5, ""], ids=["bytes", "list", "int", "empty"])
def test_a_run_folders_path_of_another_type_is_refused(bad, tmp_path: Path, monkeypatch) -> None:
    """``out=b"runs/x"`` trained in a folder named ``b'runs/x'``; ``save("")`` into the working directory."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="out must be a run folder's path"):
        CEM("CartPole-v1", out=bad)
    (tmp_path / "a_file").write_text("")  # refused when the agent is made, not at train
    with pytest.raises(ConfigError, match="is a file, not a folder for the run"):
        CEM("CartPole-v1", out="a_file")
    (tmp_path / "a_file").unlink()
    with CEM("CartPole-v1", n_sessions=20) as agent, pytest.raises(ConfigError, match="save's path must be"):
        agent.save(bad)
    assert list(tmp_path.iterdir()) == []


def test_an_agents_folder_stays_when_the_working_directory_changes(tmp_path: Path, monkeypatch) -> None:
    """A relative ``out`` is the folder it named when the agent was made (it was looked up again)."""
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    agent = CEM("CartPole-v1", out="run", n_sessions=20)
    agent.train(max_iterations=1)
    monkeypatch.chdir(tmp_path)
    assert agent.train(max_iterations=2)["iterations"] == 2
    assert agent.folder == tmp_path / "here" / "run"
    assert not (tmp_path / "run").exists()


def test_numpy_values_are_taken_as_the_python_values_they_hold() -> None:
    """``hidden=np.array([8, 8])`` failed deep in a comparison; ``mirrored=np.bool_(True)`` was refused."""
    with ES("CartPole-v1", hidden=np.array([8, 8]), mirrored=np.bool_(True), population=np.int64(8)) as agent:
        config = agent._trainer.algorithm.config
    assert (config.hidden, config.mirrored, config.population) == ((8, 8), True, 8)
    assert type(config.population) is int and type(config.mirrored) is bool


def test_act_refuses_a_ragged_observation_in_one_line() -> None:
    """``act([[1, 2], [3]])`` raised numpy's "setting an array element with a sequence"."""
    with CEM("CartPole-v1", n_sessions=20) as agent, pytest.raises(ConfigError, match=r"act expects one"):
        agent.act([[1, 2], [3]])


def test_the_base_class_a_progress_that_is_not_a_bool_and_a_callback_that_edits_are_handled() -> None:
    """``Agent(env)`` said "unknown algorithm ''"; ``progress="no"`` showed progress; a callback's
    ``on_end`` that emptied its summary emptied what ``train`` returned."""
    with pytest.raises(ConfigError, match="Agent trains no algorithm of its own: make one of CEM"):
        Agent("CartPole-v1")

    class Clears:
        def on_iteration(self, iteration, metrics) -> None:
            pass

        def on_end(self, summary) -> None:
            summary.clear()

    with CEM("CartPole-v1", n_sessions=20, callbacks=[Clears()]) as agent:
        with pytest.raises(ConfigError, match="progress must be True or False, not 'no'"):
            agent.train(max_iterations=1, progress="no")
        assert agent.train(max_iterations=1)["iterations"] == 1
        assert agent.summary is not None and agent.summary["iterations"] == 1


def test_check_algorithm_names_what_it_takes() -> None:
    """The API's agent class said "CEM is not registered under its name None"; a name, AttributeError."""
    from policysearch import check_algorithm

    for wrong in (CEM, "cem"):
        with pytest.raises(ConfigError, match="check_algorithm takes an algorithm's class"):
            check_algorithm(wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "given", "reason"),
    [
        ("linear", {"hidden": [64]}, "it has no hidden layer"),
        ("linear", {"activation": "relu"}, "it has no hidden layer"),
        ("gru", {"activation": "relu"}, "a GRU's gates have their own"),
    ],
)
def test_a_hyperparameter_the_policy_does_not_read_warns(policy: str, given: dict, reason: str) -> None:
    """``ES(policy="linear", hidden=[64])`` was taken without a word, and changed nothing."""
    algorithm = ES if policy == "linear" else CEM
    with pytest.warns(UserWarning, match=f"does not apply to --policy {policy} \\({reason}\\)"):
        algorithm("CartPole-v1", policy=policy, **given).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what the policy reads does not warn, nor a default
        ES("CartPole-v1", policy="mlp", hidden=[8], activation="relu").close()
        algorithm("CartPole-v1", policy=policy, hidden=[32, 32], activation="tanh").close()


def test_a_dry_runs_output_given_back_as_a_config_does_not_warn(tmp_path: Path, capsys) -> None:
    """It lists every field, hidden and activation too, which a linear policy does not read."""
    code, out, _ = run_cli(["train", "es", "--env", "Pendulum-v1", "--policy", "linear", "--dry-run"], capsys)
    assert code == 0
    (tmp_path / "run.yml").write_text(out)
    code, _, err = run_cli(["train", "--config", tmp_path / "run.yml", "--dry-run"], capsys)
    assert code == 0 and "warning" not in err, err
