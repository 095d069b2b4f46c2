"""Evolution strategies as a black-box optimiser, with ask/tell and one-call maximize / minimize.

A Gaussian N(mu, diag(sigma^2)) over the parameters theta. Each iteration samples
theta_i = mu + sigma * xi_i (mirrored pairs +xi, -xi by default), scores every candidate, shapes the
scores (normalised rewards (R - mean) / std, the lecture's baseline, or centered ranks), and
estimates the gradient of the expected score with the log-derivative trick,

    grad_mu = 1 / (N sigma) * sum_i xi_i R_i,

which a first-order optimiser (SGD with momentum, or Adam: :mod:`.steps`, ``torch.optim``'s
updates without its import cost) follows. sigma is fixed, decays on a
schedule, or is adapted per parameter by its own log-derivative gradient, as separable NES and
PGPE do: log sigma <- log sigma + sigma_lr / 2 * mean_i R_i (xi_i^2 - 1).

The sense is always "maximise"; :func:`minimize` negates at that one boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import torch

from ..config import check_choices, check_range, coerce, coerce_fields
from ..errors import ConfigError
from .steps import SGD, TorchAdam


@dataclass
class ESConfig:
    """Hyperparameters of evolution strategies."""

    #: Candidates per iteration (even when mirrored: pairs +xi, -xi).
    population: int = 50
    #: Initial standard deviation of the search distribution.
    sigma: float = 0.1
    #: ``fixed``, ``decay`` (times ``sigma_decay`` per iteration, down to ``sigma_min``) or
    #: ``adaptive`` (per parameter, by its log-derivative gradient).
    sigma_schedule: Literal["fixed", "decay", "adaptive"] = "fixed"
    #: Factor of the ``decay`` schedule.
    sigma_decay: float = 0.99
    #: Floor of sigma under ``decay`` and ``adaptive``.
    sigma_min: float = 1e-4
    #: Learning rate of log sigma under ``adaptive``.
    sigma_lr: float = 0.1
    #: Mirrored (antithetic) sampling.
    mirrored: bool = True
    #: ``centered_rank`` (ranks mapped to [-0.5, 0.5]) or ``normalize`` ((R - mean) / std).
    fitness_shaping: Literal["centered_rank", "normalize"] = "centered_rank"
    #: Optimiser of mu: ``adam`` or ``sgd`` (with ``momentum``), as in ``torch.optim``.
    optimizer: Literal["adam", "sgd"] = "adam"
    #: Learning rate of the optimiser.
    learning_rate: float = 0.05
    #: Factor applied to the learning rate after every iteration (1: constant).
    learning_rate_decay: float = 1.0
    #: Momentum of ``sgd``.
    momentum: float = 0.9
    #: L2 weight decay of mu.
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        coerce_fields(self)  # as from_mapping, for a config made directly: ESConfig(population=50.0)
        check_range("population", self.population, 2)
        check_choices(self)  # sigma_schedule, fitness_shaping, optimizer (and a subclass's choices)
        if self.mirrored and self.population % 2:
            raise ConfigError(f"population={self.population} must be even with mirrored sampling")
        self._check_tunable("sigma", self.sigma, 0, low_open=True)
        check_range("sigma_decay", self.sigma_decay, 0, 1, low_open=True)
        check_range("sigma_min", self.sigma_min, 0)
        check_range("sigma_lr", self.sigma_lr, 0)
        self._check_tunable("learning_rate", self.learning_rate, 0, low_open=True)
        check_range("learning_rate_decay", self.learning_rate_decay, 0, 1, low_open=True)
        check_range("momentum", self.momentum, 0, 1, high_open=True)
        self._check_tunable("weight_decay", self.weight_decay, 0)

    def _check_tunable(self, name: str, value: float, low: float, low_open: bool = False) -> None:
        """``check_range(name, value, low, low_open=...)``, which a subclass may widen.

        A subclass may allow a value it resolves before use (``auto``); the docs read these
        calls as ``check_range``'s.
        """
        check_range(name, value, low, low_open=low_open)


def centered_ranks(scores: np.ndarray) -> np.ndarray:
    """Ranks of ``scores`` mapped linearly to [-0.5, 0.5] (ties share the mean rank).

    >>> centered_ranks(np.array([10.0, -3.0, 5.0])).tolist()
    [0.5, -0.5, 0.0]
    """
    n = scores.size
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    ranks = (first + (counts - 1) / 2)[inverse.ravel()]
    return ranks / max(n - 1, 1) - 0.5


def shape_fitness(scores: np.ndarray, how: str) -> np.ndarray:
    """Shaped scores: centered ranks, or (R - mean) / std (zeros when all scores are equal)."""
    # --8<-- [start:shaping]
    if how == "centered_rank":
        return centered_ranks(scores)
    if np.ptp(scores) == 0:  # all equal (their std may round to 1e-14, not 0)
        return np.zeros_like(scores)
    return (scores - scores.mean()) / scores.std()
    # --8<-- [end:shaping]


class NoiseColumns(Protocol):
    """Perturbations read a block of parameters at a time (a population named by noise-table offsets)."""

    def __len__(self) -> int: ...

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Every candidate's parameters ``lo`` to ``hi - 1``, ``(population, hi - lo)``."""
        ...


