import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import policysearch  # noqa: F401  (registers the policysearch/ environments)
from policysearch.bandits import (
    BASELINES,
    DuctTapePlayer,
    EpsilonGreedyPlayer,
    MyopicPlayer,
    ThompsonSamplingPlayer,
    UCB1Player,
    compare,
    make_player,
    players,
    run,
)
from policysearch.bandits.envs import BannerAdsEnv, BannerAdsRetentionEnv
from policysearch.errors import ConfigError

ENV_IDS = ["policysearch/BannerAds-v0", "policysearch/BannerAdsRetention-v0"]


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("kwargs", [{}, {"n_banners": 2}])
def test_check_env_passes_without_warnings(env_id: str, kwargs: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id, **kwargs)
        check_env(env.unwrapped)


def test_check_env_passes_with_a_new_banner() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make("policysearch/BannerAds-v0", new_banner=True)
        check_env(env.unwrapped)


def play(env: gym.Env, seed: int, steps: int) -> list:
    """Observations, rewards, flags and infos of ``steps`` steps with fixed actions."""
    out = []
    obs, info = env.reset(seed=seed)
    out.append((obs.tolist(), info["expected_rewards"].tolist()))
    for t in range(steps):
        obs, reward, terminated, truncated, info = env.step(t % env.action_space.n)
        out.append((obs.tolist(), reward, terminated, truncated, info["expected_rewards"].tolist()))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((obs.tolist(), info["expected_rewards"].tolist()))
    return out


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeding_is_deterministic(env_id: str) -> None:
    assert play(gym.make(env_id), 3, 60) == play(gym.make(env_id), 3, 60)
    assert play(gym.make(env_id), 3, 60) != play(gym.make(env_id), 4, 60)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("n_banners", [2, 5, 8])
def test_expected_rewards_are_probabilities_of_every_banner(env_id: str, n_banners: int) -> None:
    env = gym.make(env_id, n_banners=n_banners)
    assert env.action_space == gym.spaces.Discrete(n_banners)
    assert isinstance(env.observation_space, gym.spaces.Box)
    assert env.observation_space.dtype == np.float32
    obs, info = env.reset(seed=0)
    for t in range(40):
        values = info["expected_rewards"]
        assert isinstance(values, np.ndarray) and values.dtype == np.float64
        assert values.shape == (n_banners,)
        assert np.all((values >= 0) & (values <= 1))
        assert obs in env.observation_space
        obs, reward, terminated, truncated, info = env.step(t % n_banners)
        assert reward in (0.0, 1.0)
        if terminated or truncated:
            obs, info = env.reset()


def test_banner_ads_is_one_step_per_episode_with_a_clear_best_banner() -> None:
    env = BannerAdsEnv()
    obs, info = env.reset(seed=1)
    assert obs.shape == (11,)
    assert np.allclose(env.click_probabilities(obs), info["expected_rewards"])
    _, _, terminated, truncated, step_info = env.step(0)
    assert terminated is True and truncated is False
    assert np.array_equal(step_info["expected_rewards"], info["expected_rewards"])
    optimal, best_single, uniform = env.optimal_value()
    assert optimal == pytest.approx(0.636, abs=1e-3)
    assert best_single < 0.55 * optimal and uniform < 0.55 * optimal


def test_the_click_model_matches_the_observed_click_rate() -> None:
    env = BannerAdsEnv()
    _, info = env.reset(seed=2)
    clicks, expected = 0.0, 0.0
    for _ in range(4000):
        action = int(np.argmax(info["expected_rewards"]))
        expected += info["expected_rewards"][action]
        clicks += env.step(action)[1]
        _, info = env.reset()
    assert abs(clicks - expected) < 4 * np.sqrt(4000 * 0.25)
    assert expected / 4000 == pytest.approx(env.optimal_value()[0], abs=0.02)


