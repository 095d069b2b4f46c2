"""Sampling keeps only what the algorithm reads: steps, or per-session outcomes streamed in."""

import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import testenvs  # noqa: F401  (registers LongPixels-v0)
from policysearch.algorithms.cem import CEM, CEMConfig
from policysearch.algorithms.es import ES, ESPolicyConfig
from policysearch.envs import make_env, random_frames
from policysearch.errors import ConfigError
from policysearch.run import guards
from policysearch.run.guards import RunGuard
from policysearch.sampling import EnvRunner, closed_after, make_sampler

TESTS = Path(__file__).parent


def _es(env_id: str, policy: str, **hyper) -> ES:
    env = make_env(env_id)
    try:
        config = ESPolicyConfig(noise_table_size=2_000_000, **hyper)
        return ES(env.observation_space, env.action_space, config, np.random.default_rng(0), policy)
    finally:
        env.close()


def test_every_kind_of_keep_gives_the_same_returns_and_statistics() -> None:
    """Steps kept, or the outcomes streamed in: the same returns, lengths and ends; the same stats."""
    es = _es("LunarLander-v3", "linear", population=6)
    request = es.ask(np.random.default_rng(1))
    runner = EnvRunner(lambda: gym.make("LunarLander-v3"), 4)
    seeds = np.arange(6) + 100
    try:
        full, stats, returns = (
            runner.run(request.actor, seeds, keep=k) for k in ("steps", "stats", "returns")
        )
    finally:
        runner.close()
    assert full.has_steps and not stats.has_steps and not returns.has_steps
    assert stats.observations.size == 0 and returns.observations.size == 0
    for outcome in (stats, returns):
        np.testing.assert_array_equal(outcome.returns, full.returns)  # added in the same order
        np.testing.assert_array_equal(outcome.lengths, full.lengths)
        np.testing.assert_array_equal(outcome.terminated, full.terminated)
    count, mean, m2 = stats.observation_stats()
    want = full.without_steps().observation_stats()
    np.testing.assert_array_equal(count, want[0])
    np.testing.assert_allclose(mean, want[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m2, want[2], rtol=1e-9, atol=1e-9)
    assert returns.observation_stats()[1].shape == (6, 0)


def test_a_search_over_weights_asks_for_outcomes_and_cem_over_actions_for_steps() -> None:
    assert _es("Pendulum-v1", "linear").keep == "stats"
    assert _es("policysearch/Catch-v0", "cnn").keep == "returns"  # pixels are not normalised
    env = make_env("CartPole-v1")
    cem = CEM(env.observation_space, env.action_space, CEMConfig(), np.random.default_rng(0), "mlp")
    assert cem.keep == "steps"


def test_the_memory_guard_counts_what_the_driver_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Humanoid population that only sends back outcomes fits; kept steps of the same batch do not."""
    monkeypatch.setattr(guards, "available_memory", lambda: 2 * 10**9)
    es = _es("Humanoid-v5", "linear", population=10_000)
    guard = RunGuard(None, es, 1000)  # fits: about 6 KB per session
    assert guard.session_bytes < 10_000
    monkeypatch.setattr(type(es), "keep", property(lambda self: "steps"))
    with pytest.raises(ConfigError, match="sessions of up to 1,000 steps needs about"):
        RunGuard(None, es, 1000)


def test_a_refused_cem_over_actions_is_offered_the_search_over_weights(monkeypatch) -> None:
    """An ALE batch of CEM's fit over actions needs about 191 GB; over the weights it keeps no steps.

    Offered only where following it can help: the batch's outcomes and a weight vector per
    session fit, and the config holds no option the search over weights refuses.
    """
    env = make_env("CartPole-v1")

    def cem(search: str, n_sessions: int, **options) -> CEM:
        config = CEMConfig(search=search, n_sessions=n_sessions, **options)
        return CEM(env.observation_space, env.action_space, config, np.random.default_rng(0), "mlp")

    offered = (
        "ask for fewer sessions, or for a search over the weights, which keeps no steps "
        '(--set search=weights; search="weights" in Python)'
    )
    monkeypatch.setattr(guards, "available_memory", lambda: 10**9)
    with pytest.raises(ConfigError, match=re.escape(offered)):  # 108 GB of steps; 0.5 GB without
        RunGuard(None, cem("actions", 10**5), 27_000)
    nothing_else = r"ask for fewer sessions$"
    with pytest.raises(ConfigError, match=nothing_else):  # already over the weights
        RunGuard(None, cem("weights", 10**6), 27_000)
    for fitted in ({"param_noise": 0.5}, {"epochs": 3}):  # which the search over weights refuses
        with pytest.raises(ConfigError, match=nothing_else):
            RunGuard(None, cem("actions", 10**5, **fitted), 27_000)
    monkeypatch.setattr(guards, "available_memory", lambda: 10**8)
    with pytest.raises(ConfigError, match=nothing_else):  # the weights alone would not fit
        RunGuard(None, cem("actions", 10**5), 27_000)


@pytest.mark.parametrize(
    ("algorithm", "size", "workers"),
    [("cem", "n_sessions=1000000", 1), ("es", "population=1000000", 1), ("es", "population=1000000", 2)],
)
def test_numpy_dynamics_hold_every_step_and_the_guard_counts_them(
    algorithm: str, size: str, workers: int, tmp_path: Path, capsys
) -> None:
    """CartPole's numpy dynamics hold every step of a request whatever is kept: CEM over weights
    with a million candidates passed the guard (outcomes only) and grew past 17 GB."""
    from conftest import run_cli

    args = ["train", algorithm, "--env", "CartPole-v1", "--set", size, "--set", "normalize_obs=false"]
    if algorithm == "cem":
        args += ["--set", "search=weights"]
    code, _, err = run_cli([*args, "--workers", workers, "--out", tmp_path / "r"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "sessions of up to 500 steps needs about" in err and "ask for fewer sessions" in err, err
    assert "search over the weights" not in err  # it holds the steps too
    assert not (tmp_path / "r").exists()
    # a population of the usual size passes
    es = _es("CartPole-v1", "linear")
    with closed_after(make_sampler("CartPole-v1")) as sampler:
        RunGuard(sampler, es, 500, arrays=True).check_request(1, es.ask(np.random.default_rng(0)))


def test_a_uint8_frame_is_counted_as_one_byte_and_its_float32_copy() -> None:
    pixels = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
    actions = gym.spaces.Discrete(6)
    assert guards.step_bytes(pixels, actions, objects=False) == 84 * 84 * 4 * 5 + 2 * (8 + 8)


@pytest.mark.slow
def test_a_worker_playing_a_full_atari_length_episode_stays_below_one_gigabyte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ES on 27,000 steps of 84x84x4 uint8 frames: the workers hold no frames (2.5 GB each if they did)."""
    monkeypatch.setenv("PYTHONPATH", f"{TESTS}")  # the spawned workers import testenvs
    es = _es("testenvs:LongPixels-v0", "cnn", population=2)
    request = es.ask(np.random.default_rng(1))
    sampler = make_sampler("testenvs:LongPixels-v0", n_envs=2, workers=2)
    try:
        sessions = sampler.sample(request.actor, 2, np.random.default_rng(2), keep=es.keep)
        peaks = [_peak_bytes(proc.pid) for proc in sampler.transport.procs]  # type: ignore[attr-defined]
    finally:
        sampler.close()
    np.testing.assert_array_equal(sessions.lengths, [27_000, 27_000])
    assert max(peaks) < 10**9, [f"{p / 1e6:.0f} MB" for p in peaks]


def _peak_bytes(pid: int) -> int:
    """A process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def test_the_es_update_reads_the_noise_in_blocks_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gradient and sigma's step from table offsets, a block at a time, equal the whole matrix's."""
    from policysearch.algorithms.population import CandidateNoise, candidate_noise
    from policysearch.optim import es as es_module
    from policysearch.optim.es import EvolutionStrategy

    es = _es("Pendulum-v1", "mlp", population=10, sigma_schedule="adaptive")
    request = es.ask(np.random.default_rng(1))
    dim = es.es.mu.numel()
    whole = candidate_noise(request, es.table, dim)
    blocks = CandidateNoise(request, es.table, dim)
    scores = np.random.default_rng(2).normal(size=10)
    one = EvolutionStrategy(np.zeros(dim), es.es.config)
    np.testing.assert_array_equal(one.gradient(blocks, scores), one.gradient(whole, scores))  # one block
    monkeypatch.setattr(es_module, "NOISE_BLOCK_BYTES", 8 * 10 * 7)  # seven parameters a block
    assert len(list(es_module.noise_blocks(blocks, dim))) == -(-dim // 7)
    np.testing.assert_allclose(one.gradient(blocks, scores), one.gradient(whole, scores), rtol=1e-12)
    a, b = EvolutionStrategy(np.zeros(dim), es.es.config), EvolutionStrategy(np.zeros(dim), es.es.config)
    a.tell(scores, blocks)
    b.tell(scores, whole)
    np.testing.assert_allclose(a.sigma, b.sigma, rtol=1e-12)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)


def test_the_memory_guard_plans_for_both_signs_of_every_ars_direction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from policysearch.algorithms.ars import ARS, ARSConfig

    env = make_env("Hopper-v5")
    ars = ARS(
        env.observation_space,
        env.action_space,
        ARSConfig(directions=1000, top_directions=10),
        np.random.default_rng(0),
    )
    # the guard's reading of the machine, after ARS is built (its noise table is checked then)
    monkeypatch.setattr(guards, "available_memory", lambda: 100_000)
    with pytest.raises(ConfigError, match="a batch of 2,000 sessions"):
        RunGuard(None, ars, 1000)


@pytest.mark.parametrize(
    ("env_id", "policy"),
    [
        ("policysearch/Catch-v0", "cnn"),
        ("policysearch/CartPoleNoVelocity-v1", "gru"),
        ("LunarLanderContinuous-v3", "mlp"),
        ("Pendulum-v1", "linear"),
    ],
)
def test_candidates_built_one_at_a_time_play_as_the_stacked_share(
    env_id: str, policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past STACKED_BYTES a worker holds only the candidates playing, with the same returns."""
    from policysearch.algorithms import population

    es = _es(env_id, policy, population=10, episodes_per_candidate=3)
    if policy == "cnn":  # with virtual batch normalisation, as the run factory sets it up
        es.set_reference(random_frames(make_env(env_id), 16, np.random.default_rng(0)))
    request = es.ask(np.random.default_rng(1))
    runner = EnvRunner(lambda: make_env(env_id), 4)
    seeds = np.arange(30) + 7
    try:
        assert request.actor.stacked
        stacked = runner.run(request.actor, seeds, keep="returns")
        monkeypatch.setattr(population, "STACKED_BYTES", 0)
        alone = request.actor.join((0, request.actor.offsets, request.actor.signs))
        assert not alone.stacked
        held = []
        act = alone.act

        def counting(obs, index, noise):
            actions = act(obs, index, noise)
            held.append(len(alone._actors))
            return actions

        alone.act = counting  # type: ignore[method-assign]
        one_by_one = runner.run(alone, seeds, keep="returns")
    finally:
        runner.close()
    np.testing.assert_array_equal(one_by_one.returns, stacked.returns)
    np.testing.assert_array_equal(one_by_one.lengths, stacked.lengths)
    assert max(held) <= 4  # at most one candidate per env played side by side
