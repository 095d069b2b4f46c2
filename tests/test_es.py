import json
import multiprocessing as mp
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from conftest import run_cli
from policysearch import ConfigError, Trainer, TrainOptions
from policysearch.algorithms.es import AUTO_SIGMA, ES, ESPolicyConfig
from policysearch.optim import ESConfig, EvolutionStrategy, maximize, minimize
from policysearch.optim.es import centered_ranks, shape_fitness
from policysearch.optim.noise_table import NoiseTable
from policysearch.optim.steps import SGD, TorchAdam


def sphere(x: np.ndarray) -> float:
    return float((x**2).sum())


def rosenbrock(x: np.ndarray) -> float:
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


def rastrigin(x: np.ndarray) -> float:
    return float(10 * x.size + (x**2 - 10 * np.cos(2 * np.pi * x)).sum())


# Documented tolerances (README): from a fixed start, with these settings.
BLACK_BOX = [
    (
        sphere,
        np.full(100, 3.0),
        1e-3,
        ESConfig(
            population=50, sigma=0.5, learning_rate=0.1, learning_rate_decay=0.997, sigma_schedule="adaptive"
        ),
        2000,
    ),
    (
        rosenbrock,
        np.zeros(10),
        1e-3,
        ESConfig(
            population=50,
            sigma=0.05,
            learning_rate=0.02,
            learning_rate_decay=0.999,
            sigma_schedule="adaptive",
        ),
        4000,
    ),
    (
        rastrigin,
        np.full(10, 2.0),
        1e-2,
        ESConfig(
            population=200,
            sigma=1.0,
            learning_rate=0.1,
            learning_rate_decay=0.998,
            sigma_schedule="decay",
            sigma_decay=0.997,
        ),
        2000,
    ),
]


@pytest.mark.parametrize(
    ("f", "x0", "tolerance", "config", "iterations"),
    BLACK_BOX,
    ids=["sphere100", "rosenbrock10", "rastrigin10"],
)
def test_minimize_reaches_documented_tolerances(f, x0, tolerance, config, iterations) -> None:
    x, value = minimize(f, x0, iterations, config, seed=0)
    assert value <= tolerance
    assert value == pytest.approx(f(x))


def test_gradient_estimate_agrees_with_the_analytic_gradient_of_a_quadratic() -> None:
    # f(x) = -(x - c)^2 summed; grad at mu = -2 (mu - c). Raw (normalised) rewards are affine in f,
    # so compare directions and the estimate with identity shaping.
    rng = np.random.default_rng(0)
    n, sigma = 5, 0.01
    mu, c = rng.standard_normal(n), rng.standard_normal(n)
    es = EvolutionStrategy(mu, ESConfig(population=20000, sigma=sigma, fitness_shaping="normalize"), rng)
    thetas = es.ask()
    scores = np.array([-((t - c) ** 2).sum() for t in thetas])
    noise = (thetas - mu) / sigma
    raw = (scores @ noise) / (len(scores) * sigma)  # the unshaped estimator
    analytic = -2 * (mu - c)
    stderr = np.sqrt(np.var(scores[:, None] * noise, axis=0) / len(scores)) / sigma
    assert np.all(np.abs(raw - analytic) < 5 * stderr + 1e-9)
    shaped = es.gradient(noise, scores)
    cosine = shaped @ analytic / (np.linalg.norm(shaped) * np.linalg.norm(analytic))
    assert cosine > 0.99


@pytest.mark.parametrize("shaping", ["normalize", "centered_rank"])
def test_ask_draws_mirrored_pairs_and_the_gradient_ignores_a_constant_baseline(shaping: str) -> None:
    es = EvolutionStrategy(
        np.zeros(4), ESConfig(population=10, fitness_shaping=shaping), np.random.default_rng(1)
    )
    thetas = es.ask()
    noise = (thetas - es.mean) / es.sigma
    np.testing.assert_allclose(noise[0::2], -noise[1::2])
    scores = np.array([sphere(t) for t in thetas])
    grad = es.gradient(noise, scores)
    assert np.linalg.norm(grad) > 0
    np.testing.assert_allclose(es.gradient(noise, scores + 1000.0), grad, atol=1e-6)


@pytest.mark.parametrize("value", [200.7, 0.1, -3.3])
def test_equal_scores_shape_to_zeros_whatever_their_rounding(value: float) -> None:
    scores = np.full(64, value)
    assert scores.std() > 0  # the std of these equal numbers rounds away from 0
    for how in ("normalize", "centered_rank"):
        assert not shape_fitness(scores, how).any()


def test_centered_ranks() -> None:
    assert centered_ranks(np.array([3.0, 1.0, 2.0])).tolist() == [0.5, -0.5, 0.0]
    tied = centered_ranks(np.array([1.0, 1.0, 5.0, 0.0]))
    assert tied[0] == tied[1] and tied.sum() == pytest.approx(0)


def _table_slice(queue) -> None:
    queue.put(NoiseTable(123, 100_000).get(np.array([5, 777, 99_000]), 64).tobytes())


