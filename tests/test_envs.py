import json
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env

from conftest import need, run_cli
from policysearch import TrainOptions
from policysearch.envs import DEFAULT_MAX_EPISODE_STEPS, EnvOptions, episode_limit, make_env
from policysearch.run.runfolder import load_checkpoint
from policysearch.sampling import EnvRunner, VectorRunner, make_runner
from policysearch.seeding import (
    EVAL_SEED_BASE,
    MAX_EVAL_EPISODES,
    TRAIN_SEED_LIMIT,
    evaluation_seeds,
    max_evaluation_seed,
    request_seeds,
)


def test_envs_without_a_time_limit_get_one() -> None:
    env = make_env("CliffWalking-v1")
    assert env.spec.max_episode_steps == DEFAULT_MAX_EPISODE_STEPS
    assert episode_limit("CliffWalking-v1") == DEFAULT_MAX_EPISODE_STEPS


def test_an_envs_own_limit_is_kept() -> None:
    assert episode_limit("CartPole-v1") == 500
    assert episode_limit("CartPole-v1", EnvOptions({"max_episode_steps": 7})) == 7
    env = make_env("CartPole-v1", options=EnvOptions({"max_episode_steps": 7}))
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        if any(env.step(0)[2:4]):
            break
    assert steps <= 7


def test_module_prefixed_ids_are_imported() -> None:
    env = make_env("testenvs:DiscreteObsBoxAction-v0")
    assert env.observation_space.n == 3


# -- Dict observations -----------------------------------------------------------------------------


def test_the_dict_test_env_passes_gymnasiums_checker() -> None:
    import testenvs

    assert testenvs.DictObs  # registered as DictObs-v0 on import
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("DictObs-v0").unwrapped)


def test_dict_observations_are_flattened_into_one_box() -> None:
    env = make_env("testenvs:DictObs-v0")
    assert isinstance(env.observation_space, gym.spaces.Box)
    assert env.observation_space.shape == (4,)  # the flag one-hot (2), then the position (2)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (4,) and env.observation_space.contains(obs)
    assert obs[:2].sum() == 1


@pytest.mark.parametrize("algo", ["cem", "es"])
def test_a_dict_observation_env_trains_with_an_mlp(algo: str, tmp_path: Path, capsys) -> None:
    size = "n_sessions=20" if algo == "cem" else "population=6"
    args = ["train", algo, "--env", "testenvs:DictObs-v0", "--policy", "mlp", "--set", size]
    code, _, err = run_cli([*args, "--max-iterations", "2", "--out", tmp_path / "r", "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["iterations"] == 2 and summary["eval_episodes"] == 100
    code, out, err = run_cli(["evaluate", tmp_path / "r", "--episodes", "10"], capsys)
    assert code == 0, err
    assert json.loads(out)["episodes"] == 10


def test_the_agent_acts_on_the_envs_own_dict_observations() -> None:
    from policysearch import CEM

    with CEM("testenvs:DictObs-v0", policy="mlp", n_sessions=20) as agent:
        agent.train(max_iterations=1)
        env = gym.make("testenvs:DictObs-v0")  # the raw env: Dict observations
        obs, _ = env.reset(seed=0)
        action = agent.act(obs)
        assert action in (0, 1)
        flat = gym.spaces.flatten(env.observation_space, obs)
        assert agent.act(flat) == action
        with pytest.raises(Exception, match="act expects"):
            agent.act({"flag": 5})


# -- MultiDiscrete and MultiBinary actions ---------------------------------------------------------


@pytest.mark.parametrize("env_id", ["Buttons-v0", "Switches-v0"])
def test_the_action_test_envs_pass_gymnasiums_checker(env_id: str) -> None:
    import testenvs

    assert testenvs.Buttons  # registered on import
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(env_id).unwrapped)


@pytest.mark.parametrize(
    ("env_id", "count"), [("testenvs:Buttons-v0", 9), ("testenvs:Switches-v0", 8), ("CartPole-v1", 0)]
)
def test_multi_actions_are_played_as_one_discrete_over_their_combinations(env_id: str, count: int) -> None:
    from policysearch.envs import own_spaces

    env = make_env(env_id)
    own = own_spaces(env)[1]
    if not count:  # any other action space is left as it is
        assert own is None and env.action_space == gym.make(env_id).action_space
        return
    assert env.action_space == gym.spaces.Discrete(count) and own is not None
    played = []
    for i in range(count):
        action = env.action(i)
        assert own.contains(action) and action.dtype == own.dtype
        played.append(tuple(action.tolist()))
    assert len(set(played)) == count  # every combination, once
    if isinstance(own, gym.spaces.MultiDiscrete):  # the last dial turns fastest, from its start
        assert played[:4] == [(0, 1), (0, 2), (0, 3), (1, 1)]
    env.reset(seed=0)
    env.step(count - 1)  # the env checks that it gets one of its own actions


def test_too_many_combinations_are_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    args = ["train", "cem", "--env", "testenvs:ManyButtons-v0", "--out", tmp_path / "r"]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "has 100,000,000 combinations" in err and "up to 4,096" in err, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("env_id", "iterations", "least"), [("testenvs:Switches-v0", 100, 9), ("testenvs:Buttons-v0", 200, 8)]
)
def test_cem_learns_to_press_the_buttons_shown(
    env_id: str, iterations: int, least: float, tmp_path: Path
) -> None:
    """Seed 0: Switches solved (10) in 32 iterations, Buttons 8.8 after 200; random play earns
    10/8 and 10/9 an episode."""
    from policysearch.run.trainer import Trainer

    options = TrainOptions(
        algorithm="cem", env_id=env_id, seed=0, target=9, max_iterations=iterations, out=str(tmp_path / "r")
    )
    summary = Trainer(options).train()
    assert summary["eval_mean_return"] >= least, summary


