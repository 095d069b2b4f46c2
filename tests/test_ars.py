"""ARS: the paper's update (top-b directions, the step scaled by sigma_R), V2's normaliser, clipped
actions, the hyperparameters' checks and a learning run."""

import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from conftest import run_cli
from policysearch import ARS as ARSAgent
from policysearch import ConfigError, Trainer, TrainOptions
from policysearch.algorithms.ars import ARS, ARSConfig, auto_directions
from policysearch.config import from_mapping
from policysearch.optim.noise_table import NoiseTable
from policysearch.policies.numpy_policy import NumpyActor
from policysearch.sampling import make_sampler
from policysearch.sampling.session import Sessions

OBS, ACT = 3, 2
BOX_OBS = gym.spaces.Box(-np.inf, np.inf, (OBS,), np.float64)
BOX_ACT = gym.spaces.Box(np.array([-0.4, 0.0]), np.array([0.4, 2.0]), dtype=np.float64)


def make_ars(**hyper) -> ARS:
    config = ARSConfig(**{"noise_table_size": 10_000, **hyper})
    return ARS(BOX_OBS, BOX_ACT, config, np.random.default_rng(0), "linear")


def matrix(ars: ARS) -> np.ndarray:
    """The policy's M, (act_dim, obs_dim)."""
    return ars.weights[ars.searched].reshape(ACT, OBS)


def directions(ars: ARS, offsets: np.ndarray) -> np.ndarray:
    """delta_k read from the shared noise table itself, (N, act_dim, obs_dim).

    A candidate's weight vector is mu + sigma * table[offset : offset + size]; M's part of it
    starts where M lies in the vector.
    """
    table, m = NoiseTable(*ars.table).noise, ars.searched
    slices = [table[o + m.start : o + m.stop] for o in offsets]
    return np.stack(slices).astype(np.float64).reshape(-1, ACT, OBS)


def sessions_of(returns: np.ndarray, lengths: np.ndarray, observations: np.ndarray) -> Sessions:
    """Sessions whose returns are ``returns``: each spreads its return evenly over its steps."""
    n, horizon = len(returns), int(lengths.max())
    mask = np.arange(horizon)[:, None] < lengths[None, :]
    rewards = np.where(mask, returns / lengths, 0.0)
    return Sessions(
        np.where(mask[..., None], observations[:horizon], 0.0),
        np.zeros((horizon, n, ACT)),
        rewards,
        lengths.astype(np.int64),
        np.ones(n, dtype=bool),
        np.zeros(n, dtype=bool),
    )