def test_noise_table_is_identical_in_two_processes() -> None:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_table_slice, args=(queue,))
    proc.start()
    other = queue.get(timeout=60)
    proc.join()
    assert other == NoiseTable(123, 100_000).get(np.array([5, 777, 99_000]), 64).tobytes()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": -1.0}, "sigma"),
        ({"population": 1}, "population"),
        ({"population": 7}, "population"),
    ],
)
def test_bad_hyperparameters(kwargs, field) -> None:
    with pytest.raises(ConfigError, match=field):
        ESConfig(**kwargs)


def test_nan_objective_names_the_candidate() -> None:
    def f(x):
        return float("nan") if x[0] > 0.05 else 0.0

    with pytest.raises(ConfigError, match=r"nan for candidate \d+"):
        maximize(f, np.zeros(3), 5, ESConfig(population=10, sigma=0.1))


def test_ask_tell_round_trip_of_the_state() -> None:
    a = EvolutionStrategy(
        np.ones(6), ESConfig(population=8, sigma_schedule="adaptive"), np.random.default_rng(3)
    )
    for _ in range(3):
        a.tell(np.array([sphere(t) for t in a.ask()]))
    b = EvolutionStrategy(
        np.zeros(6), ESConfig(population=8, sigma_schedule="adaptive"), np.random.default_rng(3)
    )
    b.load_state_arrays(a.state_arrays())
    noise = a.sample_noise(np.random.default_rng(9))
    scores = np.array([sphere(t) for t in a.ask(noise)])
    b.ask(noise)
    a.tell(scores)
    b.tell(scores)
    np.testing.assert_allclose(a.mean, b.mean)
    np.testing.assert_allclose(a.sigma, b.sigma)


def es_options(out: Path, **kw) -> TrainOptions:
    base = dict(algorithm="es", env_id="CartPole-v1", policy="linear", seed=2, max_iterations=3, out=str(out))
    base["hyperparameters"] = {"population": 10, "sigma_schedule": "adaptive"}
    base.update(kw)
    return TrainOptions(**base)


@pytest.mark.parametrize("policy", ["linear", "mlp", "gru"])
def test_es_policies_train_and_evaluate(tmp_path: Path, policy: str, capsys) -> None:
    opts = es_options(tmp_path / "r", env_id="Pendulum-v1", policy=policy, max_iterations=2)
    opts.hyperparameters["hidden"] = [8]
    Trainer(opts).train()
    code, out, err = run_cli(["evaluate", tmp_path / "r", "--episodes", "3"], capsys)
    assert code == 0, err
    assert json.loads(out)["episodes"] == 3


def test_es_auto_values_follow_the_body() -> None:
    """The cnn body's step, noise, L2 and reference batch; the vector bodies keep theirs; given values win."""
    from policysearch.algorithms.es import AUTO

    frames, box = gym.spaces.Box(0, 255, (10, 10, 4), np.uint8), gym.spaces.Box(-1.0, 1.0, (3,))
    cnn = ES(frames, gym.spaces.Discrete(3), ESPolicyConfig(), np.random.default_rng(0), "cnn")
    config = cnn.config
    chosen = (config.learning_rate, config.sigma, config.weight_decay, config.reference_batch)
    assert chosen == (0.01, 0.02, 0.005, 64) and isinstance(config.reference_batch, int)
    assert cnn.es.optimizer.lr == AUTO["cnn"]["learning_rate"] and cnn.reference_frames == 64
    for policy in ("linear", "mlp", "gru"):
        es = ES(box, box, ESPolicyConfig(hidden=(4,)), np.random.default_rng(0), policy)
        assert (es.config.learning_rate, es.config.weight_decay, es.reference_frames) == (0.05, 0.0, 0)
    given = ESPolicyConfig(learning_rate=0.2, weight_decay=0.0, reference_batch=0)
    cnn = ES(frames, gym.spaces.Discrete(3), given, np.random.default_rng(0), "cnn")
    assert (cnn.es.optimizer.lr, cnn.config.weight_decay, cnn.reference_frames) == (0.2, 0.0, 0)
    for bad in ({"learning_rate": 0.0}, {"weight_decay": -1.0}, {"reference_batch": -1}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            ESPolicyConfig(**bad)


def test_es_bad_input_on_the_command_line(tmp_path: Path, capsys) -> None:
    for setting in ("sigma=0", "population=1", "population=5"):
        code, _, err = run_cli(
            ["train", "es", "--env", "CartPole-v1", "--set", setting, "--out", tmp_path / "r"], capsys
        )
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("policy", "sigma"), [("linear", 0.05), ("mlp", 0.1), ("gru", 0.1)])
def test_es_sigma_auto_follows_the_policy_kind(policy: str, sigma: float) -> None:
    box = gym.spaces.Box(-1.0, 1.0, (3,))
    es = ES(box, box, ESPolicyConfig(hidden=(4,)), np.random.default_rng(0), policy)
    assert es.config.sigma == AUTO_SIGMA[policy] == sigma
    np.testing.assert_array_equal(es.es.sigma, sigma)
    given = ES(box, box, ESPolicyConfig(sigma=0.3, hidden=(4,)), np.random.default_rng(0), policy)
    np.testing.assert_array_equal(given.es.sigma, 0.3)
    with pytest.raises(ConfigError, match="sigma"):
        ESPolicyConfig(sigma=0.0)