def test_the_agent_acts_with_the_envs_own_multi_actions() -> None:
    from policysearch import CEM

    with CEM("testenvs:Switches-v0", n_sessions=50) as agent:
        agent.train(max_iterations=40)
        assert isinstance(agent._trainer.run.own_spaces[1], gym.spaces.MultiBinary)  # no env made to act
        env = gym.make("testenvs:Switches-v0")  # the raw env: MultiBinary actions
        total = 0.0
        for seed in range(5):
            obs, _ = env.reset(seed=seed)
            done = False
            while not done:
                action = agent.act(obs)
                assert env.action_space.contains(action)
                obs, reward, terminated, truncated, _ = env.step(action)
                total += reward
                done = terminated or truncated
        assert total / 5 >= 9


# -- other adapted spaces: MultiDiscrete, MultiBinary and numbered observations, Box actions of
# -- more than one dimension ---------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ["Dials-v0", "Lamps-v0", "Rooms-v0", "Steering-v0"])
def test_the_space_test_envs_pass_gymnasiums_checker(env_id: str) -> None:
    import testenvs

    assert testenvs.Dials  # registered on import
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(env_id).unwrapped)


def test_make_env_adapts_the_spaces_policies_cannot_take() -> None:
    from policysearch.envs import env_action, own_spaces

    dials = make_env("testenvs:Dials-v0")  # one-hot per dial, from each dial's start
    assert dials.observation_space == gym.spaces.Box(0, 1, (6,), np.int64)
    obs, _ = dials.reset(seed=0)
    raw = dials.unwrapped.state
    assert obs.tolist() == np.eye(3)[raw[0]].tolist() + np.eye(3)[raw[1] - 1].tolist()
    lamps = make_env("testenvs:Lamps-v0")  # the same 0/1 numbers, as a Box
    assert lamps.observation_space == gym.spaces.Box(0, 1, (3,), np.uint8)
    obs, _ = lamps.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.tolist() == lamps.unwrapped.state.tolist()
    assert isinstance(own_spaces(lamps)[0], gym.spaces.MultiBinary)
    rooms = make_env("testenvs:Rooms-v0")  # left as it is: the policy feeds it one-hot from its start
    assert rooms.observation_space == gym.spaces.Discrete(4, start=5) and own_spaces(rooms) == (None, None)
    steering = make_env("testenvs:Steering-v0")
    assert steering.action_space == gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    own = own_spaces(steering)[1]
    assert own == gym.spaces.Box(-1.0, 1.0, (2, 2), np.float32)
    assert env_action(own, np.arange(4) / 4).tolist() == [[0, 0.25], [0.5, 0.75]]  # numpy's order
    steering.reset(seed=0)
    steering.step(steering.action_space.sample())  # the env checks that it gets its own shape


