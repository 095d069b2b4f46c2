"""The actor protocol: how a sampler asks a policy for actions, in batches."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Actor(Protocol):
    """Maps a batch of observations to a batch of actions.

    A sampler owns all randomness: an actor that samples its actions declares how many random
    numbers it consumes per step (``noise_dim``) and of which kind (``noise_kind``), and receives
    them. This keeps results independent of how sessions are spread over envs and workers.

    Attributes:
        noise_dim: random numbers needed per step and session (0 for a deterministic actor).
        noise_kind: ``"uniform"`` on [0, 1) or ``"normal"`` (standard).
    """

    noise_dim: int
    noise_kind: Literal["uniform", "normal"]

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Actions for ``obs``.

        Args:
            obs: ``(B, *obs_shape)`` observations.
            index: ``(B,)`` index of each session within the sampled batch (lets an actor play a
                different candidate policy in different sessions).
            noise: ``(B, noise_dim)`` random numbers, or None when ``noise_dim`` is 0.
        """
        ...


def start_sessions(actor: Actor, index: np.ndarray) -> None:
    """Tell ``actor`` that sessions ``index`` begin, if it keeps per-session state (a GRU)."""
    start = getattr(actor, "start", None)
    if start is not None:
        start(index)