def test_the_new_banner_is_best_for_most_users_and_not_a_legacy_banner() -> None:
    env = BannerAdsEnv(new_banner=True)
    assert env.legacy_banners == (0, 1, 2, 3)
    best = []
    _, info = env.reset(seed=0)
    for _ in range(500):
        best.append(int(np.argmax(info["expected_rewards"])))
        _, info = env.reset()
    assert np.mean(np.array(best) == 4) > 0.8


def test_retention_trust_falls_with_clickbait_and_the_episode_ends() -> None:
    env = BannerAdsRetentionEnv(leave_prob=0.0, distrust_leave_prob=0.0, max_visits=30)
    obs, info = env.reset(seed=0)
    assert obs[6] == pytest.approx(0.8)
    assert env.clickbait_banners == (4,)
    assert np.argmax(info["expected_rewards"]) == 4
    trust = [info["trust"]]
    for t in range(30):
        obs, _, terminated, truncated, info = env.step(4)
        trust.append(info["trust"])
        assert terminated is False
        assert truncated is (t == 29)
        assert obs[7] == pytest.approx((t + 1) / 30)
    assert all(b <= a for a, b in itertools.pairwise(trust))
    assert trust[-1] < 0.5


def test_retention_a_distrustful_user_leaves() -> None:
    env = BannerAdsRetentionEnv(initial_trust=0.0, leave_prob=0.0, distrust_leave_prob=1.0)
    env.reset(seed=0)
    _, _, terminated, truncated, _ = env.step(0)
    assert terminated is True and truncated is False


def test_avoiding_clickbait_earns_clearly_more_than_the_myopic_policy() -> None:
    logs = compare(
        "policysearch/BannerAdsRetention-v0", ["myopic", "honest"], rounds=400, seeds=(0,), unit="episode"
    )
    myopic, honest = logs["myopic"][0], logs["honest"][0]
    assert honest.rewards.mean() > 1.2 * myopic.rewards.mean()
    assert myopic.action_counts[:-1].sum() == 0  # the myopic policy always shows the clickbait
    assert honest.action_counts[-1] == 0
    assert myopic.regrets.sum() == 0 < honest.regrets.sum()  # immediate regret is misleading here


def test_duct_tape_regret_grows_linearly_and_thompson_sampling_sublinearly() -> None:
    rounds, warmup = 3000, 200
    logs = compare(
        "policysearch/BannerAds-v0",
        ["duct_tape", "thompson"],
        rounds=rounds,
        seeds=(0, 1, 2, 3),
        env_kwargs={"new_banner": True},
        player_kwargs={"duct_tape": {"warmup": warmup}},
    )
    middle = (rounds + warmup) // 2  # halves of the rounds after the duct tape's naive start

    def halves(method: str) -> tuple[float, float]:
        regrets = np.array([log.regrets for log in logs[method]])
        return regrets[:, warmup:middle].sum(), regrets[:, middle:].sum()

    duct_first, duct_second = halves("duct_tape")
    ts_first, ts_second = halves("thompson")
    assert all(log.action_counts[-1] == 0 for log in logs["duct_tape"])  # never shows the new banner
    assert duct_second > 0.75 * duct_first  # linear: as much regret per round as before
    assert duct_second / (rounds - middle) > 0.05  # and a lot of it
    assert ts_second < 0.6 * ts_first  # sublinear
    assert ts_second < 0.5 * duct_second


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"n_banners": 1}, "n_banners"),
        ({"n_banners": 9}, "n_banners"),
        ({"n_banners": 2.5}, "n_banners"),
        ({"new_banner_click_rate": 1.5}, "new_banner_click_rate"),
        ({"new_banner_click_rate": -0.1}, "new_banner_click_rate"),
        ({"new_banner": "yes"}, "new_banner"),
    ],
)
def test_banner_ads_rejects_bad_options(kwargs: dict, option: str) -> None:
    with pytest.raises(ConfigError, match=option):
        BannerAdsEnv(**kwargs)
    with pytest.raises(ConfigError, match=option):
        gym.make("policysearch/BannerAds-v0", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"n_banners": 1}, "n_banners"),
        ({"n_banners": 0}, "n_banners"),
        ({"clickbait_click_rate": 1.2}, "clickbait_click_rate"),
        ({"trust_loss": -0.1}, "trust_loss"),
        ({"trust_gain": 2.0}, "trust_gain"),
        ({"initial_trust": 1.1}, "initial_trust"),
        ({"leave_prob": -0.5}, "leave_prob"),
        ({"distrust_leave_prob": 1.5}, "distrust_leave_prob"),
        ({"leave_prob": 0.6, "distrust_leave_prob": 0.5}, "distrust_leave_prob"),
        ({"max_visits": 0}, "max_visits"),
        ({"max_visits": -3}, "max_visits"),
        ({"clickbait_click_rate": float("nan")}, "clickbait_click_rate"),
    ],
)
def test_retention_rejects_bad_options(kwargs: dict, option: str) -> None:
    with pytest.raises(ConfigError, match=option):
        BannerAdsRetentionEnv(**kwargs)
    with pytest.raises(ConfigError, match=option):
        gym.make("policysearch/BannerAdsRetention-v0", **kwargs)