def paper_update(m, deltas, r_plus, r_minus, b, alpha):
    """Algorithm 2 of Mania et al. (2018), step 7, written out directly."""
    order = sorted(range(len(r_plus)), key=lambda k: -max(r_plus[k], r_minus[k]))[:b]
    used = [r_plus[k] for k in order] + [r_minus[k] for k in order]
    sigma_r = np.std(used)
    total = sum((r_plus[k] - r_minus[k]) * deltas[k] for k in order)
    return m + alpha / (b * sigma_r) * total


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_step_is_the_papers_update_on_a_quadratic(version: str) -> None:
    """r(M) = -|M - M*|^2 of the candidates actually played; top b of N by max(r+, r-), the step
    divided by b and by the standard deviation of the 2b returns used; the survival shift taken
    out of every step's reward."""
    n, b, alpha, nu, shift = 6, 3, 0.1, 0.05, 0.5
    ars = make_ars(
        directions=n, top_directions=b, step_size=alpha, noise=nu, version=version, reward_shift=shift
    )
    rng = np.random.default_rng(1)
    ars.weights[ars.searched] = rng.normal(size=ACT * OBS)
    m, target = matrix(ars).copy(), rng.normal(size=(ACT, OBS))
    request = ars.ask(np.random.default_rng(2))
    assert request.n_candidates == 2 * n
    offsets, signs = request.candidates["offsets"], request.candidates["signs"]
    np.testing.assert_array_equal(offsets[0::2], offsets[1::2])
    np.testing.assert_array_equal(signs, np.tile([1.0, -1.0], n))
    deltas = directions(ars, offsets[0::2])
    played = np.stack([m + s * nu * deltas[k // 2] for k, s in enumerate(signs)])

    # the actor plays exactly M +- nu delta_k (clipped; V2's first iteration: raw observations)
    x = rng.normal(size=(2 * n, OBS))
    acted = request.actor.act(x, np.arange(2 * n), None)
    expected = np.clip(np.einsum("cao,co->ca", played, x), BOX_ACT.low, BOX_ACT.high)
    np.testing.assert_allclose(acted, expected, rtol=1e-5, atol=1e-5)

    lengths = 1 + np.arange(2 * n) % 3
    rewards = -((played - target) ** 2).sum(axis=(1, 2))
    sessions = sessions_of(rewards, lengths, rng.normal(size=(3, 2 * n, OBS)))
    scores = sessions.returns - shift * lengths
    r_plus, r_minus = scores[0::2], scores[1::2]
    assert len(set(np.maximum(r_plus, r_minus))) == n  # no ties: the top b are well defined

    metrics = ars.tell(request, sessions, np.random.default_rng(3))
    expected_m = paper_update(m, deltas, r_plus, r_minus, b, alpha)
    np.testing.assert_allclose(matrix(ars), expected_m, rtol=1e-9, atol=1e-12)
    top = np.argsort(-np.maximum(r_plus, r_minus))[:b]
    assert metrics["sigma_r"] == pytest.approx(np.std(np.r_[r_plus[top], r_minus[top]]))
    # the selection and sigma_R matter: every direction (b = N) steps elsewhere
    assert not np.allclose(paper_update(m, deltas, r_plus, r_minus, n, alpha), expected_m)
    # only M moves: the bias (and the unused log std) stay at zero
    assert not ars.weights[ars.searched.stop :].any()


def test_equal_returns_give_no_step() -> None:
    ars = make_ars(directions=4, top_directions=2)
    request = ars.ask(np.random.default_rng(0))
    sessions = sessions_of(np.full(8, 3.0), np.ones(8, np.int64), np.zeros((1, 8, OBS)))
    metrics = ars.tell(request, sessions, np.random.default_rng(0))
    assert metrics["sigma_r"] == 0 and not ars.weights.any()


def test_v2_normalises_by_every_state_visited_with_the_previous_iterations_statistics() -> None:
    ars = make_ars(directions=2, top_directions=1, version="v2")
    rng = np.random.default_rng(4)
    first = ars.ask(rng)
    assert ars.normalizer is not None
    np.testing.assert_array_equal(first.actor.obs_mean, 0.0)  # the first iteration: identity
    np.testing.assert_array_equal(first.actor.obs_std, 1.0)

    visited: list[np.ndarray] = []
    for iteration in range(2):
        request = first if iteration == 0 else ars.ask(rng)
        lengths = rng.integers(1, 6, size=4)
        obs = rng.normal(loc=[1.0, -2.0, 5.0], scale=[0.5, 2.0, 3.0], size=(int(lengths.max()), 4, OBS))
        sessions = sessions_of(rng.normal(size=4), lengths, obs)
        if iteration == 1:  # the second iteration plays the statistics of the first one's states
            np.testing.assert_allclose(request.actor.obs_mean, np.mean(visited[0], axis=0))
            np.testing.assert_allclose(request.actor.obs_std, np.std(visited[0], axis=0))
        visited.append(obs[np.arange(obs.shape[0])[:, None] < lengths[None, :]])
        ars.tell(request, sessions.without_steps(), rng)  # as sampled: per-session statistics

    every = np.concatenate(visited)
    np.testing.assert_allclose(ars.normalizer.mean, every.mean(axis=0))
    np.testing.assert_allclose(ars.normalizer.std, every.std(axis=0))
    # the greedy actor applies them: clip(M (x - mu) / sigma)
    x = rng.normal(size=(5, OBS))
    norm = (x - every.mean(axis=0)) / every.std(axis=0)
    expected = np.clip(norm @ matrix(ars).T, BOX_ACT.low, BOX_ACT.high)
    np.testing.assert_allclose(ars.greedy_actor().act(x, np.zeros(5, np.int64), None), expected, atol=1e-5)


def test_v2_on_a_real_env_counts_every_state_of_every_candidate() -> None:
    ars = ARS(
        *_spaces("Pendulum-v1"),
        ARSConfig(directions=2, top_directions=1, noise_table_size=10_000),
        np.random.default_rng(0),
        "linear",
    )
    request = ars.ask(np.random.default_rng(1))
    # sampled with every step here (the trainer keeps only the statistics), to count the states by hand
    sampler = make_sampler("Pendulum-v1")
    try:
        sessions = sampler.sample(request.actor, request.n_sessions, np.random.default_rng(2))
    finally:
        sampler.close()
    states = sessions.observations[sessions.mask()].astype(np.float64)
    assert len(states) == 4 * 200
    ars.tell(request, sessions.without_steps(), np.random.default_rng(3))
    np.testing.assert_allclose(ars.normalizer.mean, states.mean(axis=0))
    np.testing.assert_allclose(ars.normalizer.var, states.var(axis=0))


def test_v1_plays_raw_observations() -> None:
    ars = make_ars(version="v1")
    assert ars.normalizer is None and ars.ask(np.random.default_rng(0)).actor.obs_mean is None


def _spaces(env_id: str) -> tuple[gym.Space, gym.Space]:
    env = gym.make(env_id)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def test_actions_are_clipped_to_the_bounds_not_squashed() -> None:
    ars = make_ars(version="v1")
    ars.weights[ars.searched] = np.array([[3.0, 0.0, 0.0], [0.0, 0.1, 0.0]]).ravel()
    x = np.array([[0.1, 1.0, 0.0], [1.0, 30.0, 0.0], [-1.0, -5.0, 0.0]])
    index = np.zeros(3, np.int64)
    greedy = ars.greedy_actor().act(x, index, None)
    # M x = (0.3, 0.1), (3, 3), (-3, -0.5): clipped to [-0.4, 0.4] x [0, 2], unscaled within
    np.testing.assert_allclose(greedy, [[0.3, 0.1], [0.4, 2.0], [-0.4, 0.0]], rtol=1e-6)
    # the tanh-squashed actor of the same weights would play otherwise
    assert ars.spec.squash == "clip"
    tanh_spec = dataclasses.replace(ars.spec, squash="tanh")
    tanh = NumpyActor(tanh_spec, ars.greedy_actor().params, deterministic=True)
    assert not np.allclose(tanh.act(x, index, None), greedy)
    # and so do the candidates: zero noise around M gives M's actions
    zero = make_ars(version="v1", noise=1e-12)
    zero.weights[:] = ars.weights
    request = zero.ask(np.random.default_rng(0))
    played = request.actor.act(np.repeat(x, 2, axis=0)[:6], np.arange(6) % request.n_sessions, None)
    np.testing.assert_allclose(played, np.repeat(greedy, 2, axis=0)[:6], atol=1e-6)


@pytest.mark.parametrize(
    ("hyper", "field"),
    [
        ({"directions": 0}, "directions"),
        ({"top_directions": 0}, "top_directions"),
        ({"directions": 4, "top_directions": 5}, "top_directions"),
        ({"step_size": 0.0}, "step_size"),
        ({"noise": -0.1}, "noise"),
        ({"version": "v3"}, "version"),
        ({"reward_shift": float("inf")}, "reward_shift"),
        ({"episodes_per_candidate": 0}, "episodes_per_candidate"),
        ({"start_groups": 2}, "start_groups"),
        ({"noise_table_size": 10}, "noise_table_size"),
    ],
)
def test_bad_hyperparameters_are_one_line_naming_the_field(hyper: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field) as error:
        from_mapping(ARSConfig, hyper)
    assert "\n" not in str(error.value) and str(error.value).startswith(field)


def test_auto_directions_follow_the_size_of_m(capsys) -> None:
    """``auto``: 3 sqrt(weights of M), at least 8, half of them used; a given value wins."""
    auto = ["--no-preset", "--set", "directions=auto", "--set", "top_directions=auto"]
    cases = [
        ("Pendulum-v1", auto[1:], 8, 4, True),  # M is 1 x 3
        ("Walker2d-v5", auto, 30, 15, True),  # 6 x 17
        ("Walker2d-v5", ["--no-preset", "--set", "directions=auto"], 30, 4, True),
        (
            "Walker2d-v5",
            ["--no-preset", "--set", "directions=10", "--set", "top_directions=auto"],
            10,
            5,
            False,
        ),
        ("Walker2d-v5", ["--no-preset"], 8, 4, False),  # the defaults
        ("Walker2d-v5", [], 40, 30, False),  # the preset's
    ]
    for env, args, n, b, resolved in cases:
        code, out, err = run_cli(["train", "ars", "--env", env, *args, "--dry-run"], capsys)
        assert code == 0, err
        lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
        assert lines["directions"].split("#")[0].split(":")[1].strip() == str(n), out
        assert lines["top_directions"].split("#")[0].split(":")[1].strip() == str(b), out
        assert ("(auto)" in lines["directions"]) == resolved, out
    assert [auto_directions(n) for n in (1, 7, 8, 64, 6392)] == [8, 8, 8, 24, 240]
    with pytest.raises(ConfigError, match="top_directions=9 is out of range"):
        make_ars(directions="auto", top_directions=9)  # M of make_ars: 8 directions


def test_bad_input_on_the_command_line(tmp_path: Path, capsys) -> None:
    for args in (["--set", "noise=0"], ["--set", "top_directions=9"], ["--policy", "mlp"]):
        code, _, err = run_cli(
            ["train", "ars", "--env", "Pendulum-v1", *args, "--out", tmp_path / "r"], capsys
        )
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_the_api_class_and_a_preset(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(["train", "ars", "--env", "Hopper-v5", "--dry-run"], capsys)
    assert code == 0, err
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert lines["step_size"].split("#")[1].strip() == "preset (Hopper-v5)"
    with ARSAgent("Pendulum-v1", seed=0, directions=2, top_directions=1, noise_table_size=10_000) as agent:
        summary = agent.train(max_iterations=2)
        assert summary["algorithm"] == "ars" and summary["policy"] == "linear"
        assert np.all(np.abs(agent.act(np.zeros(3))) <= 2.0)


@pytest.mark.slow
def test_ars_solves_swimmer(tmp_path: Path) -> None:
    """The defaults (Swimmer has no preset): seeds 0-2 reached 325 in 30-35 iterations."""
    summary = Trainer(
        TrainOptions(
            algorithm="ars",
            env_id="Swimmer-v5",
            seed=0,
            target=325,
            max_iterations=100,
            out=str(tmp_path / "r"),
        )
    ).train()
    assert summary["solved"] and summary["eval_mean_return"] >= 325
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["hyperparameters"]["version"] == "v2"


@pytest.mark.parametrize(
    ("env_id", "kwargs", "shift"),
    [
        ("Hopper-v5", {}, 1.0),
        ("Humanoid-v5", {}, 5.0),
        ("Walker2d-v5", {"healthy_reward": 2.5}, 2.5),
        ("InvertedDoublePendulum-v5", {}, 0.0),  # surviving is the task: the bonus stays
        ("HalfCheetah-v5", {}, 0.0),
        ("CartPole-v1", {}, 0.0),
    ],
)
@pytest.mark.parametrize("algorithm", ["ars", "es"])
def test_the_survival_bonus_is_read_from_the_env(
    algorithm: str, env_id: str, kwargs: dict, shift: float, capsys
) -> None:
    """``reward_shift: auto`` (the default) is the env's survival bonus, also without a preset."""
    args = ["train", algorithm, "--env", env_id, "--no-preset", "--dry-run"]
    if kwargs:
        args += ["--env-kwargs", json.dumps(kwargs)]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    value, source = (part.strip() for part in lines["reward_shift"].split("#"))
    assert value == f"reward_shift: {shift}" and source == "default (auto)"


def test_a_given_reward_shift_wins_and_auto_without_an_env_is_zero() -> None:
    from policysearch.algorithms.population import resolve_reward_shift

    assert resolve_reward_shift(ARSConfig(reward_shift=0.5), 5.0).reward_shift == 0.5
    assert resolve_reward_shift(ARSConfig(), 5.0).reward_shift == 5.0
    space = gym.spaces.Box(-1, 1, (3,))
    ars = ARS(space, space, ARSConfig(noise_table_size=10_000), np.random.default_rng(0))
    assert ars.config.reward_shift == 0.0


@pytest.mark.slow
def test_humanoid_first_iterations_improve(tmp_path: Path) -> None:
    """The Humanoid-v5 preset (230 directions, all used) climbs from its first iterations.

    The 6000 run takes hours (docs/algorithms/ars.md); this bounded check is five iterations
    (about 80 k env steps): seed 0 went from a shifted score of -11.6 to 5.9 and a sampled mean
    of 111 to 206, and its evaluation was 296, where a random policy scores 106.
    """
    options = TrainOptions(
        algorithm="ars", env_id="Humanoid-v5", seed=0, max_iterations=5, out=str(tmp_path / "h")
    )
    summary = Trainer(options).train()
    records = [json.loads(line) for line in (tmp_path / "h" / "metrics.jsonl").read_text().splitlines()]
    scores = [r["mean_score"] for r in records]
    assert scores[-1] > scores[0] + 10, scores
    assert records[-1]["mean_return"] > records[0]["mean_return"] + 50, [r["mean_return"] for r in records]
    assert summary["eval_mean_return"] > 200, summary["eval_mean_return"]
