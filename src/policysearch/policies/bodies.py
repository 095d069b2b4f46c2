"""The bodies of neural policies: what turns an observation into features for the action head.

A policy is a body (:class:`Linear`, :class:`MLP`, :class:`GRU`) composed with a head
(categorical for Discrete actions, Gaussian for Box actions; see
:class:`~policysearch.policies.torch_policy.TorchPolicy` and
:class:`~policysearch.policies.numpy_policy.NumpyActor`). A body is one class in this module,
registered once in :data:`BODIES`: it builds its torch modules, runs its numpy forward pass (what
sampling workers run, without torch) and says which spaces it suits by default and the ES noise
that suits its weights. The ``--policy`` kinds, the ES ``sigma=auto`` table and the default
policy for the env's spaces all come from the registry.

Parameter names are the contract between the two forward passes and with stored checkpoints:
``layers.{i}.weight``/``bias`` for the feed-forward layers, ``gru.*`` as torch names them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym
import numpy as np

if TYPE_CHECKING:
    from .numpy_policy import NumpyActor
    from .spec import PolicySpec

#: Observation dimensions from which continuous control gets a linear default policy.
LINEAR_FROM = 10


class Body:
    """One kind of policy body. Subclasses set the class attributes and the four methods."""

    #: The ``--policy`` name.
    name: ClassVar[str]
    #: Carries a hidden state through each session.
    recurrent: ClassVar[bool] = False
    #: ES's ``sigma=auto`` for this body's weights (see :data:`~policysearch.algorithms.es.AUTO_SIGMA`).
    es_sigma: ClassVar[float]

    @staticmethod
    def hidden(hidden: tuple[int, ...]) -> tuple[int, ...]:
        """The hidden sizes this body uses of the configured ``hidden``."""
        return hidden

    @staticmethod
    def suits(observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> bool:
        """True if this body is the default for these spaces (asked in :data:`DEFAULT_ORDER`)."""
        return False

    def build(self, net: Any, spec: PolicySpec) -> int:
        """Add this body's torch modules to ``net``; returns the number of features it outputs."""
        raise NotImplementedError  # pragma: no cover - every registered body implements it

    def torch_forward(self, net: Any, x: Any) -> Any:
        """Features of ``x`` (``(B, obs_dim)``, or ``(T, N, obs_dim)`` for a recurrent body)."""
        raise NotImplementedError  # pragma: no cover

    def numpy_forward(self, actor: NumpyActor, x: np.ndarray, index: np.ndarray, cand: Any) -> np.ndarray:
        """Features of a batch ``x`` of sessions ``index`` (candidates ``cand``, or None for one net)."""
        raise NotImplementedError  # pragma: no cover


class MLP(Body):
    """Feed-forward layers (``hidden`` sizes) with ``tanh`` or ``relu`` between them."""

    name = "mlp"
    es_sigma = 0.1

    @staticmethod
    def suits(observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> bool:
        """The default for everything no other body claims."""
        return True

    def build(self, net: Any, spec: PolicySpec) -> int:
        """``layers``: one ``nn.Linear`` per hidden size."""
        from torch import nn

        features = spec.obs_dim
        net.layers = nn.ModuleList()
        for size in spec.hidden:
            net.layers.append(nn.Linear(features, size))
            features = size
        return features

    def torch_forward(self, net: Any, x: Any) -> Any:
        """Each layer, then the activation."""
        import torch

        act = torch.tanh if net.spec.activation == "tanh" else torch.relu
        for layer in net.layers:
            x = act(layer(x))
        return x

    def numpy_forward(self, actor: NumpyActor, x: np.ndarray, index: np.ndarray, cand: Any) -> np.ndarray:
        """Each layer, then the activation, as :meth:`torch_forward`."""
        i = 0
        while f"layers.{i}.weight" in actor.params:
            x = actor.activation(actor.linear(f"layers.{i}", x, cand))
            i += 1
        return x


class Linear(MLP):
    """No hidden layer: the head acts on the (normalised) observation itself, as in ARS."""

    name = "linear"
    es_sigma = 0.05  # a linear policy's weights map observations straight to actions

    @staticmethod
    def hidden(hidden: tuple[int, ...]) -> tuple[int, ...]:
        """None."""
        return ()

    @staticmethod
    def suits(observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> bool:
        """Continuous control with at least :data:`LINEAR_FROM` observations (MuJoCo locomotion).

        It solves them with far fewer weights to search, as in ARS; the low-dimensional tasks
        (pendulums, cars, landers: 2 to 8 observations) need an MLP's nonlinearity.
        """
        continuous = isinstance(action_space, gym.spaces.Box) and isinstance(
            observation_space, gym.spaces.Box
        )
        return continuous and gym.spaces.flatdim(observation_space) >= LINEAR_FROM


class GRU(Body):
    """One GRU layer (``hidden[0]`` units) for partially observed tasks: the lecture's recurrent policy."""

    name = "gru"
    recurrent = True
    es_sigma = 0.1

    @staticmethod
    def hidden(hidden: tuple[int, ...]) -> tuple[int, ...]:
        """The hidden state's size, ``hidden[0]``."""
        return hidden[:1]

    def build(self, net: Any, spec: PolicySpec) -> int:
        """``gru``: torch's GRU (an empty ``layers`` list first, as every body has one)."""
        from torch import nn

        net.layers = nn.ModuleList()
        net.gru = nn.GRU(spec.obs_dim, spec.hidden[0])
        return spec.hidden[0]

    def torch_forward(self, net: Any, x: Any) -> Any:
        """The GRU over ``(T, N, obs_dim)`` from a zero hidden state."""
        out, _ = net.gru(x)
        return out

    def numpy_forward(self, actor: NumpyActor, x: np.ndarray, index: np.ndarray, cand: Any) -> np.ndarray:
        """One GRU step per session, carrying each session's hidden state in the actor."""
        return actor.gru_step(x, np.asarray(index), cand)


#: The registered bodies, by ``--policy`` name.
BODIES: dict[str, Body] = {body.name: body for body in (Linear(), MLP(), GRU())}
#: The order in which bodies are asked whether they are the default for an env's spaces.
DEFAULT_ORDER = ("linear", "mlp")


def default_body(observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> str:
    """The body a neural policy gets when neither ``--policy`` nor a preset names one.

    >>> box = lambda n: gym.spaces.Box(-1.0, 1.0, (n,))
    >>> default_body(box(17), box(6)), default_body(box(3), box(1))
    ('linear', 'mlp')
    """
    return next(name for name in DEFAULT_ORDER if BODIES[name].suits(observation_space, action_space))
