"""Small environments for tests, registered on import (``--env testenvs:Name-v0``)."""

from typing import ClassVar

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
    that steps while the file exists dies (every worker lost). ``$POLICYSEARCH_TEST_SEGFAULT_ONCE``:
    as KILL_ONCE, by a real segmentation fault (a read of address 0).
    ``$POLICYSEARCH_TEST_HANG_STEP_ONCE`` and ``$POLICYSEARCH_TEST_HANG_RESET_ONCE``: the first
    process to step (or reset) after the file appears removes it, writes its process id to the
    file's name with ``.pid`` added, and hangs there for an hour (a simulator that stops answering).
    """

    def __init__(self):
        super().__init__(gym.make("CartPole-v1").unwrapped)

    @staticmethod
    def _hang_once(variable: str) -> None:
        import os
        import time

        flag = os.environ.get(variable)
        if flag:
            try:
                os.unlink(flag)
            except FileNotFoundError:
                return
            with open(f"{flag}.pid.tmp", "w") as f:  # which process hangs, for a test to signal it
                f.write(str(os.getpid()))
            os.replace(f"{flag}.pid.tmp", f"{flag}.pid")
            time.sleep(3600)

    def reset(self, **kwargs):
        self._hang_once("POLICYSEARCH_TEST_HANG_RESET_ONCE")
        return self.env.reset(**kwargs)

    def step(self, action):
        import os
        import signal

        self._hang_once("POLICYSEARCH_TEST_HANG_STEP_ONCE")

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
        segfault = os.environ.get("POLICYSEARCH_TEST_SEGFAULT_ONCE")
        if segfault:
            try:
                os.unlink(segfault)
            except FileNotFoundError:
                pass
            else:
                import ctypes

                ctypes.string_at(0)
        return self.env.step(action)


gym.register("DyingCartPole-v1", entry_point=Dying, max_episode_steps=200)


# -- envs that fail in one place each (the fault corpus, tests/test_fault_corpus.py) -----------


class Fine(gym.Env):
    """A well-behaved base: Box(2) observations, two actions, episodes of up to 10 steps."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)
    render_mode = "rgb_array"
    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, render_mode=None):
        self.t = 0

    def obs(self):
        return np.zeros(2, np.float32)

    def reward(self):
        return 1.0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.obs(), {}

    def step(self, action):
        self.t += 1
        return self.obs(), self.reward(), False, False, {}

    def render(self):
        return np.zeros((8, 8, 3), np.uint8)


class RaisingInit(Fine):
    def __init__(self, render_mode=None):
        raise RuntimeError("no licence for the simulator")


class RaisingReset(Fine):
    def reset(self, *, seed=None, options=None):
        raise RuntimeError("the simulator would not start")


class RaisingClose(Fine):
    def close(self):
        raise RuntimeError("the simulator would not shut down")


class ExitingInit(Fine):
    """An env whose constructor ends the process its own way (a script's ``sys.exit``)."""

    def __init__(self, render_mode=None):
        raise SystemExit(4)


class ExitingStep(Fine):
    def step(self, action):
        raise SystemExit(3)


class Unprintable(Exception):
    """An error whose message cannot be read: its ``__str__`` raises."""

    def __str__(self):
        raise RuntimeError("str fails")


class UnprintableError(Fine):
    def step(self, action):
        raise Unprintable()


class OldApiReset(Fine):
    def reset(self, *, seed=None, options=None):
        return self.obs()


class OldApiStep(Fine):
    def step(self, action):
        return self.obs(), 1.0, False, {}


class StringReward(Fine):
    def reward(self):
        return "one"


class InfReward(Fine):
    def reward(self):
        return float("inf") if self.t == 4 else 1.0


class HugeReward(Fine):
    def reward(self):
        return 1e308


class NaNObs(Fine):
    def obs(self):
        return np.full(2, np.nan if self.t == 3 else 0.0, np.float32)


class NaNObsReset(Fine):
    def obs(self):
        return np.full(2, np.nan, np.float32)


class WrongShapeReset(Fine):
    def obs(self):
        return np.zeros(3, np.float32)


class WrongShapeStep(Fine):
    def obs(self):
        return np.zeros(3 if self.t == 5 else 2, np.float32)


class DiscreteOutOfRange(Fine):
    observation_space = gym.spaces.Discrete(3)

    def obs(self):
        return 7 if self.t == 2 else 0


class RaisingRender(Fine):
    def render(self):
        raise RuntimeError("no display")