def test_es_dry_run_shows_what_sigma_auto_resolves_to(capsys) -> None:
    for policy, sigma in (("linear", 0.05), ("mlp", 0.1)):
        args = ["train", "es", "--env", "Pendulum-v1", "--policy", policy, "--dry-run"]
        code, out, err = run_cli(args, capsys)
        assert code == 0, err
        line = next(line for line in out.splitlines() if line.strip().startswith("sigma:"))
        assert line.split("#")[0].strip() == f"sigma: {sigma}" and line.endswith("# default (auto)")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_es_solves_cartpole(tmp_path: Path, seed: int) -> None:
    summary = Trainer(
        TrainOptions(
            algorithm="es",
            env_id="CartPole-v1",
            seed=seed,
            target=475,
            max_iterations=40,  # seeds 0, 1, 2 needed 4, 3 and 5
            out=str(tmp_path / "r"),
        )
    ).train()
    assert summary["solved"] and summary["eval_mean_return"] >= 475


@pytest.mark.slow
def test_cmaes_solves_cartpole(tmp_path: Path) -> None:
    summary = Trainer(
        TrainOptions(
            algorithm="cmaes",
            env_id="CartPole-v1",
            policy="linear",
            target=475,
            max_iterations=40,  # seed 0 needed 3
            out=str(tmp_path / "r"),
        )
    ).train()
    assert summary["solved"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 4])
def test_es_solves_pendulum(tmp_path: Path, seed: int) -> None:
    """ES's defaults, with common start states (start_groups=1), reach -200 on seeds 1, 2, 3, 4 in
    195, 168, 478 and 201 iterations (seed 0: -228 after 600); without them only seed 2 did, and
    seeds 0 and 1 stayed near -800. The two quickest are tested, with 1.5x their iterations."""
    options = TrainOptions(
        algorithm="es",
        env_id="Pendulum-v1",
        seed=seed,
        target=-200,
        max_iterations=300,
        out=str(tmp_path / "r"),
    )
    summary = Trainer(options).train()
    assert summary["solved"] and summary["eval_mean_return"] >= -200


@pytest.mark.slow
def test_es_defaults_solve_halfcheetah_where_the_former_sigma_was_trapped(tmp_path: Path) -> None:
    """No preset: a linear policy, sigma auto (0.05). Seed 1 solved in 15 iterations; with sigma
    0.1 it stayed between 990 and 1110 from iteration 90 to 338."""
    options = TrainOptions(
        algorithm="es",
        env_id="HalfCheetah-v5",
        seed=1,
        target=3000,
        max_iterations=23,
        no_preset=True,
        out=str(tmp_path / "r"),
    )
    summary = Trainer(options).train()
    assert summary["solved"] and summary["eval_mean_return"] >= 3000


@pytest.mark.parametrize(
    "make",
    [
        (lambda p: TorchAdam([p], lr=0.05), lambda p: torch.optim.Adam([p], lr=0.05)),
        (
            lambda p: TorchAdam([p], lr=0.01, weight_decay=0.1),
            lambda p: torch.optim.Adam([p], lr=0.01, weight_decay=0.1),
        ),
        (lambda p: SGD([p], lr=0.05, momentum=0.9), lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9)),
        (
            lambda p: SGD([p], lr=0.05, momentum=0.5, weight_decay=0.01),
            lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.5, weight_decay=0.01),
        ),
    ],
)
def test_es_optimisers_are_torch_optim_bit_for_bit(make) -> None:
    """ES's optimisers skip torch.optim's import cost; the numbers (and saved state) are its own."""
    ours_of, theirs_of = make
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=257)
    ours_p, theirs_p = (torch.tensor(x0, dtype=torch.float64, requires_grad=True) for _ in range(2))
    ours, theirs = ours_of(ours_p), theirs_of(theirs_p)
    for step in range(60):
        grad = rng.normal(size=257) * 3
        for p, opt in ((ours_p, ours), (theirs_p, theirs)):
            opt.zero_grad()
            p.grad = torch.as_tensor(grad.copy())
            opt.step()
        assert torch.equal(ours_p, theirs_p), f"step {step}"
        if step == 30:  # a resume from torch.optim's saved state continues it exactly
            state = {k: v.numpy().copy() for k, v in theirs.state[theirs_p].items()}
            ours = ours_of(ours_p)
            ours.load_state_arrays(state)
    saved = ours.state_arrays()
    assert set(saved) == set(theirs.state[theirs_p])
    for key, value in theirs.state[theirs_p].items():
        np.testing.assert_array_equal(saved[key], value.numpy())