def test_bad_player_options_raise_config_errors() -> None:
    env = BannerAdsEnv()
    with pytest.raises(ConfigError, match="epsilon"):
        make_player("epsilon_greedy", env, epsilon=1.5)
    with pytest.raises(ConfigError, match="unknown baseline"):
        make_player("greedy", env)
    with pytest.raises(ConfigError, match=r"epsilon is not an option of the ucb1 baseline \(its options: c"):
        make_player("ucb1", env, epsilon=0.1)  # another baseline's option: not a TypeError
    with pytest.raises(ConfigError, match="warmup is not an option of the myopic baseline"):
        make_player("myopic", env, warmup=3)
    with pytest.raises(ConfigError, match="rounds"):
        run(env, MyopicPlayer(), 0)
    with pytest.raises(ConfigError, match="naive_actions"):
        DuctTapePlayer(3, naive_actions=[5])


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_baseline_runs_and_is_reproducible(name: str, env_id: str) -> None:
    def once() -> tuple:
        env = gym.make(env_id)
        log = run(env, make_player(name, env, seed=5), 300, seed=7)
        return log.rewards.tolist(), log.regrets.tolist(), log.action_counts.tolist()

    first = once()
    assert first == once()
    rewards, regrets, counts = first
    assert len(rewards) == len(regrets) == 300 and sum(counts) == 300
    assert min(regrets) >= 0


def test_episode_rounds_sum_the_steps_of_an_episode() -> None:
    env = gym.make("policysearch/BannerAdsRetention-v0")
    log = run(env, MyopicPlayer(), 20, seed=0, unit="episode")
    assert log.episodes == 20 and log.steps.min() >= 1
    assert log.action_counts.sum() == log.steps.sum()


def test_the_explorers_learn_a_plain_bandit() -> None:
    env = BannerAdsEnv(new_banner=True)  # one context: the new banner is the best fixed banner
    for player in (
        EpsilonGreedyPlayer(5, epsilon=0.1, rng=np.random.default_rng(0)),
        UCB1Player(5, rng=np.random.default_rng(0)),
        ThompsonSamplingPlayer(5, rng=np.random.default_rng(0)),
    ):
        log = run(env, player, 1500, seed=0)
        assert log.expected[750:].mean() > 0.6  # a uniformly random banner: 0.39


