"""Environments: making them by id (with clear errors), and the project's own registered envs.

``ALE/...`` (Atari, through ale-py) and ``MinAtar/...`` ids import their package when asked for
(:mod:`.atari`, the ``atari`` extra); ALE's pixel envs get the standard preprocessing, Dict
and Tuple observations are flattened, and MultiDiscrete and MultiBinary actions played as one
Discrete over their combinations (:func:`make_env`).

Importing this package registers, under the ``policysearch/`` namespace:

- ``policysearch/CartPoleNoVelocity-v1``: CartPole-v1 without the velocities (partially observable).
- ``policysearch/Catch-v0``: catch the falling ball from 8x8 pixels (:mod:`.catch`), the smallest
  videogame, for the convolutional policy's checks.
- ``policysearch/BannerAds-v0`` and ``policysearch/BannerAdsRetention-v0``: the lecture's banner
  ads as a contextual bandit and as the clickbait MDP (see :mod:`policysearch.bandits.envs`).
"""

from __future__ import annotations

import gymnasium as gym

from .make import (
    DEFAULT_MAX_EPISODE_STEPS,
    MAX_JOINT_ACTIONS,
    BinaryObservations,
    EnvOptions,
    FlatActions,
    FlatObservations,
    JointActions,
    adapt_spaces,
    check_env_kwargs,
    close_env,
    env_action,
    env_call,
    episode_limit,
    make_env,
    outside,
    own_spaces,
    parse_env_kwargs,
    probe_env,
    random_frames,
    resolve_env_id,
    step_limit,
    survival_bonus,
    unjoin,
)

__all__ = [
    "DEFAULT_MAX_EPISODE_STEPS",
    "MAX_JOINT_ACTIONS",
    "BinaryObservations",
    "EnvOptions",
    "FlatActions",
    "FlatObservations",
    "JointActions",
    "adapt_spaces",
    "check_env_kwargs",
    "close_env",
    "env_action",
    "env_call",
    "episode_limit",
    "make_env",
    "outside",
    "own_spaces",
    "parse_env_kwargs",
    "probe_env",
    "random_frames",
    "resolve_env_id",
    "step_limit",
    "survival_bonus",
    "unjoin",
]


#: The project's own environments: id -> ``gymnasium.register``'s other arguments.
OWN_ENVS: dict[str, dict[str, object]] = {
    "policysearch/CartPoleNoVelocity-v1": {
        "entry_point": "policysearch.envs.partial:cartpole_no_velocity",
        "max_episode_steps": 500,
        "reward_threshold": 475.0,
    },
    "policysearch/Catch-v0": {
        "entry_point": "policysearch.envs.catch:CatchEnv",
        "max_episode_steps": 50,
        "reward_threshold": 0.9,
    },
    "policysearch/BannerAds-v0": {"entry_point": "policysearch.bandits.envs:BannerAdsEnv"},
    "policysearch/BannerAdsRetention-v0": {"entry_point": "policysearch.bandits.envs:BannerAdsRetentionEnv"},
}


def _register() -> None:
    for env_id, arguments in OWN_ENVS.items():
        if env_id not in gym.registry:
            gym.register(env_id, **arguments)  # type: ignore[arg-type]


_register()
