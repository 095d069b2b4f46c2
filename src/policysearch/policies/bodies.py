"""The bodies of neural policies: what turns an observation into features for the action head.

A policy is a body (:class:`Linear`, :class:`MLP`, :class:`GRU`, :class:`CNN`) composed with a head
(categorical for Discrete actions, Gaussian for Box actions; see
:class:`~policysearch.policies.torch_policy.TorchPolicy` and
:class:`~policysearch.policies.numpy_policy.NumpyActor`). A body is one class in this module,
registered once in :data:`BODIES`: it builds its torch modules, runs its numpy forward pass (what
sampling workers run, without torch) and says which spaces it suits by default and the ES noise
that suits its weights. The ``--policy`` kinds, the ES ``sigma=auto`` table and the default
policy for the env's spaces all come from the registry.

Parameter names are the contract between the two forward passes and with stored checkpoints:
``layers.{i}.weight``/``bias`` for the feed-forward layers, ``gru.*`` as torch names them,
``convs.{i}.*`` for the convolutions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym
import numpy as np

if TYPE_CHECKING:
    from .numpy_policy import NumpyActor
    from .spec import PolicySpec

#: Added to a variance before virtual batch normalisation divides by its square root (as
#: ``torch.nn.BatchNorm2d``'s ``eps``).
VBN_EPSILON = 1e-5

#: Observation dimensions from which continuous control gets a linear default policy.
LINEAR_FROM = 10


class Body(ABC):
    """One kind of policy body. Subclasses set the class attributes and the three abstract methods."""

    #: The ``--policy`` name.
    name: ClassVar[str]
    #: Carries a hidden state through each session.
    recurrent: ClassVar[bool] = False
    #: What ES's ``auto`` hyperparameters are for this body's weights
    #: (:func:`~policysearch.algorithms.es.resolve_auto`): ``sigma``, ``learning_rate``,
    #: ``weight_decay`` and ``reference_batch`` (frames of virtual batch normalisation's reference
    #: batch; 0: the body has no layers to normalise).
    es_auto: ClassVar[dict[str, float]] = {
        "sigma": 0.1,
        "learning_rate": 0.05,
        "weight_decay": 0.0,
        "reference_batch": 0,
    }

    #: Observations are normalised by running statistics when the config asks (not for pixels).
    normalizes: ClassVar[bool] = True
    #: Hyperparameters of the neural policies this body does not read, each with why: one the
    #: user gives warns that it is ignored.
    ignores: ClassVar[dict[str, str]] = {}

    @staticmethod
    def hidden(hidden: tuple[int, ...], obs_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The hidden sizes this body uses, from the configured ``hidden`` and the observation shape."""
        return hidden

    @staticmethod
    def check(observation_space: gym.Space[Any]) -> str | None:
        """Why this body cannot take these observations (None if it can)."""
        return None

    @staticmethod
    def suits(observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> bool:
        """True if this body is the default for these spaces (asked in :data:`DEFAULT_ORDER`)."""
        return False

    @abstractmethod
    def build(self, net: Any, spec: PolicySpec) -> int:
        """Add this body's torch modules to ``net``; returns the number of features it outputs."""

    @abstractmethod
    def torch_forward(self, net: Any, x: Any) -> Any:
        """Features of ``x`` (``(B, obs_dim)``, or ``(T, N, obs_dim)`` for a recurrent body)."""

    def numpy_inputs(self, actor: NumpyActor, obs: np.ndarray) -> np.ndarray:
        """The observations as :meth:`numpy_forward` takes them: flat float rows, normalised.

        As :meth:`NumpyActor.preprocess <policysearch.policies.numpy_policy.NumpyActor.preprocess>`.
        """
        return actor.preprocess(obs)

    @abstractmethod
    def numpy_forward(self, actor: NumpyActor, x: np.ndarray, index: np.ndarray, cand: Any) -> np.ndarray:
        """Features of a batch ``x`` (:meth:`numpy_inputs`) of sessions ``index``.

        ``cand``: each row's candidate, or None for one net.
        """


class MLP(Body):
    """Feed-forward layers (``hidden`` sizes) with ``tanh`` or ``relu`` between them."""

    name = "mlp"

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
    ignores: ClassVar[dict[str, str]] = {
        "hidden": "it has no hidden layer",
        "activation": "it has no hidden layer",
    }
    #: Its weights map the observations straight to the actions: a smaller noise.
    es_auto: ClassVar[dict[str, float]] = {**Body.es_auto, "sigma": 0.05}

    @staticmethod
    def hidden(hidden: tuple[int, ...], obs_shape: tuple[int, ...]) -> tuple[int, ...]:
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
    ignores: ClassVar[dict[str, str]] = {"activation": "a GRU's gates have their own"}
    recurrent = True

    @staticmethod
    def hidden(hidden: tuple[int, ...], obs_shape: tuple[int, ...]) -> tuple[int, ...]:
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


def image_layout(shape: tuple[int, ...]) -> tuple[tuple[int, int, int], bool]:
    """``(height, width, channels)`` of an image observation, and whether its channels come first.

    Channels are the smallest dimension: first for Gymnasium's stacked frames ``(4, 84, 84)``,
    last for MinAtar's ``(10, 10, C)``; a 2-D frame has one channel.
    """
    if len(shape) == 2:
        return (shape[0], shape[1], 1), False
    first = shape[0] < shape[-1]
    h, w, c = (shape[1], shape[2], shape[0]) if first else shape
    return (h, w, c), first


def conv_architecture(shape: tuple[int, ...]) -> tuple[tuple[tuple[int, int, int], ...], int]:
    """The convolutions ``(channels, kernel, stride)`` and dense units of the cnn body for a frame.

    Frames of at least 36 pixels a side get the network Salimans et al. (2017) ran ES with on
    Atari (as Uber's ``ESAtariPolicy``): 16 8x8 filters of stride 4, 32 4x4 of stride 2, 256
    units. Smaller frames (MinAtar's 10x10, ``policysearch/Catch-v0``'s 8x8) get the body of
    MinAtar's own baselines: 16 3x3 filters of stride 1, 128 units. Each kernel is a multiple of
    its stride, as the numpy pass needs (:func:`space_to_depth`).
    """
    (h, w, _), _ = image_layout(shape)
    if min(h, w) >= 36:
        return ((16, 8, 4), (32, 4, 2)), 256
    return ((16, 3, 1),), 128


def space_to_depth(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Frames ``(B, H, W, C)`` as blocks ``(B, H', W', stride * stride * C)`` for a convolution.

    A ``kernel`` x ``kernel`` convolution of stride ``stride`` over ``x`` is then one of
    ``kernel // stride`` squared and stride 1 over the blocks (each block's channels ordered
    row, column, channel; the rows and columns that no window reaches are dropped). Its patches
    are the block grid's ``(kernel // stride)`` squared windows (:func:`_conv`): on 84x84x4
    frames 17 us a frame against 70 us for gathering every window of the frame itself. Kernels
    are multiples of their stride (:func:`conv_architecture`).
    """
    if kernel % stride:
        raise ValueError(f"a convolution's kernel ({kernel}) must be a multiple of its stride ({stride})")
    if stride == 1:
        return x
    n, h, w, c = x.shape
    blocks = kernel // stride
    hb, wb = (h - kernel) // stride + blocks, (w - kernel) // stride + blocks
    x = x[:, : hb * stride, : wb * stride]
    return x.reshape(n, hb, stride, wb, stride, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, hb, wb, -1)


def patch_grid(blocks_shape: tuple[int, ...], kernel: int, stride: int) -> tuple[int, int, int]:
    """The output rows and columns of a convolution over blocks ``(B, H', W', C')``, and its kernel.

    The kernel over the blocks is ``kernel // stride``; one patch per output pixel.
    """
    blocks = kernel // stride
    return blocks_shape[1] - blocks + 1, blocks_shape[2] - blocks + 1, blocks


def _filters(actor: NumpyActor, name: str, stride: int) -> np.ndarray:
    """The actor's ``name`` filters ``(candidates, out, C, k, k)`` in the order of :func:`_conv`'s patches.

    That is ``(candidates, out, k', k', stride, stride, C)`` with ``k' = k // stride``, flattened to
    ``(candidates, out, -1)``; built once per actor.
    """
    key = f"{name}.weight:blocks"
    if key not in actor.derived:
        w = actor.params[f"{name}.weight"]
        cands, out, c, k, _ = w.shape
        blocks = w.reshape(cands, out, c, k // stride, stride, k // stride, stride)
        ordered = blocks.transpose(0, 1, 3, 5, 4, 6, 2)
        actor.derived[key] = np.ascontiguousarray(ordered).reshape(cands, out, -1)
    return actor.derived[key]


def _conv(actor: NumpyActor, name: str, z: np.ndarray, kernel: int, stride: int, cand: Any) -> np.ndarray:
    """A convolution of the blocks ``z`` (:func:`space_to_depth`) to ``(B, H', W', out)``.

    With the actor's ``name`` weights, channels last as every layer of the numpy pass. Its patches
    are the block grid's ``(kernel // stride)`` squared windows (:func:`patch_grid`), copied at once.

    The patches of each frame are multiplied in one BLAS call of the same shape per frame, so a
    frame's features do not depend on the other frames of the batch (see ``_rows_matmul``). With
    candidates, each frame's filters are gathered (2.3 KB a frame on MinAtar, up to 147 KB on the
    Nature-DQN body) and the frames multiplied in one stacked call, each by its own candidate's
    filters, in the same layout as one candidate's.
    """
    w, b = _filters(actor, name, stride), actor.params[f"{name}.bias"]
    n = len(z)
    ho, wo, blocks = patch_grid(z.shape, kernel, stride)
    # every patch at once, (n, ho, wo, c, blocks, blocks), in one copy to (n, ho, wo, blocks,
    # blocks, c): on a busy core 2.6 us a frame on MinAtar against 6.7 for a copy per shift
    windows = np.lib.stride_tricks.sliding_window_view(z, (blocks, blocks), axis=(1, 2))
    patches = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3), dtype=np.float32)
    patches = patches.reshape(n, ho * wo, -1)
    if cand is None:
        out = patches @ w[0].T
        out += b[0]
    else:
        out = patches @ w[cand].transpose(0, 2, 1)
        out += b[cand][:, None, :]
    return out.reshape(n, ho, wo, -1)


#: Bytes of the first convolution's patches that the numpy pass makes at a time
#: (:meth:`CNN.numpy_forward`), so that they stay in a core's cache: 5 frames of 84x84 (400 KB
#: each; on Salimans et al.'s body, 16 frames of 8 candidates took 364 us a frame at once and
#: 253 us 4 at a time), a whole batch of MinAtar's (9 KB a frame, where each call's overhead
#: counts: 4 frames at a time made it slower).
CONV_BYTES = 2 * 2**20


class CNN(Body):
    """Convolutions and one dense layer, with ReLU, for image observations (:func:`conv_architecture`).

    Pixels are scaled to [0, 1] (``uint8``) and not normalised by running statistics.
    """

    name = "cnn"
    ignores: ClassVar[dict[str, str]] = {
        "hidden": "its layers follow the frame size",
        "activation": "its layers use ReLU",
    }
    normalizes = False
    #: ES on Atari as Salimans et al. (2017): noise 0.02 (as Uber's deep-neuroevolution too),
    #: Adam's step 0.01 with L2 0.005, virtual batch normalisation. At ``learning_rate`` 0.05 the
    #: first steps took a MinAtar network to one action in every state.
    es_auto: ClassVar[dict[str, float]] = {
        "sigma": 0.02,
        "learning_rate": 0.01,
        "weight_decay": 0.005,
        "reference_batch": 64,
    }

    @staticmethod
    def hidden(hidden: tuple[int, ...], obs_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The dense units that follow the frame size (:func:`conv_architecture`)."""
        return (conv_architecture(obs_shape)[1],)

    @staticmethod
    def check(observation_space: gym.Space[Any]) -> str | None:
        """Images only: a Box of 3 dimensions (frames with channels), or 2 of ``uint8``/``bool``."""
        shape = getattr(observation_space, "shape", None) or ()
        image = isinstance(observation_space, gym.spaces.Box) and (
            len(shape) == 3 or (len(shape) == 2 and observation_space.dtype in (np.uint8, np.bool_))
        )
        if not image or min(image_layout(tuple(shape))[0][:2]) < 3:
            return (
                "--policy cnn needs image observations (a Box of shape (H, W, C) or (C, H, W)), "
                f"not {observation_space}"
            )
        return None

    @staticmethod
    def suits(observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> bool:
        """Image observations."""
        return CNN.check(observation_space) is None

    def build(self, net: Any, spec: PolicySpec) -> int:
        """``convs`` (``nn.Conv2d``) and ``layers`` (one ``nn.Linear``)."""
        from torch import nn

        (h, w, c), _ = image_layout(spec.obs_shape)
        net.convs = nn.ModuleList()
        for channels, kernel, stride in conv_architecture(spec.obs_shape)[0]:
            net.convs.append(nn.Conv2d(c, channels, kernel, stride))
            c, h, w = channels, (h - kernel) // stride + 1, (w - kernel) // stride + 1
        net.layers = nn.ModuleList([nn.Linear(c * h * w, spec.hidden[0])])
        return spec.hidden[0]

    def torch_forward(self, net: Any, x: Any) -> Any:
        """The frames ``(B, obs_dim)`` as images, through each convolution and the dense layer.

        With a reference batch (``net.reference``), each layer is normalised by its statistics
        over those frames first (virtual batch normalisation, as :meth:`NumpyActor.normalize`).
        """
        reference = getattr(net, "reference", None)
        if reference is None:
            return self._torch_layers(net, x, None)
        stats: list[Any] = []
        self._torch_layers(net, reference, stats)
        return self._torch_layers(net, x, iter(stats))

    @staticmethod
    def _torch_layers(net: Any, x: Any, stats: Any) -> Any:
        """The layers; ``stats`` None (no normalisation), a list to fill, or an iterator to read."""
        import torch

        def normalize(z: Any) -> Any:
            if stats is None:
                return z
            if isinstance(stats, list):
                axes = (0, *range(2, z.ndim))
                mean = z.mean(dim=axes)
                std = torch.sqrt(z.var(dim=axes, unbiased=False) + VBN_EPSILON)
                stats.append((mean, std))
            else:
                mean, std = next(stats)
            shape = (1, -1) + (1,) * (z.ndim - 2)
            return (z - mean.reshape(shape)) / std.reshape(shape)

        spec = net.spec
        (h, w, c), first = image_layout(spec.obs_shape)
        x = x.reshape(len(x), c, h, w) if first else x.reshape(len(x), h, w, c).permute(0, 3, 1, 2)
        for conv in net.convs:
            x = torch.relu(normalize(conv(x)))
        return torch.relu(normalize(net.layers[0](x.reshape(len(x), -1))))

    def numpy_inputs(self, actor: NumpyActor, obs: np.ndarray) -> np.ndarray:
        """The frames channels last, as blocks for the first convolution (:func:`space_to_depth`).

        They are scaled to float32 after the blocks are made: a copy of ``uint8`` pixels is several
        times cheaper than of floats (measured on 84x84x4 frames: 6 us against 53 us a frame). An
        actor given normalisation statistics (training never gives pixels any) normalises first.
        """
        spec = actor.spec
        (h, w, c), first = image_layout(spec.obs_shape)
        scale = spec.obs_scale
        x = np.asarray(obs)
        if actor.obs_mean is not None:
            x, scale = actor.preprocess(x), 1.0
        x = x.reshape(len(x), c, h, w).transpose(0, 2, 3, 1) if first else x.reshape(len(x), h, w, c)
        _, kernel, stride = conv_architecture(spec.obs_shape)[0][0]
        z = space_to_depth(x, kernel, stride).astype(np.float32, order="C")
        if scale != 1.0:
            z *= np.float32(scale)
        return z

    def numpy_forward(self, actor: NumpyActor, x: np.ndarray, index: np.ndarray, cand: Any) -> np.ndarray:
        """As :meth:`torch_forward`, in numpy, channels last.

        The dense layer reads the features in torch's order (channel, row, column). The
        convolutions take a few frames at a time (:data:`CONV_BYTES`), so that their patches stay
        in the core's cache (each frame is computed alone: the result is the same), but the
        reference batch all at once (its statistics are over all its frames).
        """
        convs = conv_architecture(actor.spec.obs_shape)[0]
        ho, wo, blocks = patch_grid(x.shape, *convs[0][1:])
        patch_bytes = 4 * ho * wo * blocks * blocks * x.shape[-1]
        chunk = max(1, len(x) if actor.collecting else CONV_BYTES // patch_bytes)
        features = np.empty((len(x), actor.params["layers.0.weight"].shape[-1]), dtype=np.float32)
        for lo in range(0, len(x), chunk):
            rows = slice(lo, lo + chunk)
            z = self._numpy_convs(actor, convs, x[rows], None if cand is None else cand[rows])
            features[rows] = z.transpose(0, 3, 1, 2).reshape(len(z), -1)
        dense = actor.linear("layers.0", features, cand)
        return np.maximum(actor.normalize("layers.0", dense, cand), 0, out=dense)

    @staticmethod
    def _numpy_convs(
        actor: NumpyActor, convs: tuple[tuple[int, int, int], ...], x: np.ndarray, cand: Any
    ) -> np.ndarray:
        """The convolutions ``convs`` (:func:`conv_architecture`), each with its normalisation and ReLU.

        The result is ``(B, H', W', channels)``.

        ``x``: the first convolution's blocks, which :meth:`numpy_inputs` makes from the pixels in
        their own dtype; each later convolution makes its blocks from the layer before.
        """
        for i, (_, kernel, stride) in enumerate(convs):
            name = f"convs.{i}"
            z = x if i == 0 else space_to_depth(x, kernel, stride)
            x = actor.normalize(name, _conv(actor, name, z, kernel, stride, cand), cand)
            np.maximum(x, 0, out=x)
        return x


#: The registered bodies, by ``--policy`` name.
BODIES: dict[str, Body] = {body.name: body for body in (Linear(), MLP(), GRU(), CNN())}
#: The order in which bodies are asked whether they are the default for an env's spaces.
DEFAULT_ORDER = ("cnn", "linear", "mlp")


def default_body(observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> str:
    """The body a neural policy gets when neither ``--policy`` nor a preset names one.

    >>> box = lambda n: gym.spaces.Box(-1.0, 1.0, (n,))
    >>> default_body(box(17), box(6)), default_body(box(3), box(1))
    ('linear', 'mlp')
    >>> default_body(gym.spaces.Box(0, 255, (84, 84, 4), np.uint8), gym.spaces.Discrete(6))
    'cnn'

    """
    return next(name for name in DEFAULT_ORDER if BODIES[name].suits(observation_space, action_space))