def test_bandit_command_line(capsys) -> None:
    import json

    from conftest import run_cli

    code, out, err = run_cli(
        ["bandit", "thompson", "--rounds", "300", "--env-kwargs", '{"new_banner": true}'], capsys
    )
    assert code == 0 and not err, err
    result = json.loads(out)
    assert result["rounds"] == 300 and sum(result["action_counts"]) == 300
    assert 0 <= result["mean_reward"] <= 1 and result["cumulative_regret"] >= 0
    # the former name of --env-kwargs (train's name): the same game, with one warning line
    code, former, err = run_cli(
        ["bandit", "thompson", "--rounds", "300", "--env-option", "new_banner=true"], capsys
    )
    assert code == 0 and json.loads(former) == result, err
    assert err.strip() == "warning: --env-option is deprecated: use --env-kwargs JSON, as train does", err
    for args in (
        ["bandit", "nope"],
        ["bandit", "ucb1", "--set", "bogus=1"],
        ["bandit", "ucb1", "--env-kwargs", '{"n_banners": 1}'],
        ["bandit", "ucb1", "--env-kwargs", "n_banners=1"],  # not JSON
        ["bandit", "thompson", "--set", "prior=[1,2,3]"],  # not (alpha, beta)
        ["bandit", "thompson", "--set", "n_contexts=2"],  # the env's segments
        ["bandit", "epsilon_greedy", "--set", "rng=1"],  # the seed's
        ["bandit", "myopic", "--set", "exclude=[9]"],  # no such banner
        ["bandit", "myopic", "--set", "exclude=3"],  # not a list
        ["bandit", "myopic", "--set", "exclude=[0,1,2,3,4]"],  # no banner left
        ["bandit", "myopic", "--set", "exclude=[true]"],  # a bool is not a banner
        ["bandit", "epsilon_greedy", "--set", "epsilon=true"],  # not 1.0
        ["bandit", "duct_tape", "--set", "naive_actions=[a]"],
        ["bandit", "duct_tape", "--set", "naive_actions=[1.7]"],  # not a banner, not banner 1
        ["bandit", "duct_tape", "--set", "refit_every=0.5"],  # not 0 (never refit)
        ["bandit", "ucb1", "--env-kwargs", '{"options": 1}'],  # set by policysearch itself
        ["bandit", "ucb1", "--env-kwargs", '{"max_episode_steps": 0}'],
    ):
        code, _, err = run_cli(args, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (args, err)


def test_the_bandit_command_plays_compares_run_with_its_own_seeds(capsys) -> None:
    """The env's and the player's random numbers are independent (one seed for both drew the same stream)."""
    import json

    from conftest import run_cli

    code, out, err = run_cli(["bandit", "ucb1", "--rounds", "400", "--seed", "3"], capsys)
    assert code == 0, err
    log = compare("policysearch/BannerAds-v0", ["ucb1"], rounds=400, seeds=(3,))["ucb1"][0]
    assert json.loads(out)["cumulative_regret"] == pytest.approx(float(log.regrets.sum()), rel=1e-12)


def test_the_clickbait_mdp_keeps_its_own_time_limit(capsys) -> None:
    """max_visits is the episode's limit: no 1000-step cap put around it."""
    import json

    from conftest import run_cli

    args = ["bandit", "honest", "--env", "policysearch/BannerAdsRetention-v0", "--per-user", "--rounds", "1"]
    options = '{"max_visits": 2500, "leave_prob": 0, "distrust_leave_prob": 0}'
    code, out, err = run_cli([*args, "--env-kwargs", options], capsys)
    assert code == 0, err
    assert sum(json.loads(out)["action_counts"]) == 2500


def test_an_interrupted_bandit_prints_what_it_played(monkeypatch, capsys) -> None:
    """Interrupted at round 5000 (fewer than a chunk of play()'s 65,536), it prints those rounds."""
    import json
    import signal

    from conftest import run_cli
    from policysearch.errors import Interrupted

    act, calls = ThompsonSamplingPlayer.act, []

    def interrupted_at_5000(self, observation, info):
        calls.append(1)
        if len(calls) > 5000:
            raise Interrupted(signal.SIGTERM)
        return act(self, observation, info)

    monkeypatch.setattr(ThompsonSamplingPlayer, "act", interrupted_at_5000)
    code, out, err = run_cli(["bandit", "thompson", "--rounds", "100000"], capsys)
    assert code == 143, err
    result = json.loads(out)
    assert result["interrupted"] and 4000 <= result["rounds"] <= 5000


def test_the_players_and_compare_refuse_what_they_cannot_use() -> None:
    with pytest.raises(ConfigError, match="rewards in \\[0, 1\\]"):
        ThompsonSamplingPlayer(2).update(np.zeros(1), 0, 2.0, {})
    with pytest.raises(ConfigError, match="'ucb'"):
        compare("policysearch/BannerAds-v0", ["ucb1"], rounds=10, player_kwargs={"ucb": {"c": 50}})
    with pytest.raises(ConfigError, match="chunk"):
        next(players.play(BannerAdsEnv(), MyopicPlayer(), 10, chunk=0))
    with pytest.raises(ConfigError, match="warmup"):
        DuctTapePlayer(5, warmup=2.9)


@pytest.mark.slow
@pytest.mark.parametrize(("algorithm", "policy", "iterations"), [("cem", "mlp", 30), ("es", "linear", 60)])
def test_policy_search_reaches_95_percent_of_the_optimal_click_rate(
    tmp_path, algorithm, policy, iterations
) -> None:
    from policysearch import Trainer, TrainOptions
    from policysearch.bandits.envs import BannerAdsEnv
    from policysearch.run.evaluation import evaluate_actor

    optimum = BannerAdsEnv().optimal_value()[0]
    options = TrainOptions(
        algorithm=algorithm,
        env_id="policysearch/BannerAds-v0",
        policy=policy,
        seed=0,
        max_iterations=iterations,
        out=str(tmp_path / "run"),
    )
    trainer = Trainer(options)
    trainer.train()
    result = evaluate_actor(trainer.algorithm.greedy_actor(), options.env_id, 10000)
    assert result.mean >= 0.95 * optimum


@pytest.mark.slow
def test_cem_beats_the_myopic_policy_on_retention(tmp_path) -> None:
    from policysearch import Trainer, TrainOptions
    from policysearch.bandits import compare
    from policysearch.run.evaluation import evaluate_actor

    env_id = "policysearch/BannerAdsRetention-v0"
    trainer = Trainer(
        TrainOptions(
            algorithm="cem", env_id=env_id, policy="mlp", seed=0, max_iterations=30, out=str(tmp_path / "r")
        )
    )
    trainer.train()
    learned = evaluate_actor(trainer.algorithm.greedy_actor(), env_id, 2000).mean
    myopic = compare(env_id, methods=("myopic",), rounds=2000, seeds=(0,), unit="episode")["myopic"][0]
    assert learned >= 1.2 * myopic.rewards.mean()


def test_former_player_names_still_import_with_a_warning() -> None:
    import policysearch.bandits as bandits

    with pytest.warns(FutureWarning, match="make_player"):
        assert bandits.make_agent is make_player
    with pytest.warns(FutureWarning, match="MyopicPlayer"):
        assert bandits.MyopicAgent is MyopicPlayer


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seeds": (-1,)}, r"seed=-1 is out of range"),
        ({"seeds": 3}, "seeds must be a list of seeds"),
        ({"seeds": (1.5,)}, "seed must be an integer, not 1.5"),
        ({"rounds": 2.5}, "rounds must be an integer"),
        ({"player_kwargs": {"ucb1": 5}}, "player_kwargs\\['ucb1'\\] must be a mapping"),
        ({"methods": "thompson"}, "methods must be a list of baseline names"),
    ],
)
def test_compare_names_a_bad_argument(kwargs: dict, match: str) -> None:
    """numpy's ValueError, a TypeError, a silent seed 1 for 1.5, 'unknown baseline 't'' before."""
    args = {"methods": ["ucb1"], "rounds": 20, **kwargs}
    with pytest.raises(ConfigError, match=match):
        compare("policysearch/BannerAds-v0", **args)


def test_a_negative_seed_is_the_callers_mistake_not_the_envs() -> None:
    env = gym.make("policysearch/BannerAds-v0")
    with pytest.raises(ConfigError, match=r"seed=-1 is out of range"):
        make_player("ucb1", env, seed=-1)
    with pytest.raises(ConfigError, match=r"seed=-1 is out of range"):  # was an EnvError of reset
        run(env, make_player("ucb1", env, seed=0), 10, seed=-1)
