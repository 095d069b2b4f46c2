"""A partially observable task: CartPole with the velocities removed from the observation.

Registered as ``policysearch/CartPoleNoVelocity-v1``: the agent sees the cart position and the pole
angle only, so a memoryless policy cannot tell which way the pole is moving; a recurrent policy
(``--policy gru``) can infer it from the last observations.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class HideVelocity(gym.ObservationWrapper[np.ndarray, Any, np.ndarray]):
    """Keeps only the observation entries ``keep`` (CartPole: 0 = cart position, 2 = pole angle).

    Args:
        env: the environment.
        keep: indices of the observation to keep.
    """

    def __init__(self, env: gym.Env[np.ndarray, Any], keep: tuple[int, ...] = (0, 2)) -> None:
        super().__init__(env)
        self.keep = tuple(keep)
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)
        self.observation_space = gym.spaces.Box(
            space.low[list(self.keep)], space.high[list(self.keep)], dtype=np.float32
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """The kept entries."""
        return np.asarray(observation, dtype=np.float32)[list(self.keep)]


def cartpole_no_velocity(**kwargs: Any) -> gym.Env[np.ndarray, Any]:
    """CartPole-v1 observing position and angle only."""
    return HideVelocity(CartPoleEnv(**kwargs))
