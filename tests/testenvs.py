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


class BoxObsUnboundedAction(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


class NaNRewardBox(gym.Env):
    """Returns a NaN reward at the 7th step of every episode."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), float("nan") if self.t == 7 else 1.0, False, False, {}


class Exploding(gym.Env):
    """Works for 300 steps of a process, then raises inside step."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)
    steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        Exploding.steps += 1
        if Exploding.steps > 300:
            raise RuntimeError("the simulator exploded")
        return np.zeros(2, np.float32), float(action), False, False, {}


gym.register("BoxObsUnboundedAction-v0", entry_point=BoxObsUnboundedAction, max_episode_steps=5)
gym.register("NaNRewardBox-v0", entry_point=NaNRewardBox, max_episode_steps=20)
gym.register("Exploding-v0", entry_point=Exploding, max_episode_steps=10)


class Dying(gym.Wrapper):
    """CartPole whose process SIGKILLs itself in ``step`` when a flag file exists.

    ``$POLICYSEARCH_TEST_KILL_ONCE``: the first process to step after the file appears removes
    it and dies (one worker killed mid-share). ``$POLICYSEARCH_TEST_KILL_ALWAYS``: every process
    that steps while the file exists dies (every worker lost).
    """

    def __init__(self):
        super().__init__(gym.make("CartPole-v1").unwrapped)

    def step(self, action):
        import os
        import signal

        once = os.environ.get("POLICYSEARCH_TEST_KILL_ONCE")
        always = os.environ.get("POLICYSEARCH_TEST_KILL_ALWAYS")
        if always and os.path.exists(always):
            os.kill(os.getpid(), signal.SIGKILL)
        if once:
            try:
                os.unlink(once)
            except FileNotFoundError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return self.env.step(action)


gym.register("DyingCartPole-v1", entry_point=Dying, max_episode_steps=200)