class HugeTable(Fine):
    observation_space = gym.spaces.Discrete(10**12)

    def obs(self):
        return 0


class Slow(Fine):
    """Sleeps 2 ms a step: a run that lasts long enough to be signalled or locked."""

    def step(self, action):
        import time

        time.sleep(0.002)
        return super().step(action)


class SlowRender(Fine):
    """Renders in 10 ms: a video of its 1000-step episodes takes long enough to be signalled."""

    def render(self):
        import time

        time.sleep(0.01)
        return super().render()


for _cls in (
    Fine,
    RaisingInit,
    RaisingReset,
    RaisingClose,
    ExitingInit,
    ExitingStep,
    UnprintableError,
    OldApiReset,
    OldApiStep,
    StringReward,
    InfReward,
    HugeReward,
    NaNObs,
    NaNObsReset,
    WrongShapeReset,
    WrongShapeStep,
    DiscreteOutOfRange,
    RaisingRender,
    HugeTable,
    Slow,
):
    gym.register(f"{_cls.__name__}-v0", entry_point=_cls, max_episode_steps=10)
gym.register("SlowRender-v0", entry_point=SlowRender, max_episode_steps=1000)


# -- observation spaces and seeds (tests/test_envs.py) -------------------------------------------


class DictObs(gym.Env):
    """Dict observations (a position and a flag); a reward of 1 for the action equal to the flag.

    The flag alone decides the reward: a policy that reads it from the flattened observation
    earns 10 an episode, one that guesses about 5.
    """

    observation_space = gym.spaces.Dict(
        {
            "flag": gym.spaces.Discrete(2),
            "position": gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
        }
    )
    action_space = gym.spaces.Discrete(2)

    def draw(self):
        return {
            "flag": int(self.np_random.integers(2)),
            "position": self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32),
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.draw()
        return self.state, {}

    def step(self, action):
        reward = float(int(action) == self.state["flag"])
        self.state = self.draw()
        return self.state, reward, False, False, {}


class NeedsSmallSeeds(Fine):
    """Resets through ``numpy.random.RandomState``, as MinAtar and dm_control do: seeds above
    2**32 - 1 are refused, and every reset seed is written to ``$POLICYSEARCH_TEST_SEEDS``."""

    def reset(self, *, seed=None, options=None):
        import os

        np.random.RandomState(seed)  # ValueError: Seed must be between 0 and 2**32 - 1
        log = os.environ.get("POLICYSEARCH_TEST_SEEDS")
        if log and seed is not None:
            with open(log, "a") as f:
                f.write(f"{seed}\n")
        return super().reset(seed=seed, options=options)


class FailsInEvaluation(Fine):
    """Raises in reset with an evaluation's seed (2**31 and above) while the file named by
    ``$POLICYSEARCH_TEST_FAIL_EVALUATION`` exists: training works, the final evaluation fails."""

    def reset(self, *, seed=None, options=None):
        import os

        flag = os.environ.get("POLICYSEARCH_TEST_FAIL_EVALUATION")
        if seed is not None and seed >= 2**31 and flag and os.path.exists(flag):
            raise RuntimeError("the simulator's licence server is down")
        return super().reset(seed=seed, options=options)


gym.register("DictObs-v0", entry_point=DictObs, max_episode_steps=10)
gym.register("NeedsSmallSeeds-v0", entry_point=NeedsSmallSeeds, max_episode_steps=10)
gym.register("FailsInEvaluation-v0", entry_point=FailsInEvaluation, max_episode_steps=10)


