"""The options of a run: everything ``policysearch train`` accepts, validated on construction."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import check_range, coerce_fields
from ..envs.make import EnvOptions, check_env_kwargs, versioned_id
from ..errors import ConfigError
from ..seeding import MAX_EVAL_EPISODES

#: The contract's floor on evaluation episodes.
MIN_EVAL_EPISODES = 100
#: Sampling workers at most: a hundred times the "1000 CPUs" ES is said to scale to.
MAX_WORKERS = 100_000
#: Envs one worker steps side by side at most (a million took minutes and gigabytes to play ten
#: sessions; 16 is the default, 64 what a vectorised runner steps at once).
MAX_N_ENVS = 4096


@dataclass
class TrainOptions:
    """Everything ``policysearch train`` accepts; stored in the checkpoint for ``--resume``."""

    #: Algorithm name from the registry (``cem``).
    algorithm: str = "cem"
    #: Anything ``gymnasium.make`` accepts, including ``"module:EnvName-v0"``.
    env_id: str = ""
    #: Policy kind; None takes the env's preset's, else the algorithm's default for the spaces
    #: (tabular CEM for Discrete observations and actions; cnn for images; linear for Box actions
    #: with at least 10 observations; else mlp; ARS's only kind, linear, wherever it applies).
    policy: str | None = None
    #: Root seed: the same seed gives the same run.
    seed: int = 0
    #: Stop once the evaluation confirms this mean return.
    target: float | None = None
    #: Budget: total wall time of the run, in seconds.
    max_seconds: float | None = None
    #: Budget: total iterations of the run.
    max_iterations: int | None = None
    #: Episodes of the final evaluation (at least 100; default from the evaluation protocol:
    #: ``presets/evaluation.yml``, else 1000 for discrete observations, else 100).
    eval_episodes: int | None = None
    #: The run folder (default ``runs/<algo>-<env>-<seed>``).
    out: str | None = None
    #: Where sampling workers live.
    backend: Literal["local", "ray"] = "local"
    #: Ray address (``HOST:PORT`` or ``auto``) with ``backend="ray"``.
    address: str | None = None
    #: Parallel sampling workers.
    workers: int = 1
    #: Environments each worker steps side by side.
    n_envs: int = 16
    #: The algorithm's defaults only: no preset's policy or hyperparameters (the env's evaluation
    #: protocol stays).
    no_preset: bool = False
    #: Algorithm hyperparameters (validated by the algorithm's config class).
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    #: The env's own keyword arguments (JSON values), passed wherever the env is made
    #: (``--env-kwargs '{"healthy_reward": 2}'``); ``max_episode_steps`` is ``gymnasium.make``'s.
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    #: The standard Atari preprocessing on ALE pixel ids (84x84 gray, 4 frames stacked, frame
    #: skip 4, no-op starts); False gives the raw env (``--no-atari-preprocessing``).
    atari_preprocessing: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.out, os.PathLike):
            self.out = os.fspath(self.out)
        coerce_fields(self)  # made directly (the Python API's Trainer), not by from_mapping
        for name in ("hyperparameters", "env_kwargs"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise ConfigError(f"{name} must be a mapping of names to values, not {value!r}")
            setattr(self, name, dict(value or {}))
        for key in self.hyperparameters:
            if not isinstance(key, str):
                raise ConfigError(f"hyperparameter names are words, not {key!r}")
        if self.out is not None and not self.out.strip():
            raise ConfigError(
                "out is empty: give the run folder, or leave it out for runs/<algo>-<env>-<seed>"
            )
        check_range("seed", self.seed, 0)
        if self.env_id:
            self.env_id = versioned_id(self.env_id)  # "Hopper" trains Hopper-v5, as gymnasium.make
        check_env_kwargs(self.env_kwargs)
        if self.target is not None and not math.isfinite(self.target):
            raise ConfigError(f"target={self.target!r} must be a finite number")
        if self.max_seconds is not None:
            check_range("max_seconds", self.max_seconds, 0, low_open=True)
        if self.max_iterations is not None:
            check_range("max_iterations", self.max_iterations, 1)
        if self.eval_episodes is not None:
            check_range("eval_episodes", self.eval_episodes, MIN_EVAL_EPISODES, MAX_EVAL_EPISODES)
        check_range("workers", self.workers, 1, MAX_WORKERS)
        check_range("n_envs", self.n_envs, 1, MAX_N_ENVS)
        if self.backend == "ray":
            from ..sampling.raycluster import check_ray_options

            check_ray_options(self.address)
        elif self.address is not None:
            raise ConfigError("address is for backend='ray' (add --backend ray)")

    @property
    def env_options(self) -> EnvOptions:
        """How the run's envs are made besides the id (its env kwargs, the preprocessing switch)."""
        return EnvOptions(dict(self.env_kwargs), self.atari_preprocessing)

    def run_folder(self) -> Path:
        """The run folder, default ``runs/<algo>-<env>-<seed>``."""
        if self.out:
            return Path(self.out)
        env = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.env_id)
        return Path("runs") / f"{self.algorithm}-{env}-{self.seed}"
