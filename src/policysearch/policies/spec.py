"""What a neural policy looks like, independent of torch: built from the env's spaces.

The same :class:`PolicySpec` builds the torch module that is fitted
(:mod:`policysearch.policies.torch_policy`) and the numpy actor that samples
(:mod:`policysearch.policies.numpy_policy`), so sampling workers never import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from ..errors import EnvError
from .bodies import BODIES

#: The neural policy kinds (``--policy``): the registered bodies.
NEURAL_KINDS = tuple(BODIES)


@dataclass(frozen=True)
class PolicySpec:
    """Shape of a neural policy.

    Attributes:
        kind: the body, a name of :data:`~policysearch.policies.bodies.BODIES` (``linear``,
            ``mlp``, ``gru``).
        obs_dim: size of the network's input.
        obs_discrete: observations are Discrete indices, fed one-hot.
        obs_shape: shape of one observation as the env gives it.
        action: ``categorical`` (Discrete actions) or ``gaussian`` (Box actions).
        act_dim: number of actions (categorical) or action dimensions (gaussian).
        act_start: the Discrete action space's ``start``.
        hidden: hidden layer sizes (mlp) or the hidden state size (gru, one entry).
        activation: ``tanh`` or ``relu``.
        std_head: ``parameter`` (state-independent log std) or ``network`` (an output of the net).
        low: lower action bounds (gaussian).
        high: upper action bounds (gaussian).
        obs_scale: factor applied to observations that are not normalised (for ``uint8``, 1 over the
            space's top, 255 where its tops differ: pixels as [0, 1]); normalised ones are centred
            and scaled by the raw observations' statistics.
        squash: how a Gaussian head's output becomes the mean action within the bounds: ``tanh``
            (``center + half * tanh(out)``) or ``clip`` (``clip(out, low, high)``: ARS's linear
            policy, whose action inside the bounds is exactly ``M x``).
        obs_start: the Discrete observation space's ``start`` (the state fed as one-hot entry 0).
    """

    kind: str
    obs_dim: int
    obs_discrete: bool
    obs_shape: tuple[int, ...]
    action: Literal["categorical", "gaussian"]
    act_dim: int
    act_start: int = 0
    hidden: tuple[int, ...] = (64, 64)
    activation: Literal["tanh", "relu"] = "tanh"
    std_head: Literal["parameter", "network"] = "parameter"
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    obs_scale: float = 1.0
    squash: Literal["tanh", "clip"] = "tanh"
    obs_start: int = 0

    @property
    def recurrent(self) -> bool:
        """True for GRU policies, which carry a hidden state through each session."""
        return BODIES[self.kind].recurrent

    @property
    def head_dim(self) -> int:
        """Outputs of the last layer."""
        gaussian_net = self.action == "gaussian" and self.std_head == "network"
        return 2 * self.act_dim if gaussian_net else self.act_dim


def center_half(spec: PolicySpec) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian head's action bounds as their centre and half-width (float32).

    Computed in float64 from the float32 bounds: the same numbers as float32 arithmetic gives,
    except that bounds near float32's largest (``Box(-3.4e38, 3.4e38)``) do not overflow to inf.
    """
    low = np.array(spec.low, np.float32).astype(np.float64)
    high = np.array(spec.high, np.float32).astype(np.float64)
    return ((high + low) / 2).astype(np.float32), ((high - low) / 2).astype(np.float32)


def check_neural_spaces(observation_space: gym.Space[Any], action_space: gym.Space[Any], kind: str) -> None:
    """Raise :class:`EnvError` unless a neural policy can act in these spaces."""
    if not isinstance(observation_space, gym.spaces.Box | gym.spaces.Discrete):
        raise EnvError(f"--policy {kind} needs a Box or Discrete observation space, not {observation_space}")
    problem = BODIES[kind].check(observation_space) if kind in BODIES else None
    if problem is not None:
        raise EnvError(problem)
    if isinstance(action_space, gym.spaces.Discrete):
        return
    if not isinstance(action_space, gym.spaces.Box):
        raise EnvError(f"--policy {kind} needs a Discrete or Box action space, not {action_space}")
    if len(action_space.shape) != 1:
        raise EnvError(
            f"--policy {kind} needs a Box action space of one dimension, not {action_space} "
            "(wrap the env to take a flat action, e.g. with gymnasium.wrappers.TransformAction)"
        )
    if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
        raise EnvError(
            f"the action space {action_space} has infinite bounds; the Gaussian policy needs finite "
            "bounds (wrap the env with gymnasium.wrappers.ClipAction or RescaleAction)"
        )


def make_spec(
    observation_space: gym.Space[Any],
    action_space: gym.Space[Any],
    kind: str,
    hidden: tuple[int, ...],
    activation: str,
    std_head: str,
    squash: str = "tanh",
) -> PolicySpec:
    """The spec of a ``kind`` policy for these (checked) spaces (``squash``: see :class:`PolicySpec`)."""
    check_neural_spaces(observation_space, action_space, kind)
    shape: tuple[int, ...] = ()
    obs_start = 0
    if isinstance(observation_space, gym.spaces.Discrete):
        obs_dim, discrete, obs_start = int(observation_space.n), True, int(observation_space.start)
    else:
        shape = tuple(observation_space.shape or ())
        obs_dim, discrete = int(np.prod(shape)), False
    hidden = BODIES[kind].hidden(hidden, shape)
    scale = 1.0
    if isinstance(observation_space, gym.spaces.Box) and observation_space.dtype == np.uint8:
        # pixels as [0, 1]: by the space's own top where it has one (a 0/1 image), else 255
        tops = np.unique(np.asarray(observation_space.high))
        scale = 1.0 / float(tops[0]) if tops.size == 1 and tops[0] > 0 else 1.0 / 255.0
    if isinstance(action_space, gym.spaces.Discrete):
        return PolicySpec(
            kind,
            obs_dim,
            discrete,
            shape,
            "categorical",
            int(action_space.n),
            int(action_space.start),
            hidden,
            activation,  # type: ignore[arg-type]
            obs_scale=scale,
            obs_start=obs_start,
        )
    assert isinstance(action_space, gym.spaces.Box)
    return PolicySpec(
        kind,
        obs_dim,
        discrete,
        shape,
        "gaussian",
        int(np.prod(action_space.shape)),
        0,
        hidden,
        activation,  # type: ignore[arg-type]
        std_head,  # type: ignore[arg-type]
        tuple(float(x) for x in action_space.low.ravel()),
        tuple(float(x) for x in action_space.high.ravel()),
        scale,
        squash,  # type: ignore[arg-type]
        obs_start,
    )
