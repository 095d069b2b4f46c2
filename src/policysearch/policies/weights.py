"""A network's weights as one flat vector, and back: the one place where weights are laid out.

The order is ``torch.nn.utils.parameters_to_vector``'s. :func:`unflatten` is the inverse of
``parameters_to_vector`` for many candidates at once, in numpy, so that a sampling worker
rebuilds a population's weights without torch.
"""

from __future__ import annotations

import numpy as np
import torch

#: Names and shapes of a network's parameters, in ``parameters_to_vector`` order.
Layout = list[tuple[str, tuple[int, ...]]]


def layout_of(net: torch.nn.Module) -> Layout:
    """Names and shapes of the parameters, in ``parameters_to_vector`` order."""
    return [(name, tuple(p.shape)) for name, p in net.named_parameters()]


def flatten(net: torch.nn.Module) -> np.ndarray:
    """The network's weights as one float64 vector (``parameters_to_vector``)."""
    return torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy().astype(np.float64)


def unflatten(vectors: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """Flat weight vectors ``(C, n)`` as named arrays ``(C, *shape)``, for many candidates at once.

    >>> net = torch.nn.Linear(2, 1)
    >>> params = unflatten(flatten(net)[None], layout_of(net))
    >>> {name: value.shape for name, value in params.items()}
    {'weight': (1, 1, 2), 'bias': (1, 1)}
    """
    out, start = {}, 0
    for name, shape in layout:
        size = int(np.prod(shape))
        out[name] = vectors[:, start : start + size].reshape(len(vectors), *shape)
        start += size
    return out