#: The perturbations xi of a population: a ``(population, n)`` array, or read in blocks.
Noise = np.ndarray | NoiseColumns

#: Bytes of float64 perturbations the update holds at once (:func:`noise_blocks`).
NOISE_BLOCK_BYTES = 64 * 2**20


def noise_blocks(noise: Noise, n: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(lo, hi, xi[:, lo:hi])`` over the ``n`` parameters, each block at most NOISE_BLOCK_BYTES.

    A population of up to 8 M float64 numbers is one block (every classic and MuJoCo policy):
    the update is then one product, as it always was.
    """
    width = max(1, NOISE_BLOCK_BYTES // (8 * max(1, len(noise))))
    for lo in range(0, n, width):
        hi = min(n, lo + width)
        block = noise[:, lo:hi] if isinstance(noise, np.ndarray) else noise.columns(lo, hi)
        yield lo, hi, np.asarray(block, dtype=np.float64)


class EvolutionStrategy:
    """ES with ask/tell over R^n (maximisation).

    Args:
        x0: the initial mean mu.
        config: hyperparameters.
        rng: the generator of the perturbations.
    """

    def __init__(
        self, x0: np.ndarray, config: ESConfig | None = None, rng: np.random.Generator | None = None
    ):
        if config is not None and not isinstance(config, ESConfig):
            raise ConfigError(f"config must be an ESConfig, not {config!r}")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ConfigError(f"rng must be a numpy Generator (np.random.default_rng(seed)), not {rng!r}")
        self.config = config or ESConfig()
        self.rng = rng if rng is not None else np.random.default_rng(0)
        x0 = start_point(x0)
        self.mu = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        self.sigma = np.full(x0.size, self.config.sigma)
        cfg = self.config
        self.optimizer: TorchAdam | SGD
        if cfg.optimizer == "adam":
            self.optimizer = TorchAdam([self.mu], lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        else:
            self.optimizer = SGD(
                [self.mu], lr=cfg.learning_rate, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        self._noise: np.ndarray | None = None

    @property
    def mean(self) -> np.ndarray:
        """The current mean mu."""
        return self.mu.detach().numpy().copy()

    def sample_noise(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """Standard normal perturbations xi, ``(population, n)`` (mirrored pairs adjacent)."""
        cfg, gen = self.config, rng or self.rng
        n = self.mu.numel()
        if cfg.mirrored:
            half = gen.standard_normal((cfg.population // 2, n))
            return np.stack([half, -half], axis=1).reshape(cfg.population, n)
        return gen.standard_normal((cfg.population, n))

    def ask(self, noise: np.ndarray | None = None) -> np.ndarray:
        """Candidates theta_i = mu + sigma * xi_i, ``(population, n)``."""
        # --8<-- [start:ask]
        self._noise = self.sample_noise() if noise is None else np.asarray(noise, dtype=np.float64)
        return self.mean + self.sigma * self._noise
        # --8<-- [end:ask]

    def gradient(self, noise: Noise, scores: np.ndarray) -> np.ndarray:
        """The log-derivative estimate of grad_mu E[R]: 1 / (N sigma) * sum_i xi_i R_i (shaped R).

        Computed a block of parameters at a time (:func:`noise_blocks`), so that the noise is
        never held whole.
        """
        shaped = shape_fitness(np.asarray(scores, dtype=np.float64), self.config.fitness_shaping)
        grad = np.empty(self.mu.numel())
        for lo, hi, xi in noise_blocks(noise, grad.size):
            # --8<-- [start:gradient]
            grad[lo:hi] = (shaped @ xi) / (len(scores) * self.sigma[lo:hi])
            # --8<-- [end:gradient]
        return grad

    def tell(self, scores: np.ndarray, noise: Noise | None = None) -> dict[str, float]:
        """Update mu and sigma from the scores of the last :meth:`ask` (or of ``noise``).

        Raises:
            ConfigError: if a score is NaN or infinite, naming the first such candidate.
        """
        cfg = self.config
        scores = np.asarray(scores, dtype=np.float64).ravel()
        noise = self._noise if noise is None else noise
        if noise is None:
            raise ConfigError("tell needs the candidates of an ask first (or their noise)")
        if len(scores) != len(noise):
            raise ConfigError(f"tell expects {len(noise)} scores, got {len(scores)}")
        bad = np.flatnonzero(~np.isfinite(scores))
        if bad.size:
            raise ConfigError(f"the objective returned {scores[bad[0]]} for candidate {int(bad[0])}")
        # --8<-- [start:step]
        grad = self.gradient(noise, scores)
        self.optimizer.zero_grad()
        self.mu.grad = torch.as_tensor(-grad)  # optimisers minimise
        self.optimizer.step()
        if cfg.learning_rate_decay != 1.0:
            self.optimizer.lr *= cfg.learning_rate_decay
        if cfg.sigma_schedule == "decay":
            self.sigma = np.maximum(self.sigma * cfg.sigma_decay, cfg.sigma_min)
        elif cfg.sigma_schedule == "adaptive":
            shaped = shape_fitness(scores, cfg.fitness_shaping)
            step = np.empty(self.sigma.size)
            for lo, hi, xi in noise_blocks(noise, step.size):
                step[lo:hi] = shaped @ (xi**2 - 1) / len(scores)
            self.sigma = np.maximum(self.sigma * np.exp(cfg.sigma_lr / 2 * step), cfg.sigma_min)
        # --8<-- [end:step]
        return {
            "mean_score": float(scores.mean()),
            "max_score": float(scores.max()),
            "grad_norm": float(np.linalg.norm(grad)),
            "sigma_mean": float(self.sigma.mean()),
        }

    def state_arrays(self) -> dict[str, np.ndarray]:
        """mu, sigma and the optimiser's state, as named arrays."""
        arrays = {
            "es.mu": self.mean,
            "es.sigma": self.sigma.copy(),
            "es.lr": np.array(self.optimizer.lr),
        }
        for key, value in self.optimizer.state_arrays().items():
            arrays[f"es.opt.{key}"] = value
        return arrays

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_arrays`."""
        with torch.no_grad():
            self.mu.copy_(torch.as_tensor(np.asarray(arrays["es.mu"], dtype=np.float64)))
        self.sigma = np.asarray(arrays["es.sigma"], dtype=np.float64).copy()
        self.optimizer.lr = float(arrays["es.lr"])
        self.optimizer.load_state_arrays(
            {k[len("es.opt.") :]: v for k, v in arrays.items() if k.startswith("es.opt.")}
        )


def start_point(x0: Any) -> np.ndarray:
    """``x0`` as the search's first mean: a non-empty array of finite numbers, flattened.

    Raises:
        ConfigError: for anything else (None, an empty array, NaN), which the objective would
            otherwise be blamed for.
    """
    try:
        x = np.asarray(x0, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ConfigError(f"x0 must be an array of numbers, not {x0!r}") from None
    if x0 is None or x.size == 0 or not np.isfinite(x).all():
        raise ConfigError(f"x0 must be a non-empty array of finite numbers, not {x0!r}")
    return x


def maximize(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    iterations: int = 1000,
    config: ESConfig | None = None,
    seed: int = 0,
    tolerance: float | None = None,
) -> tuple[np.ndarray, float]:
    """Maximise ``f`` from ``x0``; returns the final mean and its score.

    Args:
        f: the objective, called on one candidate (a 1-D array) at a time.
        x0: the starting mean.
        iterations: iterations to run.
        config: hyperparameters.
        seed: seed of the perturbations.
        tolerance: stop early once ``f(mu)`` reaches this value.

    Raises:
        ConfigError: if ``f`` returns NaN (naming the candidate), or ``x0`` (not a non-empty
            array of finite numbers), ``iterations``, ``seed``, ``tolerance`` or a hyperparameter
            is invalid.
    """
    iterations = coerce("iterations", iterations, int)
    check_range("iterations", iterations, 1)
    seed = coerce("seed", seed, int)
    check_range("seed", seed, 0)
    if tolerance is not None:
        tolerance = coerce("tolerance", tolerance, float)
        check_range("tolerance", tolerance)
    es = EvolutionStrategy(x0, config, np.random.default_rng(seed))
    for _ in range(iterations):
        candidates = es.ask()
        es.tell(np.array([f(c) for c in candidates]))
        if tolerance is not None and f(es.mean) >= tolerance:
            break
    return es.mean, float(f(es.mean))


def minimize(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    iterations: int = 1000,
    config: ESConfig | None = None,
    seed: int = 0,
    tolerance: float | None = None,
) -> tuple[np.ndarray, float]:
    """Minimise ``f`` from ``x0`` (ES on -f); returns the final mean and ``f`` there.

    ``tolerance``: stop early once ``f(mu) <= tolerance``.
    """
    if tolerance is not None:
        tolerance = coerce("tolerance", tolerance, float)
    x, value = maximize(
        lambda x: -f(x), x0, iterations, config, seed, None if tolerance is None else -tolerance
    )
    return x, -value
