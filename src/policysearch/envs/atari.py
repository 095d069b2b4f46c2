"""Atari through ale-py and MinAtar through minatar: their ids, the standard preprocessing, limits.

Both packages are optional (``pip install -e ".[atari]"``) and imported only when an id asks for
them: ``ALE/...`` imports ale-py, whose wheel ships the ROMs and registers ``ALE/<Game>-v5``
(nothing is downloaded at run time); ``MinAtar/...`` imports minatar and calls
``minatar.gym.register_envs()``, which Gymnasium 1.x no longer does through the package's entry
point.

An ALE id with pixel observations gets the preprocessing that Stable-Baselines3's
``make_atari_env`` users expect: Gymnasium's ``AtariPreprocessing`` on a frameskip-1 base (up to
30 no-op actions at reset, each action repeated on 4 frames with the last two max-pooled, 84x84
grayscale), then the last 4 frames stacked on the last axis: ``Box(0, 255, (84, 84, 4), uint8)``.
The base keeps ALE v5's sticky actions (``repeat_action_probability=0.25``), in training and in
evaluation alike. Rewards are the game's score (no clipping) and a lost life does not end the
episode, so that returns are scores.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import gymnasium as gym
import numpy as np

from ..errors import ConfigError, EnvError

#: ``AtariPreprocessing``'s settings for the standard preprocessing (besides its frame skip).
SCREEN_SIZE = 84
NOOP_MAX = 30
#: Frames an agent's action is repeated on, by default.
FRAME_SKIP = 4
#: Frames stacked into one observation (on the last axis).
FRAME_STACK = 4
#: MinAtar's games have no episode limit of their own (Freeway ends itself after 2,500 steps):
#: they are capped at the ALE's limit in agent steps (108,000 frames with a frame skip of 4).
MINATAR_MAX_EPISODE_STEPS = 27_000

_ALE_ENTRY_POINT = "ale_py.env:AtariEnv"
_MINATAR_ENTRY_POINT = "minatar.gym:BaseEnv"
_EXTRA = "pip install -e '.[atari]'"


def register_family(name: str) -> None:
    """Import the package that registers ``name``'s namespace (ALE, MinAtar), if it is one of them.

    Raises:
        EnvError: if the package is not installed.
    """
    namespace = name.partition("/")[0] if "/" in name else ""
    if namespace == "ALE":
        ale_py = _import("ale_py", "ale-py", name)
        # ALE's banner (its version, "Powered by Stella") on stderr from every env and process
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    elif namespace == "MinAtar":
        minatar_gym = _import("minatar.gym", "minatar", name)
        if "MinAtar/Breakout-v1" not in gym.registry:
            minatar_gym.register_envs()


#: How the optional packages are imported (a test replaces it to see a missing one).
_import_module = importlib.import_module


def _import(module: str, package: str, env_id: str) -> Any:
    try:
        return _import_module(module)
    except ImportError as exc:
        raise EnvError(
            f"environment {env_id!r} needs the {package} package, which is not installed ({exc}): {_EXTRA}"
        ) from None


def is_ale(spec: gym.envs.registration.EnvSpec) -> bool:
    """Whether ``spec`` is an ale-py Atari env."""
    return spec.entry_point == _ALE_ENTRY_POINT


def is_minatar(spec: gym.envs.registration.EnvSpec) -> bool:
    """Whether ``spec`` is a MinAtar game."""
    return spec.entry_point == _MINATAR_ENTRY_POINT


def ale_pixels(spec: gym.envs.registration.EnvSpec, kwargs: dict[str, Any]) -> bool:
    """Whether an ALE env made with ``kwargs`` observes the screen (not its RAM)."""
    obs_type = {**spec.kwargs, **kwargs}.get("obs_type", "rgb")
    return is_ale(spec) and obs_type in ("rgb", "grayscale")


def preprocessing_skip(kwargs: dict[str, Any]) -> int:
    """The preprocessing's frame skip: the user's ``frameskip`` (the env's own argument), else 4.

    With the preprocessing the base env steps one frame at a time, and the wrapper repeats each
    action on this many frames.

    Raises:
        ConfigError: for a ``frameskip`` that is not a positive integer (ALE's stochastic frame
            skip, a pair, is the raw env's: add ``--no-atari-preprocessing``).
    """
    skip = kwargs.get("frameskip", FRAME_SKIP)
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 1:
        raise ConfigError(
            f"env_kwargs frameskip={skip!r}: with the Atari preprocessing, the frame skip is a "
            f"positive integer (a stochastic frame skip needs the raw env: add --no-atari-preprocessing)"
        )
    return skip


def preprocess(env: gym.Env, frame_skip: int) -> gym.Env:
    """The standard Atari preprocessing around an ALE env made with ``frameskip=1``."""
    try:
        import cv2  # noqa: F401  (AtariPreprocessing's resize)
    except ImportError:
        raise EnvError(f"the Atari preprocessing needs opencv-python-headless: {_EXTRA}") from None
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=NOOP_MAX,
        frame_skip=frame_skip,
        screen_size=SCREEN_SIZE,
        terminal_on_life_loss=False,
        grayscale_obs=True,
        scale_obs=False,
    )
    return StackFrames(env, FRAME_STACK)


class StackFrames(gym.Wrapper[np.ndarray, Any, np.ndarray, Any]):
    """The last ``n`` observations stacked on a new last axis (``(84, 84)`` frames -> ``(84, 84, n)``).

    At reset the stack holds ``n`` copies of the first frame (Gymnasium's
    ``FrameStackObservation`` pads the same way, on the first axis).
    """

    def __init__(self, env: gym.Env, n: int) -> None:
        super().__init__(env)
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)
        self.n = n
        self.observation_space = gym.spaces.Box(
            np.repeat(space.low[..., None], n, axis=-1),
            np.repeat(space.high[..., None], n, axis=-1),
            dtype=space.dtype,
        )
        self.frames = np.zeros(self.observation_space.shape, dtype=space.dtype)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Reset the env; the stack is its first frame, ``n`` times."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.frames[...] = np.asarray(obs)[..., None]
        return self.frames.copy(), info

    def step(self, action: Any) -> Any:
        """Step the env; its frame goes last, the oldest one out."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames[..., :-1] = self.frames[..., 1:]
        self.frames[..., -1] = obs
        return self.frames.copy(), reward, terminated, truncated, info


class ReseedInPlace(gym.Wrapper[Any, Any, Any, Any]):
    """A MinAtar game reset with a seed reseeds its random state in place, with the same numbers.

    MinAtar's ``reset(seed=s)`` builds a new ``numpy.random.RandomState(s)`` for the game (its
    sticky actions and the game's own draws). Building one first seeds a generator from the
    operating system's entropy and then reseeds it with ``s``: about 90 us, most of a MinAtar
    reset and more than ten of its steps. ``RandomState.seed(s)`` on the game's existing state
    gives the same stream of numbers (the legacy seeding of the same generator, its cached
    Gaussian cleared) in about 1.5 us. The sampler resets every session with its own seed.

    A seeded reset also forgets the last action, which MinAtar's reset keeps: with sticky actions
    the first step may repeat it, so an env that played another episode before would start this
    one differently from a new env. The episode of a seed is then the same in every env slot,
    worker and process (a resumed run's new envs, ``evaluate``'s).
    """

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Reseed the game as MinAtar's ``seed`` does, without a new state, as a new env; then reset it."""
        if seed is not None:
            game = self.env.unwrapped.game  # type: ignore[attr-defined]
            game.random.seed(seed)
            game.env.random = game.random  # as minatar.Environment.seed links them
            game.last_action = 0  # as minatar.Environment.__init__ leaves it
        return self.env.reset(options=options)


def own_step_limit(base: Any) -> int | None:
    """Steps after which ``base`` (an unwrapped env) ends an episode by itself, if it does.

    ALE truncates after ``max_num_frames_per_episode`` frames (108,000 in v5, with a frame skip
    of 4: 27,000 steps); a dm_control task through shimmy after its own time limit; an env of
    policysearch's own that says so with ``own_step_limit`` (the clickbait MDP's ``max_visits``).
    """
    own = getattr(base, "own_step_limit", None)
    if type(base).__module__.startswith("policysearch.") and isinstance(own, int):
        return own
    ale = getattr(base, "ale", None)
    if ale is not None and type(base).__module__.startswith("ale_py"):
        frames = int(ale.getInt("max_num_frames_per_episode"))
        if frames <= 0:
            return None
        skip = getattr(base, "_frameskip", 1)
        least = min(skip) if isinstance(skip, tuple | list) else int(skip)
        return math.ceil(frames / max(1, least))
    if type(base).__module__.startswith("shimmy"):
        limit = getattr(getattr(base, "_env", None), "_step_limit", None)
        if isinstance(limit, int | float) and math.isfinite(limit) and limit > 0:
            return math.ceil(limit)
    return None
