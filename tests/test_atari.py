"""Atari (ale-py), MinAtar and dm_control (shimmy) made by the ids their packages give them.

They need the extras (``pip install -e ".[atari,dm-control]"``, which ``make test`` installs);
without them these tests are skipped, saying which package is missing, except under CI=true,
where a missing extra fails them (a skip there hid an extra that ``make test`` did not install).
"""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from conftest import need, run_cli
from policysearch.envs import EnvOptions, episode_limit, make_env, step_limit
from policysearch.envs.atari import MINATAR_MAX_EPISODE_STEPS, StackFrames
from policysearch.sampling import make_runner


def _layers(env: gym.Env) -> list[str]:
    names = []
    while isinstance(env, gym.Wrapper):
        names.append(type(env).__name__)
        env = env.env
    return names


@pytest.fixture(scope="module")
def ale() -> None:
    need("ale_py", "atari")
    need("cv2", "atari")


@pytest.fixture(scope="module")
def minatar() -> None:
    need("minatar", "atari")


def test_an_ale_id_gets_the_standard_preprocessing(ale: None) -> None:
    env = make_env("ALE/Pong-v5")
    assert env.observation_space == gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
    obs, _ = env.reset(seed=2**32 - 1)
    assert obs.shape == (84, 84, 4) and obs.dtype == np.uint8
    assert all(np.array_equal(obs[..., 0], obs[..., k]) for k in range(4))  # the first frame, 4 times
    obs, *_ = env.step(0)
    assert env.observation_space.contains(obs)
    preprocessing = env.env
    assert isinstance(env, StackFrames) and isinstance(preprocessing, gym.wrappers.AtariPreprocessing)
    assert (preprocessing.frame_skip, preprocessing.noop_max, preprocessing.screen_size) == (4, 30, (84, 84))
    base = env.unwrapped
    assert base._frameskip == 1  # the preprocessing skips frames, with max-pooling
    assert base.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)  # v5's sticky actions
    assert "TimeLimit" not in _layers(env)  # ALE ends its episodes itself: no 1000-step cap
    assert base.ale.getInt("max_num_frames_per_episode") == 108_000
    assert step_limit(env) == episode_limit("ALE/Pong-v5") == 27_000  # 108,000 frames, skip 4


def test_evaluation_plays_the_same_preprocessed_sticky_env(ale: None) -> None:
    runner = make_runner("ALE/Pong-v5", 1)
    try:
        env = runner.envs[0]  # type: ignore[attr-defined]
        assert env.observation_space.shape == (84, 84, 4)
        assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    finally:
        runner.close()


def test_the_preprocessing_can_be_turned_off_and_env_kwargs_reach_ale(ale: None) -> None:
    raw = EnvOptions(atari_preprocessing=False)
    env = make_env("ALE/Pong-v5", options=raw)
    assert env.observation_space.shape == (210, 160, 3) and env.unwrapped._frameskip == 4
    assert episode_limit("ALE/Pong-v5", raw) == 27_000
    five = EnvOptions({"frameskip": 5, "repeat_action_probability": 0.0}, atari_preprocessing=False)
    env = make_env("ALE/Pong-v5", options=five)
    assert env.unwrapped._frameskip == 5
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    assert step_limit(env) == 21_600
    # ALE's stochastic frame skip is a pair: JSON gives a list, which ale-py refused
    stochastic = EnvOptions({"frameskip": [2, 5]}, atari_preprocessing=False)
    assert make_env("ALE/Pong-v5", options=stochastic).unwrapped._frameskip == (2, 5)
    # with the preprocessing, the frame skip is the wrapper's (on a frameskip-1 base)
    env = make_env("ALE/Pong-v5", options=EnvOptions({"frameskip": 5}))
    assert env.env.frame_skip == 5 and env.unwrapped._frameskip == 1 and step_limit(env) == 21_600
    assert episode_limit("ALE/Pong-v5", EnvOptions({"max_num_frames_per_episode": 400})) == 100


def test_a_stochastic_frame_skip_needs_the_raw_env(ale: None, tmp_path: Path, capsys) -> None:
    args = ["train", "es", "--env", "ALE/Pong-v5", "--env-kwargs", '{"frameskip": [2, 5]}']
    code, _, err = run_cli([*args, "--out", tmp_path / "r"], capsys)
    assert code == 2 and "--no-atari-preprocessing" in err, err
    assert len(err.strip().splitlines()) == 1


def test_minatar_ids_are_made_as_minatar_names_them(minatar: None) -> None:
    env = make_env("MinAtar/Breakout-v1")
    assert env.observation_space == gym.spaces.Box(0, 1, (10, 10, 4), bool)
    assert env.action_space == gym.spaces.Discrete(3)  # v1: the minimal action set
    obs, _ = env.reset(seed=2**32 - 1)  # MinAtar seeds numpy's RandomState: at most 2**32 - 1
    assert obs.dtype == bool and obs.shape == (10, 10, 4)
    for game, channels in (("Asterix", 4), ("Freeway", 7), ("Seaquest", 10), ("SpaceInvaders", 6)):
        assert make_env(f"MinAtar/{game}-v1").observation_space.shape == (10, 10, channels)
    # no limit of their own (Freeway ends itself after 2,500 steps): capped well above it
    assert episode_limit("MinAtar/Freeway-v1") == MINATAR_MAX_EPISODE_STEPS > 2500


