"""Small environments for tests, registered on import (``--env testenvs:Name-v0``)."""

import gymnasium as gym
import numpy as np


class DiscreteObsBoxAction(gym.Env):
    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        return 0, 0.0, True, False, {}


gym.register("DiscreteObsBoxAction-v0", entry_point=DiscreteObsBoxAction, max_episode_steps=5)
