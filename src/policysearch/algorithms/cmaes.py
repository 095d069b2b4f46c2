"""CMA-ES as the search distribution over policy weights ("other P(theta) will work as well").

The library pycma does the work (the ``cma`` extra, which ``make run`` installs; else
``pip install cma==4.5.0``); this module only connects it: it names candidates, plays them
deterministically, and converts returns to pycma's minimisation at this one boundary. pycma samples
from numpy's global generator, which is seeded from the iteration's generator before every ``ask``,
so runs are reproducible and resumable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from ..config import check_range
from ..errors import ConfigError
from ..policies.base import Actor
from ..policies.spec import NEURAL_KINDS
from ..policies.weights import flatten
from ..sampling.session import Sessions
from .base import Request
from .neural import WeightSearch


@dataclass
class CMAESConfig:
    """Hyperparameters of CMA-ES policy search."""

    #: Candidates per iteration (0: pycma's default, 4 + 3 ln n).
    population: int = 0
    #: Initial step size.
    sigma: float = 0.5
    #: Episodes each candidate plays; its score is their mean return.
    episodes_per_candidate: int = 1
    #: Hidden layer sizes (mlp), or the hidden state size (gru: the first entry).
    hidden: tuple[int, ...] = (16,)
    #: Hidden activation.
    activation: Literal["tanh", "relu"] = "tanh"
    #: Normalise observations by running statistics of the population's rollouts.
    normalize_obs: bool = True
    #: Start from zero weights (pycma's habit) instead of the network's random initialisation.
    zero_init: bool = True

    def __post_init__(self) -> None:
        if self.population != 0:
            check_range("population", self.population, 2)
        check_range("sigma", self.sigma, 0, low_open=True)
        check_range("episodes_per_candidate", self.episodes_per_candidate, 1)
        for size in self.hidden:
            check_range("hidden", size, 1)


#: The most policy parameters cmaes takes. Its state holds two n x n float64 matrices (the
#: covariance C and its eigenbasis B), written to every checkpoint: 2,000 parameters are 64 MB a
#: checkpoint, and Humanoid-v5's linear policy (5,950) would be 566 MB an iteration.
MAX_PARAMETERS = 2000


class CMAES(WeightSearch):
    """CMA-ES (pycma) over the weights of a linear, MLP or GRU policy."""

    name = "cmaes"
    #: Not the cnn: a full covariance over a convolutional policy's weights (75 k on 8x8 frames,
    #: 0.68 M on Atari's) does not fit in memory; use es, or cem with search=weights.
    policies = tuple(kind for kind in NEURAL_KINDS if kind != "cnn")
    config_class = CMAESConfig
    config: CMAESConfig
    smoke_hyperparameters: ClassVar[dict[str, Any]] = {"population": 6, "hidden": [4]}

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        config: CMAESConfig,
        rng: np.random.Generator,
        policy: str = "linear",
    ) -> None:
        try:
            import cma
        except ImportError:
            raise ConfigError(
                "cmaes needs pycma, policysearch's 'cma' extra (make run installs it): pip install cma==4.5.0"
            ) from None
        super().__init__(observation_space, action_space, config, rng, policy)
        x0 = flatten(self.net)
        if x0.size > MAX_PARAMETERS:
            raise ConfigError(
                f"cmaes is not for this size: the {policy} policy has {x0.size:,} parameters, and "
                f"cmaes keeps two {x0.size:,} x {x0.size:,} matrices ({2 * 8 * x0.size**2 / 1e6:,.0f} MB, "
                f"written to every checkpoint); it takes at most {MAX_PARAMETERS:,}: use es or ars"
            )
        if config.zero_init:
            x0 = np.zeros_like(x0)
        # No selective mirrors (pycma's default below 6 candidates): they reuse the last
        # iteration's worst candidates, state that the checkpoint does not hold, so a resumed run
        # would part from the uninterrupted one. For the same reason the step size always
        # follows CSA, the rule the checkpoint holds (ps): from 300 parameters on pycma would
        # choose TPA, whose mean-shift directions for the next ask are not in it, and a resume
        # failed at its first ask.
        options: dict[str, Any] = {
            "verbose": -9,
            "seed": int(rng.integers(1, 2**31)),
            "CMA_mirrors": 0,
            "AdaptSigma": cma.sigma_adaptation.CMAAdaptSigmaCSA,
        }
        if config.population:
            options["popsize"] = config.population
        with _pycmas_numpy_rng(None):  # pycma seeds numpy's global generator with options["seed"]
            self.cma = cma.CMAEvolutionStrategy(x0, config.sigma, options)
        #: Numpy's global state as pycma's ask left it, for the tell that follows.
        self._numpy_state: Any = None

    def ask(self, rng: np.random.Generator) -> Request:
        """The candidates pycma asks for, each played ``episodes_per_candidate`` times."""
        with _pycmas_numpy_rng(int(rng.integers(2**31))):
            vectors = np.stack(self.cma.ask())
            self._numpy_state = np.random.get_state()  # noqa: NPY002 (tell goes on from here)
        k = self.config.episodes_per_candidate
        return Request(self.vector_actor(vectors, k), len(vectors), k, candidates={"vectors": vectors})

    def _tell(self, request: Request, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Hand pycma the candidates with their negated mean returns (it minimises)."""
        assert request.candidates is not None
        # --8<-- [start:tell]
        scores = request.scores(sessions.returns)
        with _pycmas_numpy_rng(self._numpy_state):
            self.cma.tell(list(request.candidates["vectors"]), list(-scores))
        # --8<-- [end:tell]
        return {"sigma": float(self.cma.sigma)}

    def greedy_actor(self) -> Actor:
        """Pycma's current mean, acting deterministically."""
        return self.vector_actor(np.asarray(self.cma.mean)[None])

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """Pycma's distribution (mean, step size, covariance, evolution paths)."""
        es = self.cma
        return {
            "cma.mean": np.array(es.mean),
            "cma.mean_old": np.array(getattr(es, "mean_old", es.mean)),
            "cma.sigma": np.array(es.sigma),
            "cma.C": np.array(es.sm.C),
            "cma.B": np.array(es.sm.B),
            "cma.D": np.array(es.sm.D),
            "cma.sm_counts": np.array([es.sm.last_update, es.sm.count_tell, es.sm.count_eigen]),
            "cma.pc": np.array(es.pc),
            "cma.ps": np.array(es.adapt_sigma.ps),
            "cma.countiter": np.array(es.countiter),
            "cma.countevals": np.array(es.countevals),
        }

    def _load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`_state_arrays` into a fresh pycma instance."""
        es = self.cma
        es.mean = np.array(arrays["cma.mean"], dtype=np.float64)
        es.mean_old = np.array(arrays["cma.mean_old"], dtype=np.float64)
        es.sigma = float(arrays["cma.sigma"])
        # The sampler's eigendecomposition is updated lazily: restore it as it was, not afresh.
        es.sm.C = np.array(arrays["cma.C"], dtype=np.float64)
        es.sm.B = np.array(arrays["cma.B"], dtype=np.float64)
        es.sm.D = np.array(arrays["cma.D"], dtype=np.float64)
        es.sm.last_update, es.sm.count_tell, es.sm.count_eigen = (int(v) for v in arrays["cma.sm_counts"])
        es.pc = np.array(arrays["cma.pc"], dtype=np.float64)
        es.adapt_sigma.ps = np.array(arrays["cma.ps"], dtype=np.float64)
        es.countiter = int(arrays["cma.countiter"])
        es.countevals = int(arrays["cma.countevals"])
        if es.countiter and not hasattr(es, "timer"):
            from cma import utilities

            es.timer = utilities.utils.ElapsedWCTime()


@contextlib.contextmanager
def _pycmas_numpy_rng(start: Any) -> Iterator[None]:
    """Numpy's global generator for pycma, which samples from it.

    It starts from ``start`` (a seed, or a state saved from it; None: as it is), and the caller's
    state is given back afterwards: training leaves the user's ``np.random`` as it found it.
    """
    state = np.random.get_state()  # noqa: NPY002
    try:
        if isinstance(start, int):
            np.random.seed(start)  # noqa: NPY002
        elif start is not None:
            np.random.set_state(start)  # noqa: NPY002
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002
