"""What every algorithm over a neural policy shares: the spec, the seeded network, the normaliser.

:class:`WeightSearch` adds what the searches over flattened weights (ES, CMA-ES) share.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ..errors import ConfigError
from ..policies.bodies import BODIES, default_body
from ..policies.normalizer import RunningNormalizer
from ..policies.numpy_policy import NumpyActor
from ..policies.spec import NEURAL_KINDS, PolicySpec, check_neural_spaces, make_spec
from ..policies.torch_policy import TorchPolicy
from ..policies.weights import Layout, layout_of, unflatten
from ..sampling.session import Keep
from .base import Algorithm

#: Bytes a policy's parameter takes at least once built: the float32 network, and a float64
#: vector of its weights, which every algorithm over weights keeps (ES's and CEM's means, say).
BYTES_PER_PARAMETER = 12


def refuse_beyond_memory(spec: PolicySpec, policy: str) -> None:
    """Raise ConfigError, before the network is built, if the policy alone cannot fit in memory.

    Its parameters are counted on a network of no storage (torch's ``meta`` device). A batch
    that would not fit is refused later, once the network is made (the run's memory guard).
    """
    from ..run.guards import format_bytes, short_of_memory  # the guard's reading of the machine

    with torch.device("meta"):
        count = sum(p.numel() for p in TorchPolicy(spec).parameters())
    need = count * BYTES_PER_PARAMETER
    if (have := short_of_memory(need)) is not None:
        raise ConfigError(
            f"the {policy} policy has {count:,} parameters, which need at least {format_bytes(need)} "
            f"of memory ({BYTES_PER_PARAMETER} bytes each), but {format_bytes(have)} is available; "
            "ask for smaller hidden layers (--set hidden=[...])"
        )


class NeuralAlgorithm(Algorithm):
    """Base of CEM, ES, CMA-ES and ARS over linear, MLP, GRU and cnn policies.

    The config must have ``hidden``, ``activation`` and ``normalize_obs``; ``init_log_std`` and
    ``std_head`` (the Gaussian head's standard deviation: ``parameter`` or ``network``) are read
    when present.
    """

    policies = NEURAL_KINDS

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        config: Any,
        rng: np.random.Generator,
        policy: str = "mlp",
    ) -> None:
        super().__init__(observation_space, action_space, config, rng, policy)
        # Small networks run fastest on one thread; more threads spin against the sampling workers.
        torch.set_num_threads(1)
        if policy == "gru" and not config.hidden:
            raise ConfigError("hidden must name the GRU's hidden state size, e.g. hidden=[32]")
        self.spec = make_spec(
            observation_space,
            action_space,
            policy,
            config.hidden,
            config.activation,
            getattr(config, "std_head", "parameter"),
            getattr(config, "squash", "tanh"),
        )
        refuse_beyond_memory(self.spec, policy)
        with torch.random.fork_rng():
            torch.manual_seed(int(rng.integers(2**31)))
            self.net = TorchPolicy(self.spec, getattr(config, "init_log_std", 0.0))
        normalizes = config.normalize_obs and BODIES[policy].normalizes  # not pixels
        self.normalizer = RunningNormalizer(self.spec.obs_dim) if normalizes else None
        #: Virtual batch normalisation's reference batch (:meth:`set_reference`), or None.
        self.reference: np.ndarray | None = None

    @property
    def reference_frames(self) -> int:
        """Frames the reference batch of virtual batch normalisation should hold (0: none)."""
        return int(getattr(self.config, "reference_batch", 0))

    def set_reference(self, frames: np.ndarray) -> None:
        """Normalise the body's layers by their statistics over ``frames`` from now on.

        The run factory gathers them once, at the start of a run; checkpoints keep them.
        """
        self.reference = np.asarray(frames)
        self.net.set_reference(self.reference)

    @classmethod
    def check_spaces(
        cls, observation_space: gym.Space[Any], action_space: gym.Space[Any], policy: str
    ) -> None:
        """Box or Discrete (one-hot) observations; Discrete or bounded Box actions."""
        check_neural_spaces(observation_space, action_space, policy)

    @classmethod
    def default_policy(cls, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> str | None:
        """The first body of :data:`~policysearch.policies.bodies.DEFAULT_ORDER` that suits the spaces.

        Linear for continuous control with at least
        :data:`~policysearch.policies.bodies.LINEAR_FROM` observations (MuJoCo's locomotion
        tasks: 11 to 376), as in ARS; an MLP for the rest.

        A class that offers one body suggests it where its spaces suit, as any algorithm does
        (:meth:`~policysearch.algorithms.base.Algorithm.default_policy`).

        >>> box = lambda n: gym.spaces.Box(-1.0, 1.0, (n,))
        >>> NeuralAlgorithm.default_policy(box(17), box(6)), NeuralAlgorithm.default_policy(box(3), box(1))
        ('linear', 'mlp')
        """
        if len(cls.policies) == 1:
            return super().default_policy(observation_space, action_space)
        return default_body(observation_space, action_space)

    @functools.cached_property
    def layout(self) -> Layout:
        """Names and shapes of the network's parameters, in the order of the weight vector."""
        return layout_of(self.net)

    def vector_actor(self, vectors: np.ndarray, group: int = 1) -> NumpyActor:
        """An actor of weight vectors ``(C, n)``: candidate ``c`` plays sessions ``c * group`` on."""
        mean, std = self._norm()
        params = unflatten(np.asarray(vectors, dtype=np.float32), self.layout)
        return NumpyActor(
            self.spec, params, mean, std, group=group, deterministic=True, reference=self.reference
        )

    @property
    def keep(self) -> Keep:
        """A search over weights reads the returns, and the observation statistics when it normalises."""
        return "stats" if self.normalizer is not None else "returns"

    def _norm(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The normaliser's mean and standard deviation (None, None without normalisation)."""
        if self.normalizer is None:
            return None, None
        return self.normalizer.mean, self.normalizer.std


class WeightSearch(NeuralAlgorithm):
    """Base of ES, CMA-ES and ARS: a search distribution over the policy's flattened weights.

    A candidate is a weight vector (:mod:`~policysearch.policies.weights` lays it out), played
    deterministically; its score is the mean return of its sessions.
    """
