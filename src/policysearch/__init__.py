"""policysearch: direct (gradient-free) policy search for reinforcement learning.

The crossentropy method and evolution strategies over Gymnasium environments, from the command
line (``policysearch train cem --env Taxi-v4``) or from Python (``CEM("Taxi-v4").train()``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import CEM, Agent
from .errors import CheckpointError, ConfigError, EnvError, PolicySearchError
from .trainer import Trainer, TrainOptions

__all__ = [
    "CEM",
    "Agent",
    "CheckpointError",
    "ConfigError",
    "EnvError",
    "PolicySearchError",
    "TrainOptions",
    "Trainer",
    "__version__",
]