class LongPixels(gym.Env):
    """Atari-sized frames, ``(84, 84, 4)`` uint8, for an Atari-length episode: 27,000 steps.

    Frames change every step (a rolling window over a fixed random strip, so that stepping is
    cheap); the reward is 1 when the action is 0. For checking that sampling holds no frames it
    does not need.
    """

    observation_space = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
    action_space = gym.spaces.Discrete(4)

    def __init__(self) -> None:
        self._strip = np.random.default_rng(0).integers(0, 256, (84 + 64, 84, 4), dtype=np.uint8)
        self._t = 0

    def _frame(self) -> np.ndarray:
        start = self._t % 64
        return self._strip[start : start + 84].copy()

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return self._frame(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._t += 1
        return self._frame(), float(action == 0), False, False, {}


gym.register("LongPixels-v0", entry_point=LongPixels, max_episode_steps=27_000)


# -- MultiDiscrete and MultiBinary actions (tests/test_envs.py) ---------------------------------


class Buttons(gym.Env):
    """Two dials of 3 positions (the second numbered from 1); the observation shows the target
    positions, and an action that sets both dials to them earns 1. Ten steps an episode."""

    observation_space = gym.spaces.Box(0.0, 3.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.MultiDiscrete([3, 3], start=[0, 1])

    def draw(self):
        return self.np_random.integers(0, 3, 2) + self.action_space.start

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.target = self.draw()
        return self.target.astype(np.float32), {}

    def step(self, action):
        if not self.action_space.contains(np.asarray(action, self.action_space.dtype)):
            raise ValueError(f"{action!r} is not an action of {self.action_space}")
        reward = float(np.array_equal(np.asarray(action), self.target))
        self.target = self.draw()
        return self.target.astype(np.float32), reward, False, False, {}


class Switches(Buttons):
    """Three switches (MultiBinary): set them as the observation shows to earn 1."""

    observation_space = gym.spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
    action_space = gym.spaces.MultiBinary(3)

    def draw(self):
        return self.np_random.integers(0, 2, 3)


class ManyButtons(Buttons):
    """Eight dials of 10 positions: 10**8 combinations."""

    observation_space = gym.spaces.Box(0.0, 9.0, shape=(8,), dtype=np.float32)
    action_space = gym.spaces.MultiDiscrete([10] * 8)

    def draw(self):
        return self.np_random.integers(0, 10, 8)


for _cls in (Buttons, Switches, ManyButtons):
    gym.register(f"{_cls.__name__}-v0", entry_point=_cls, max_episode_steps=10)


# -- other spaces that make_env adapts (tests/test_envs.py) ---------------------------------------


class Dials(gym.Env):
    """Observations of two dials (MultiDiscrete, the second numbered from 1); the action that
    names the first dial's position earns 1. Ten steps an episode."""

    observation_space = gym.spaces.MultiDiscrete([3, 3], start=[0, 1])
    action_space = gym.spaces.Discrete(3)

    def draw(self):
        return self.observation_space.start + self.np_random.integers(0, 3, 2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.draw()
        return self.state.astype(self.observation_space.dtype), {}

    def step(self, action):
        reward = float(int(action) == self.answer())
        self.state = self.draw()
        return self.state.astype(self.observation_space.dtype), reward, False, False, {}

    def answer(self):
        return int(self.state[0])


class Lamps(Dials):
    """Three lamps (MultiBinary); the action that names the first lit lamp (3 for none) earns 1."""

    observation_space = gym.spaces.MultiBinary(3)
    action_space = gym.spaces.Discrete(4)

    def draw(self):
        return self.np_random.integers(0, 2, 3).astype(np.int8)

    def answer(self):
        lit = np.flatnonzero(self.state)
        return int(lit[0]) if lit.size else 3


class Rooms(Dials):
    """Rooms numbered 5 to 8 (Discrete with a start); going right (1) from an odd room earns 1."""

    observation_space = gym.spaces.Discrete(4, start=5)
    action_space = gym.spaces.Discrete(2)

    def draw(self):
        return 5 + int(self.np_random.integers(0, 4))

    def reset(self, *, seed=None, options=None):
        gym.Env.reset(self, seed=seed)
        self.state = self.draw()
        return self.state, {}

    def step(self, action):
        reward = float(int(action) == self.state % 2)
        self.state = self.draw()
        return self.state, reward, False, False, {}


class Steering(gym.Env):
    """A 2x2 Box of actions; the reward is minus its squared distance to a matrix that the
    observation (two numbers) sets. Ten steps an episode."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(2, 2), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self.x, {}

    def target(self):
        return np.array([[self.x[0], -self.x[1]], [0.5, 0.5 * self.x[0]]], dtype=np.float32)

    def step(self, action):
        action = np.asarray(action)
        if action.shape != (2, 2):
            raise ValueError(f"an action of shape (2, 2) was expected, got {action.shape}")
        reward = -float(np.sum((action - self.target()) ** 2))
        self.x = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self.x, reward, False, False, {}


class WrongDials(Dials):
    """Dials whose fourth observation puts the first dial at 3, past its positions 0-2."""

    def draw(self):
        self.drawn = getattr(self, "drawn", 0) + 1
        return np.array([3, 1]) if self.drawn == 4 else super().draw()


for _cls in (Dials, Lamps, Rooms, Steering, WrongDials):
    gym.register(f"{_cls.__name__}-v0", entry_point=_cls, max_episode_steps=10)