def test_discrete_parts_out_of_range_are_the_envs_error_not_a_wrong_one_hot(tmp_path: Path, capsys) -> None:
    """FlattenObservation wrote dial 0's value 3 as dial 1's first one-hot bit, and trained on it."""
    from policysearch.envs import outside

    dials = gym.spaces.MultiDiscrete([3, 3], start=[0, 1])
    assert not outside(dials, np.array([2, 3])) and not outside(dials, [0, 1])
    assert all(outside(dials, np.array(v)) for v in ([3, 1], [0, 0], [-1, 1], [0.5, 1]))
    nested = gym.spaces.Dict({"a": gym.spaces.Tuple((gym.spaces.Discrete(2, start=-1),)), "b": dials})
    assert outside(nested, {"a": (1,), "b": [0, 1]}) and not outside(nested, {"a": (0,), "b": [0, 1]})
    assert outside(gym.spaces.MultiBinary(2), np.array([0, 2]))
    code, _, err = run_cli(
        ["train", "es", "--env", "testenvs:WrongDials-v0", "--out", tmp_path / "r"], capsys
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "array([3, 1]) is outside its space MultiDiscrete([3 3], start=[0 1])" in err, err


def test_a_refusal_of_adapted_spaces_names_the_envs_own(tmp_path: Path, capsys) -> None:
    """It named only the Box made from the env's MultiDiscrete observations."""
    args = ["train", "cem", "--env", "testenvs:Dials-v0", "--policy", "tabular", "--out", tmp_path / "r"]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.strip().endswith(
        "; policysearch made Box(0, 1, (6,), int64) from the env's observations "
        "MultiDiscrete([3 3], start=[0 1])"
    ), err


def test_integer_and_scalar_box_actions_are_played_as_floats_and_given_back_in_kind() -> None:
    """An int64 (2, 2) Box got its actions truncated toward 0 (0.9 -> 0); a scalar Box was refused."""
    from policysearch.envs import adapt_spaces, env_action, own_spaces

    class Acts(gym.Env):
        observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

        def __init__(self, action_space):
            self.action_space = action_space

    integers = gym.spaces.Box(-1, 1, (2, 2), np.int64)
    env = adapt_spaces(Acts(integers))
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (4,), np.float32) and own_spaces(env)[1] == integers
    action = env_action(integers, np.array([0.9, -0.9, 0.4, 1.7], np.float32))
    assert action.dtype == np.int64 and action.tolist() == [[1, -1], [0, 1]]
    scalar = gym.spaces.Box(-2.0, 2.0, (), np.float64)
    env = adapt_spaces(Acts(scalar))
    assert env.action_space.shape == (1,) and env.action_space.dtype == np.float64
    assert env_action(scalar, np.array([1.5])).shape == () and scalar.contains(env_action(scalar, [1.5]))
    vector = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)  # what the Gaussian head takes: left as it is
    assert own_spaces(adapt_spaces(Acts(vector))) == (None, None)


def test_multidiscrete_observations_are_judged_as_toy_text_ones() -> None:
    """Over 1000 evaluation episodes as a Tuple of Discrete dials is (it was 100)."""
    from policysearch.presets import eval_episodes_for

    dials = gym.spaces.MultiDiscrete([3, 3])
    tupled = gym.spaces.Tuple((gym.spaces.Discrete(3), gym.spaces.Discrete(3)))
    assert eval_episodes_for("testenvs:Dials-v0", dials) == eval_episodes_for("x-v0", tupled) == 1000
    assert eval_episodes_for("x-v0", gym.spaces.Box(0, 1, (6,))) == 100