@pytest.mark.parametrize("game", ["Breakout", "SpaceInvaders", "Asterix", "Freeway", "Seaquest"])
def test_minatar_reseeded_in_place_plays_as_minatar_seeds(minatar: None, game: str) -> None:
    """make_env reseeds the game's RandomState in place: the same play as a new MinAtar env's reset.

    For each seed, 400 steps of the same actions both ways, across episodes: an episode that ends
    is followed by an unseeded reset, which continues the game's stream in both. Ours is one env
    reused for every seed (as the sampler's env slots are), MinAtar's a new one per seed: a seeded
    reset forgets what the env played before, the last action of its sticky actions too.
    """
    ours = make_env(f"MinAtar/{game}-v1")
    assert "ReseedInPlace" in _layers(ours)
    actions = np.random.default_rng(0).integers(0, ours.action_space.n, 400)  # type: ignore[attr-defined]
    for seed in (0, 7, 2**32 - 1, 7):  # a seed again: the state is rebuilt, not continued
        theirs = gym.make(f"MinAtar/{game}-v1", disable_env_checker=True)
        played = []
        for env in (ours, theirs):
            obs, _ = env.reset(seed=seed)
            frames, ends = [obs], 0
            for a in actions:
                obs, reward, terminated, _, _ = env.step(int(a))
                frames += [obs, np.array([reward, terminated])]
                if terminated:
                    ends += 1
                    obs, _ = env.reset()
                    frames.append(obs)
            played.append((frames, ends))
        (a_frames, a_ends), (b_frames, b_ends) = played
        assert a_ends == b_ends and len(a_frames) == len(b_frames) == 801 + a_ends
        assert all(np.array_equal(x, y) for x, y in zip(a_frames, b_frames, strict=True))


def test_a_short_minatar_run_gets_to_its_summary(minatar: None, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "r"
    args = ["train", "es", "--env", "MinAtar/Breakout-v1", "--policy", "linear", "--max-iterations", "2"]
    code, _, err = run_cli([*args, "--set", "population=6", "--out", folder, "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["iterations"] == 2 and summary["eval_episodes"] == 100
    code, out, err = run_cli(["evaluate", folder, "--episodes", "20", "--seed", "7"], capsys)
    assert code == 0, err
    assert json.loads(out)["episodes"] == 20
    code, _, err = run_cli(["record", folder, "--out", tmp_path / "v.gif"], capsys)  # float frames
    assert code == 0, err
    assert (tmp_path / "v.gif").read_bytes().startswith(b"GIF")
    from policysearch import Agent

    agent = Agent.load(folder)
    obs, _ = make_env("MinAtar/Breakout-v1").reset(seed=3)
    assert obs.dtype == bool and agent.act(obs) in (0, 1, 2)  # the env's own boolean frame
    assert agent.act(obs.astype(np.uint8)) == agent.act(obs)


def test_an_atari_evaluation_is_one_part(ale: None) -> None:
    """Its 27,000-step episodes stream their returns: 100 of them are one part, not 64 and 36.

    A longer evaluation comes in parts of 100: more would be minutes without a progress line.
    """
    from policysearch.run import evaluation

    assert evaluation.part_episodes("ALE/Pong-v5", 100) == 100
    assert evaluation.part_episodes("ALE/Pong-v5", 10**6) == evaluation.MIN_PART_EPISODES == 100


def test_a_dm_control_task_through_shimmy_is_flattened() -> None:
    need("shimmy", "dm-control")
    need("dm_control", "dm-control")
    env = make_env("shimmy:dm_control/cartpole-swingup-v0")
    assert env.observation_space.shape == (5,)  # position (3) and velocity (2), flattened
    assert "TimeLimit" not in _layers(env) and step_limit(env) == 1000  # the task's own limit
    obs, _ = env.reset(seed=2**32 - 1)
    assert env.observation_space.contains(obs)


def test_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    from policysearch.envs import atari

    def no_such(name: str):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(atari, "_import_module", no_such)
    for env_id in ("ALE/Breakout-v5", "MinAtar/Breakout-v1"):
        code, _, err = run_cli(["train", "es", "--env", env_id, "--out", tmp_path / "r"], capsys)
        assert code == 2 and "pip install -e '.[atari]'" in err, err
        assert len(err.strip().splitlines()) == 1


def test_an_argument_ale_refuses_is_one_line(ale: None, tmp_path: Path, capsys) -> None:
    args = ["train", "es", "--env", "ALE/Pong-v5", "--env-kwargs", '{"no_such": 1}', "--out", tmp_path / "r"]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "no_such" in err and "ALE/Pong-v5" in err, err
    assert len(err.strip().splitlines()) == 1