@pytest.mark.parametrize(
    ("env_id", "args", "least"),
    [
        ("testenvs:Dials-v0", ["es"], 10),
        ("testenvs:Lamps-v0", ["es"], 10),
        ("testenvs:Rooms-v0", ["es"], 10),
        ("testenvs:Rooms-v0", ["cem", "--policy", "mlp"], 10),  # torch's one-hot in the fit
        ("testenvs:Steering-v0", ["es"], -5),
    ],
)
def test_the_adapted_spaces_are_learnt(
    env_id: str, args: list[str], least: float, tmp_path: Path, capsys
) -> None:
    """Seed 0, 40 iterations at most: Dials, Lamps and Rooms solved (10) in 4-40 iterations, where
    random play earns 3.3, 2.5 and 5; Steering -3.1 after 40, where random actions score about
    -23 and the zero action -10. The four were refused before (the spaces' names in one line)."""
    target = [] if least < 0 else ["--target", "10"]
    cli = ["train", *args, "--env", env_id, "--seed", "0", "--max-iterations", "40", *target]
    code, _, err = run_cli([*cli, "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["eval_mean_return"] >= least, summary


def test_the_agent_takes_and_gives_the_envs_own_spaces() -> None:
    from policysearch import ES

    with ES("testenvs:Dials-v0", population=20) as agent:
        agent.train(max_iterations=30)
        env = gym.make("testenvs:Dials-v0")  # the raw env: MultiDiscrete observations
        obs, _ = env.reset(seed=0)
        assert agent.act(obs) == obs[0]  # the env's own observation, flattened as in training
        assert agent.act(np.r_[np.eye(3)[obs[0]], np.eye(3)[obs[1] - 1]]) == obs[0]  # or flat already
        for wrong in ([7, 1], [3, 1], [0, 0], [-1, 1]):  # past the vector, or into a neighbour's place
            with pytest.raises(Exception, match="act expects one observation of MultiDiscrete"):
                agent.act(np.array(wrong))
    with ES("testenvs:Rooms-v0") as agent:
        agent.train(max_iterations=40, target=10)
        assert [agent.act(room) for room in (5, 6, 7, 8)] == [1, 0, 1, 0]
        with pytest.raises(Exception, match="a state number"):
            agent.act(4)
    with ES("testenvs:Steering-v0", population=20) as agent:
        agent.train(max_iterations=5)
        action = agent.act(np.zeros(2, np.float32))
        assert action.shape == (2, 2) and gym.make("testenvs:Steering-v0").action_space.contains(action)


# -- env kwargs ------------------------------------------------------------------------------------


def test_env_kwargs_reach_the_env() -> None:
    env = make_env("Hopper-v5", options=EnvOptions({"healthy_reward": 2}))
    assert env.unwrapped._healthy_reward == 2


def test_kwargs_that_change_the_dynamics_step_the_real_env() -> None:
    assert isinstance(make_runner("CartPole-v1", 4), VectorRunner)
    changed = EnvOptions({"sutton_barto_reward": True})
    assert isinstance(make_runner("CartPole-v1", 4, env_options=changed), EnvRunner)
    assert isinstance(make_runner("Pendulum-v1", 4, env_options=EnvOptions({"g": 3.0})), EnvRunner)
    limited = make_runner("CartPole-v1", 4, env_options=EnvOptions({"max_episode_steps": 50}))
    assert isinstance(limited, VectorRunner) and limited.max_steps == 50


def test_env_kwargs_are_stored_with_the_run_and_used_everywhere(tmp_path: Path, capsys) -> None:
    """CartPole's Sutton-Barto reward (0 a step, -1 at the end): returns at most 0 show the kwargs
    reached training (in two worker processes), the final evaluation, evaluate and --resume."""
    folder = tmp_path / "r"
    args = ["train", "cem", "--env", "CartPole-v1", "--env-kwargs", '{"sutton_barto_reward": true}']
    fast = ["--set", "n_sessions=10", "--workers", "2", "--quiet", "--out", folder]
    code, _, err = run_cli([*args, *fast, "--max-iterations", "1"], capsys)
    assert code == 0, err
    meta, _ = load_checkpoint(folder)
    assert meta["options"]["env_kwargs"] == {"sutton_barto_reward": True}
    summary = json.loads((folder / "summary.json").read_text())
    assert -1 <= summary["eval_mean_return"] <= 0
    code, out, err = run_cli(["evaluate", folder, "--episodes", "20"], capsys)
    assert code == 0, err
    assert -1 <= json.loads(out)["mean_return"] <= 0
    code, _, err = run_cli(["train", "--resume", folder, "--max-iterations", "2", "--quiet"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2]
    assert all(-1 <= r["mean_return"] <= 0 for r in records)


def test_env_kwargs_from_a_config_file_and_in_the_dry_run(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"env": "Hopper-v5", "env_kwargs": {"healthy_reward": 2}}))
    code, out, err = run_cli(["train", "cem", "--config", config, "--dry-run"], capsys)
    assert code == 0, err
    assert 'env_kwargs: {"healthy_reward": 2}' in out and "# config" in out
    assert "atari_preprocessing: true" in out
    again = tmp_path / "again.yaml"
    again.write_text(out)  # the dry run is a valid config for the same run
    code, out2, err = run_cli(["train", "cem", "--config", again, "--dry-run"], capsys)
    assert code == 0, err
    assert 'env_kwargs: {"healthy_reward": 2}' in out2


BAD_ENV_KWARGS = {
    "not JSON": ("{healthy_reward: 2}", "--env-kwargs"),
    "not an object": ("[1, 2]", "JSON object"),
    "refused by the env": ('{"no_such_option": 1}', "no_such_option"),
    "set by policysearch": ('{"render_mode": "human"}', "render_mode"),
    "a bad time limit": ('{"max_episode_steps": 0}', "max_episode_steps"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENV_KWARGS))
def test_bad_env_kwargs_are_one_line_and_exit_2(case: str, tmp_path: Path, capsys) -> None:
    text, needle = BAD_ENV_KWARGS[case]
    args = ["train", "cem", "--env", "CartPole-v1", "--env-kwargs", text, "--out", tmp_path / "r"]
    code, _, err = run_cli(args, capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert needle in err, err
    assert not (tmp_path / "r").exists()


def test_env_kwargs_cannot_change_on_resume(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["train", "--resume", tmp_path, "--env-kwargs", "{}"], capsys)
    assert code == 2 and "--env-kwargs cannot be given with --resume" in err, err


# -- reset seeds -----------------------------------------------------------------------------------


def test_reset_seeds_stay_below_2_to_the_32_and_apart() -> None:
    rng = np.random.default_rng(0)
    reset, _ = request_seeds(rng, 10_000)
    assert reset.min() >= 0 and reset.max() < TRAIN_SEED_LIMIT == EVAL_SEED_BASE
    for episodes in (1, 100, 10**9, MAX_EVAL_EPISODES):
        top = max_evaluation_seed(episodes)
        assert top >= 0
        seeds = evaluation_seeds(min(episodes, 1000), top, first=episodes - min(episodes, 1000))
        assert seeds.min() >= EVAL_SEED_BASE and seeds.max() <= 2**32 - 1
        with pytest.raises(ValueError):
            evaluation_seeds(episodes, top + 1)
    assert max_evaluation_seed(MAX_EVAL_EPISODES + 1) < 0
    # two evaluation seeds give disjoint episodes; more episodes extend the same list
    assert not set(evaluation_seeds(1000, 3)) & set(evaluation_seeds(1000, 4))
    assert np.array_equal(evaluation_seeds(1000, 3)[:100], evaluation_seeds(100, 3))
    assert np.array_equal(evaluation_seeds(1000, 3)[100:], evaluation_seeds(900, 3, first=100))


def test_an_env_seeded_through_randomstate_trains_and_evaluates(tmp_path: Path, capsys, monkeypatch) -> None:
    log = tmp_path / "seeds.txt"
    monkeypatch.setenv("POLICYSEARCH_TEST_SEEDS", str(log))
    folder = tmp_path / "r"
    args = ["train", "cem", "--env", "testenvs:NeedsSmallSeeds-v0", "--policy", "mlp"]
    code, _, err = run_cli(
        [*args, "--set", "n_sessions=10", "--max-iterations", "2", "--out", folder], capsys
    )
    assert code == 0, err
    top = max_evaluation_seed(100)
    code, _, err = run_cli(["evaluate", folder, "--seed", top], capsys)
    assert code == 0, err
    code, _, err = run_cli(["evaluate", folder, "--seed", top + 1], capsys)
    assert code == 2 and f"must lie in [0, {top}]" in err, err
    seeds = np.loadtxt(log, dtype=np.int64)
    training, evaluation = seeds[seeds < EVAL_SEED_BASE], seeds[seeds >= EVAL_SEED_BASE]
    assert len(training) == 20 and len(evaluation) == 200
    assert seeds.min() >= 0 and seeds.max() <= 2**32 - 1


# -- an env that fails in the final evaluation ---------------------------------------------------


def test_a_failed_final_evaluation_keeps_the_run_and_can_be_retried(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    flag = tmp_path / "down"
    flag.touch()
    monkeypatch.setenv("POLICYSEARCH_TEST_FAIL_EVALUATION", str(flag))
    folder = tmp_path / "r"
    args = ["train", "cem", "--env", "testenvs:FailsInEvaluation-v0", "--policy", "mlp"]
    code, _, err = run_cli(
        [*args, "--set", "n_sessions=10", "--max-iterations", "2", "--out", folder], capsys
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "the final evaluation failed" in err and "licence server is down" in err
    assert f"policysearch evaluate {folder}" in err and f"policysearch train --resume {folder}" in err
    assert load_checkpoint(folder)[0]["iteration"] == 2 and not (folder / "summary.json").exists()
    code, _, err = run_cli(["evaluate", folder], capsys)  # still down: the same one-line error
    assert code == 2 and "licence server is down" in err, err
    flag.unlink()  # back up: evaluate retries, and --resume writes the summary
    code, out, err = run_cli(["evaluate", folder], capsys)
    assert code == 0, err
    assert json.loads(out)["episodes"] == 100
    code, _, err = run_cli(["train", "--resume", folder, "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["iterations"] == 2 and summary["eval_episodes"] == 100


def test_the_python_api_takes_env_kwargs() -> None:
    from policysearch import CEM

    with CEM("CartPole-v1", env_kwargs={"sutton_barto_reward": True}, n_sessions=10) as agent:
        summary = agent.train(max_iterations=1)
        assert -1 <= summary["eval_mean_return"] <= 0
        assert -1 <= agent.evaluate(episodes=5)["mean_return"] <= 0
        with pytest.raises(Exception, match="seed="):
            agent.evaluate(episodes=5, seed=max_evaluation_seed(5) + 1)


def test_mujoco_warnings_become_python_warnings_without_a_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the simulation warns while it runs reaches Python's warnings (shown once, on one line, by
    the command line), not MuJoCo's printout and MUJOCO_LOG.TXT in the working directory."""
    import mujoco

    need("shimmy", "dm-control")
    monkeypatch.chdir(tmp_path)
    make_env("shimmy:dm_control/cartpole-balance-v0")  # dm_control sets its own handler on import
    make_env("Hopper-v5")  # making a MuJoCo env routes them, again
    model = mujoco.MjModel.from_xml_string(
        "<mujoco><worldbody><body><joint type='slide'/><geom size='.1'/></body></worldbody></mujoco>"
    )
    data = mujoco.MjData(model)
    data.qvel[0] = float("nan")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mujoco.mj_step(model, data)
    assert [str(w.message) for w in caught] == [
        "MuJoCo: Nan, Inf or huge value in QVEL at DOF 0. The simulation is unstable. Time = 0.0000."
    ]
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
    data = mujoco.MjData(model)  # MuJoCo warns once per data
    data.qvel[0] = float("nan")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an error raised inside MuJoCo's C code would abort the
        mujoco.mj_step(model, data)  # process: the warning is printed instead
    assert capsys.readouterr().err.startswith("warning: MuJoCo: Nan, Inf or huge value in QVEL")


def test_an_id_without_a_version_trains_its_latest_as_gymnasium_make_does(tmp_path: Path, capsys) -> None:
    """The contract's --env takes anything gymnasium.make accepts: ``Taxi`` is Taxi-v4, its folder,
    its preset and its evaluation protocol (1000 episodes) too; said in one warning line."""
    out = tmp_path / "run"
    code, _, err = run_cli(
        ["train", "cem", "--env", "Taxi", "--max-iterations", "1", "--quiet", "--out", out], capsys
    )
    assert code == 0, err
    assert "warning: 'Taxi' has no version: training its latest, 'Taxi-v4'" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env_id"] == "Taxi-v4" and summary["eval_episodes"] == 1000
    with pytest.warns(UserWarning, match="'Hopper-v5'"):
        assert TrainOptions(algorithm="ars", env_id="Hopper").env_id == "Hopper-v5"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a versioned or unknown id: as given, no warning
        assert TrainOptions(algorithm="cem", env_id="CartPole-v1").env_id == "CartPole-v1"
        assert TrainOptions(algorithm="cem", env_id="NoSuchEnv").env_id == "NoSuchEnv"
