"""Make Gymnasium environments from an id, turning every failure into a one-line :class:`EnvError`."""

from __future__ import annotations

import importlib
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from ..errors import ENV_FAULTS, ConfigError, EnvError, PolicySearchError, closed_after, described, warn_user
from ..seeding import train_reset_seeds
from .atari import (
    MINATAR_MAX_EPISODE_STEPS,
    ReseedInPlace,
    ale_pixels,
    is_ale,
    is_minatar,
    own_step_limit,
    preprocess,
    preprocessing_skip,
    register_family,
)

#: Episode cap applied to environments without any time limit of their own (e.g. CliffWalking-v1),
#: so that neither training nor evaluation can loop forever.
DEFAULT_MAX_EPISODE_STEPS = 1000

#: Keyword arguments of ``gymnasium.make`` that policysearch sets itself (not the env's own).
RESERVED_KWARGS = ("render_mode", "disable_env_checker", "autoreset", "apply_api_compatibility", "id")


@dataclass(frozen=True)
class EnvOptions:
    """How a run makes its env besides the id: the env's own keyword arguments, the preprocessing.

    Picklable: a worker process or Ray actor makes its envs from the id and these.
    """

    #: The env's own keyword arguments (JSON values), as ``gymnasium.make(env_id, **kwargs)``
    #: takes them; ``max_episode_steps`` is ``gymnasium.make``'s time limit.
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: The standard Atari preprocessing on ALE pixel ids (False: the raw env).
    atari_preprocessing: bool = True

    def __hash__(self) -> int:
        return hash((json.dumps(self.kwargs, sort_keys=True), self.atari_preprocessing))

    @property
    def changes_dynamics(self) -> bool:
        """Whether the kwargs may change the env's dynamics or rewards (anything but its time limit).

        Runners that copy an env's dynamics (``sampling/vector.py``) step the real env then.
        """
        return any(key != "max_episode_steps" for key in self.kwargs)


def check_env_kwargs(kwargs: Any, what: str = "env_kwargs") -> dict[str, Any]:
    """``kwargs`` if they can be a run's env kwargs: a mapping of names to JSON values.

    Raises:
        ConfigError: naming what is wrong (not a mapping, a value JSON cannot hold, a name that
            policysearch sets itself, a time limit that is not a positive integer).
    """
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise ConfigError(f"{what} must be a mapping of keyword names to values, not {kwargs!r}")
    try:
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{what} must hold JSON values (numbers, strings, lists, mappings): {exc}"
        ) from None
    for key in kwargs:
        if key in RESERVED_KWARGS:
            raise ConfigError(f"{what}: {key!r} is set by policysearch itself, not an argument of the env")
    steps = kwargs.get("max_episode_steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ConfigError(f"{what}: max_episode_steps={steps!r} must be a positive integer")
    return kwargs


def parse_env_kwargs(text: str) -> dict[str, Any]:
    """The env kwargs of ``--env-kwargs JSON`` (a JSON object).

    Raises:
        ConfigError: for text that is not a JSON object, or kwargs :func:`check_env_kwargs` refuses.
    """
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--env-kwargs {text!r} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--env-kwargs {text!r} must be a JSON object, e.g. '{{\"healthy_reward\": 2}}'")
    return check_env_kwargs(value, "--env-kwargs")


def route_mujoco_warnings() -> None:
    """MuJoCo's own warnings become Python warnings (``MuJoCo: ...``) in this process.

    MuJoCo's default handler prints each warning with a blank line after it and appends it to a
    ``MUJOCO_LOG.TXT`` in the working directory: HalfCheetah's model (v4 and v5) uses a compiler
    attribute that MuJoCo (4.0.1 here) deprecates, so a run printed that 37 times with
    ``--workers 2`` and left the file behind. As a ``UserWarning`` it is shown like any other
    warning (the command line: one line, once per process), except while :func:`make_env` makes
    an env, which ignores what the env's construction warns (its model files are the env's: the
    user cannot act on them). What the simulation warns while it runs (an unstable state) is
    shown.

    The handler is MuJoCo's one per process, so it replaces any other: dm_control sets its own
    when it is imported, which is why :func:`make_env` sets this one again for every MuJoCo env
    it makes. It raises no exception: one inside MuJoCo's C code would abort the process, so a
    warning that cannot be issued as one (a filter that turns warnings into errors, a closed
    stderr) is written to stderr as a plain line, or dropped.
    """
    import mujoco

    def warn(message: str) -> None:
        try:
            warnings.warn(f"MuJoCo: {message}", UserWarning, stacklevel=2)
        except Exception:
            try:
                print(f"warning: MuJoCo: {message}", file=sys.stderr)
            except Exception:
                pass

    mujoco.set_mju_user_warning(warn)


def _uses_mujoco(spec: gym.envs.registration.EnvSpec) -> bool:
    """Whether making ``spec`` compiles a MuJoCo model (Gymnasium's MuJoCo tasks, dm_control).

    Also true once MuJoCo is imported at all, so that an env whose module imports it only when
    the env is made is routed from the next env on.
    """
    entry = spec.entry_point if isinstance(spec.entry_point, str) else ""
    return "mujoco" in entry or "dm_control" in entry or "mujoco" in sys.modules


def versioned_id(env_id: str) -> str:
    """``env_id`` with the version ``gymnasium.make`` gives it (``Hopper``: ``Hopper-v5``).

    An id without a version is its latest registered version, with a warning, as
    ``gymnasium.make`` does. A run keeps the versioned id, so that its folder, the env's preset
    and the evaluation protocol are those of the env it trains. Any other id is returned as given.

    Raises:
        EnvError: if the module of a ``"module:EnvName"`` id, or the package of an ALE or
            MinAtar id, cannot be imported.
    """
    module, sep, name = env_id.partition(":") if ":" in env_id else ("", "", env_id)
    try:
        namespace, base, version = gym.envs.registration.parse_env_id(name)
    except gym.error.Error:
        return env_id  # malformed: make_env names it
    if version is not None or not name.strip():
        return env_id
    resolve_env_id(env_id)
    register_family(name)
    latest = gym.envs.registration.find_highest_version(namespace, base)
    if name in gym.registry or latest is None:
        return env_id
    versioned = gym.envs.registration.get_env_id(namespace, base, latest)
    warn_user(f"{name!r} has no version: training its latest, {versioned!r}")
    return f"{module}{sep}{versioned}"


def resolve_env_id(env_id: str) -> str:
    """Import the module of a ``"module:EnvName-v0"`` id and return the bare id.

    Raises:
        EnvError: if the id is empty or the module cannot be imported.
    """
    if not env_id or not env_id.strip():
        raise EnvError("the environment id is empty")
    module, sep, name = env_id.partition(":")
    if not sep:
        return env_id
    try:
        with warnings.catch_warnings():
            # glfw, imported by dm_control (shimmy), warns on a machine without a display: only
            # rendering needs one (``record`` chooses EGL there)
            warnings.filterwarnings("ignore", message=".*DISPLAY environment variable is missing")
            importlib.import_module(module)
    except ImportError as exc:
        raise EnvError(f"cannot import module {module!r} for environment {env_id!r}: {exc}") from None
    except SyntaxError as exc:
        where = f"{exc.filename}, line {exc.lineno}" if exc.filename else module
        raise EnvError(
            f"cannot import module {module!r} for environment {env_id!r}: syntax error in {where}: {exc.msg}"
        ) from None
    except Exception as exc:  # the module's own code failed while it was imported
        raise EnvError(
            f"cannot import module {module!r} for environment {env_id!r}: it raised {described(exc)}"
        ) from None
    except SystemExit as exc:  # the module ran a script's sys.exit as it was imported
        raise EnvError(
            f"cannot import module {module!r} for environment {env_id!r}: it called sys.exit({exc.code!r}) "
            "as it was imported"
        ) from None
    return name


#: Wrappers that leave an env's dynamics, rewards and observations untouched (TimeLimit's limit
#: is read from the spec by whoever needs it).
PASSIVE_WRAPPERS = frozenset({"TimeLimit", "OrderEnforcing", "PassiveEnvChecker"})


def wrappers(env: gym.Env) -> list[gym.Wrapper]:
    """The wrappers around ``env``'s base env, outermost first."""
    out, layer = [], env
    while isinstance(layer, gym.Wrapper):
        out.append(layer)
        layer = layer.env
    return out


def only_passive_wrappers(env: gym.Env, allowed: frozenset[str] = frozenset()) -> bool:
    """True if every wrapper around ``env`` is passive (:data:`PASSIVE_WRAPPERS`) or ``allowed``."""
    return all(type(w).__name__ in PASSIVE_WRAPPERS | allowed for w in wrappers(env))


def close_env(env: gym.Env, env_id: str | None = None) -> None:
    """Close ``env``.

    Raises:
        EnvError: if the env raises in ``close`` (bad input, as anywhere else in an env).
    """
    try:
        env.close()
    except ENV_FAULTS as exc:
        name = env_id or (env.spec.id if env.spec is not None else type(env).__name__)
        raise EnvError(f"environment {name!r} raised in close: {described(exc)}") from exc


def env_call(env_id: str, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an env's ``method``, turning its failure into an :class:`EnvError` naming the call (``what``)."""
    try:
        return method(*args, **kwargs)
    except ENV_FAULTS as exc:
        raise EnvError(f"environment {env_id!r} raised in {what}: {described(exc)}") from exc


@contextmanager
def probe_env(env_id: str, options: EnvOptions | None = None) -> Iterator[gym.Env]:
    """An env made to read something off it (its limit, its spaces), closed on leaving the block.

    While an error leaves the block, the env's failure to close does not replace it.

    Raises:
        EnvError: as :func:`make_env`, and if the env raises in ``close`` (:func:`close_env`).
    """
    env = make_env(env_id, options=options)
    with closed_after(env, lambda: close_env(env, env_id)):
        yield env


def episode_limit(env_id: str, options: EnvOptions | None = None) -> int:
    """The most steps an episode of ``env_id`` (made by :func:`make_env`) can last.

    That is the env's own limit: its registered time limit, or the one it keeps itself (ALE's
    108,000 frames, in agent steps; a dm_control task's), else the cap :func:`make_env` applies
    to an env that has none at all (:data:`DEFAULT_MAX_EPISODE_STEPS`; MinAtar's games:
    :data:`~policysearch.envs.atari.MINATAR_MAX_EPISODE_STEPS`).

    Raises:
        EnvError: for an unknown id or an environment that fails to construct.
    """
    with probe_env(env_id, options) as env:
        return step_limit(env)


def step_limit(env: gym.Env) -> int:
    """The most agent steps an episode of ``env`` (made by :func:`make_env`) can last."""
    limits, skip = [], 1
    for layer in wrappers(env):  # outermost first: a frame skip below multiplies the limits there
        if isinstance(layer, gym.wrappers.TimeLimit):
            limits.append(math.ceil(layer._max_episode_steps / skip))
        elif isinstance(layer, gym.wrappers.AtariPreprocessing):
            skip *= int(layer.frame_skip)
    own = own_step_limit(env.unwrapped)
    if own is not None:
        limits.append(math.ceil(own / skip))
    return min(limits) if limits else DEFAULT_MAX_EPISODE_STEPS


def survival_bonus(env: gym.Env) -> float:
    """The reward per step that ``env`` pays for not falling, beside a reward for moving forward; else 0.

    Gymnasium's walkers (Hopper, Walker2d, Ant: 1; Humanoid: 5, with the user's
    ``healthy_reward`` where ``--env-kwargs`` gives one) pay a constant every step they stay
    healthy, which makes standing still a local optimum for a search over whole episodes; ARS
    takes it out of the scores (its ``shift``). An env whose bonus is all there is to earn
    (InvertedDoublePendulum: 10 a step, no forward reward) keeps it: surviving is its task, and
    without the bonus its steps would cost, so that ending early would pay.
    """
    base = env.unwrapped
    bonus = getattr(base, "_healthy_reward", None)
    forward = getattr(base, "_forward_reward_weight", None)
    if not isinstance(bonus, int | float) or not isinstance(forward, int | float) or not forward:
        return 0.0
    return float(bonus)


#: Probability that :func:`random_frames` keeps a step's observation (frames spread over episodes).
RANDOM_FRAME_KEEP = 0.05


#: Most combinations of a MultiDiscrete or MultiBinary action space played as one Discrete.
MAX_JOINT_ACTIONS = 4096


class JointActions(gym.ActionWrapper):
    """A MultiDiscrete or MultiBinary action space as one Discrete over its combinations.

    Action ``i`` of ``Discrete(prod(nvec))`` is the combination ``numpy.unravel_index(i, nvec)``
    (the last dial turning fastest, from each dial's ``start``); MultiBinary(n) is n dials of 2.
    Every policy and algorithm then plays it, the joint categorical able to prefer combinations
    that one head per dial could not. Up to :data:`MAX_JOINT_ACTIONS` combinations.

    Raises:
        EnvError: for more combinations than that.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.action_space
        assert isinstance(space, gym.spaces.MultiDiscrete | gym.spaces.MultiBinary)
        #: The env's own action space.
        self.own_space = space
        count = joint_actions(space)
        if count > MAX_JOINT_ACTIONS:
            env.close()
            raise EnvError(
                f"the action space {space} has {count:,} combinations: policysearch plays MultiDiscrete "
                f"and MultiBinary actions as one Discrete over their combinations, up to "
                f"{MAX_JOINT_ACTIONS:,} (wrap the env to take fewer)"
            )
        self.action_space = gym.spaces.Discrete(count)

    def action(self, action: Any) -> np.ndarray:
        """The env's action for joint action ``action``."""
        return env_action(self.own_space, action)


class FlatActions(gym.ActionWrapper):
    """A Box action space of other than one dimension, or of integers, as a flat Box of floats.

    The Gaussian head acts on vectors of floats; the env gets each action in its own shape
    (numpy's order) and dtype, rounded to the nearest integer for a Box of integers.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.action_space
        assert isinstance(space, gym.spaces.Box)
        #: The env's own action space.
        self.own_space = space
        dtype = space.dtype if space.dtype.kind == "f" else np.float32
        self.action_space = gym.spaces.Box(space.low.ravel(), space.high.ravel(), dtype=dtype)

    def action(self, action: Any) -> np.ndarray:
        """The env's action for the flat action ``action``."""
        return env_action(self.own_space, action)


#: Spaces of numbered values, whose observations are flattened one-hot (or taken as 0/1).
NUMBERED = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)


def leaf_spaces(space: gym.Space[Any]) -> Iterator[gym.Space[Any]]:
    """The spaces inside ``space`` that are not a Dict or a Tuple (``space`` itself if it is none)."""
    if isinstance(space, gym.spaces.Dict | gym.spaces.Tuple):
        parts = space.spaces.values() if isinstance(space, gym.spaces.Dict) else space.spaces
        for part in parts:
            yield from leaf_spaces(part)
    else:
        yield space


def outside(space: gym.Space[Any], value: Any) -> bool:
    """Whether ``value`` has a Discrete, MultiDiscrete or MultiBinary part out of its range.

    Those parts are flattened one-hot (or taken as 0/1), where a value out of range would be
    written into a neighbour's place, or wrap around, without an error. Box parts are not
    checked (values past a Box's bounds are taken, as everywhere); a wrong shape or a missing
    key is left to the flattening, which raises.
    """
    try:
        if isinstance(space, gym.spaces.Dict):
            return any(outside(part, value[key]) for key, part in space.spaces.items())
        if isinstance(space, gym.spaces.Tuple):
            return any(outside(part, item) for part, item in zip(space.spaces, value, strict=True))
        if isinstance(space, NUMBERED):
            x = np.asarray(value)
            if x.dtype.kind not in "biu" and not (x.dtype.kind == "f" and np.all(x == np.round(x))):
                return True
            if isinstance(space, gym.spaces.MultiBinary):
                return bool(np.any((x != 0) & (x != 1)))
            start = space.start
            top = start + (space.n if isinstance(space, gym.spaces.Discrete) else space.nvec)
            return bool(np.any(x < start) or np.any(x >= top))
    except (KeyError, TypeError, ValueError, IndexError):
        return False  # the flattening raises on it, naming it
    return False


def refuse_outside(space: gym.Space[Any], observation: Any) -> None:
    """Raise ValueError, naming the observation and ``space``, if it is :func:`outside` it."""
    if outside(space, observation):
        raise ValueError(f"observation {observation!r} is outside its space {space}")


class FlatObservations(gym.wrappers.FlattenObservation):
    """Gymnasium's ``FlattenObservation``, refusing values of Discrete parts out of their range.

    ``FlattenObservation`` writes such a value's one-hot bit into the next part's place, or
    wraps a value below a Discrete's start around, and trains on it silently; here the env's
    step or reset raises, naming the value and the space (the sampler's one-line error).
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._check = any(isinstance(part, NUMBERED) for part in leaf_spaces(env.observation_space))

    def observation(self, observation: Any) -> Any:
        """The flattened observation; ValueError for a Discrete part out of its range."""
        if self._check:
            refuse_outside(self.env.observation_space, observation)
        return super().observation(observation)


class BinaryObservations(gym.ObservationWrapper):
    """MultiBinary observations as the Box of 0 and 1 (``uint8``) of the same shape.

    The same numbers, so that a vector is fed as a vector and a 2-D or 3-D one as an image.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        shape = env.observation_space.shape
        assert isinstance(env.observation_space, gym.spaces.MultiBinary) and shape is not None
        self.observation_space = gym.spaces.Box(0, 1, shape, np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        """The observation as ``uint8``; ValueError for a value other than 0 and 1."""
        refuse_outside(self.env.observation_space, observation)
        return np.asarray(observation, dtype=np.uint8)


def adapt_spaces(env: gym.Env) -> gym.Env:
    """``env`` with spaces that every policy takes: observations a Box or Discrete, actions flat.

    Dict, Tuple and MultiDiscrete observations are flattened into one Box (Gymnasium's
    ``FlattenObservation``, a MultiDiscrete one-hot per dial, values out of range refused:
    :class:`FlatObservations`), MultiBinary ones kept as a Box of the same shape
    (:class:`BinaryObservations`); MultiDiscrete and MultiBinary actions are played as one
    Discrete over their combinations (:class:`JointActions`), a Box of actions of other than one
    dimension, or of integers, as a flat Box of floats (:class:`FlatActions`, which rounds to the
    integers). :func:`own_spaces` gives back the env's own.
    """
    observations = env.observation_space
    if isinstance(observations, gym.spaces.Dict | gym.spaces.Tuple | gym.spaces.MultiDiscrete):
        env = FlatObservations(env)
    elif isinstance(observations, gym.spaces.MultiBinary):
        env = BinaryObservations(env)
    actions = env.action_space
    if isinstance(actions, gym.spaces.MultiDiscrete | gym.spaces.MultiBinary):
        env = JointActions(env)
    elif isinstance(actions, gym.spaces.Box) and (len(actions.shape) != 1 or actions.dtype.kind in "iu"):
        env = FlatActions(env)
    return env


def own_spaces(env: gym.Env) -> tuple[gym.Space[Any] | None, gym.Space[Any] | None]:
    """The env's own observation and action spaces where :func:`adapt_spaces` changed them, else None."""
    observations = actions = None
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, FlatObservations | BinaryObservations):
            observations = layer.env.observation_space
        if isinstance(layer, JointActions | FlatActions):
            actions = layer.own_space
        layer = layer.env
    return observations, actions


def env_action(space: gym.Space[Any], action: Any) -> np.ndarray:
    """The env's own action (of ``space``) for the action a policy chose in the adapted space.

    A MultiDiscrete or MultiBinary ``space``: the combination numbered ``action``
    (:class:`JointActions`); a Box: ``action`` in the space's shape and dtype (rounded to the
    nearest integer within the bounds for a Box of integers).
    """
    if isinstance(space, gym.spaces.Box):
        action = np.asarray(action)
        if space.dtype.kind in "iu":  # the nearest integer, within the bounds
            action = np.clip(np.rint(action), space.low.ravel(), space.high.ravel())
        return action.astype(space.dtype).reshape(space.shape)
    assert isinstance(space, gym.spaces.MultiDiscrete | gym.spaces.MultiBinary)
    return unjoin(space, int(action))


def _dials(space: gym.spaces.MultiDiscrete | gym.spaces.MultiBinary) -> tuple[np.ndarray, np.ndarray]:
    """Each dial's positions and first position (MultiBinary: dials of 2 from 0), in the space's shape."""
    if isinstance(space, gym.spaces.MultiBinary):
        return np.full(space.shape, 2), np.zeros(space.shape, np.int64)
    return np.asarray(space.nvec), np.asarray(space.start)


def joint_actions(space: gym.spaces.MultiDiscrete | gym.spaces.MultiBinary) -> int:
    """The number of combinations of a MultiDiscrete or MultiBinary action space."""
    return int(np.prod(_dials(space)[0].astype(object)))  # exact, however many


def unjoin(space: gym.spaces.MultiDiscrete | gym.spaces.MultiBinary, index: int) -> np.ndarray:
    """The combination ``index`` of ``space`` (see :class:`JointActions`), as the space's own array."""
    nvec, start = _dials(space)
    dials = np.unravel_index(index, tuple(int(n) for n in nvec.ravel()))
    return (np.array(dials).reshape(nvec.shape) + start).astype(space.dtype)


def random_frames(env: gym.Env, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` observations met by a policy of uniformly random actions, as ``env`` gives them.

    Each step's observation is kept with probability :data:`RANDOM_FRAME_KEEP`, so that the
    frames come from many moments of many episodes (the reference batch of virtual batch
    normalisation, gathered so by Salimans et al., 2017). Reset seeds and actions come from
    ``rng``: the same generator gives the same frames.
    """
    env.action_space.seed(int(rng.integers(2**31)))
    frames: list[np.ndarray] = []
    obs, _ = env.reset(seed=int(train_reset_seeds(rng, 1)[0]))
    while len(frames) < n:
        if rng.random() < RANDOM_FRAME_KEEP:
            frames.append(np.array(obs))
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset(seed=int(train_reset_seeds(rng, 1)[0]))
    return np.stack(frames)


def make_env(
    env_id: str, max_episode_steps: int | None = None, options: EnvOptions | None = None, **kwargs: Any
) -> gym.Env:
    """``gymnasium.make`` with the env's own episode limit (or a cap), its preprocessing, clear errors.

    ``ALE/...`` and ``MinAtar/...`` ids import their package first (:mod:`.atari`); an ALE id
    with pixel observations gets the standard Atari preprocessing unless ``options`` turn it off.
    An env without any episode limit of its own is capped at :data:`DEFAULT_MAX_EPISODE_STEPS`
    steps (MinAtar's at :data:`~policysearch.envs.atari.MINATAR_MAX_EPISODE_STEPS`). Its spaces
    are adapted to what every policy takes (:func:`adapt_spaces`: Dict, Tuple, MultiDiscrete and
    MultiBinary observations as a Box, MultiDiscrete and MultiBinary actions as one Discrete over
    their combinations, a Box of actions of other than one dimension, or of integers, as a flat
    Box of floats).

    Args:
        env_id: anything ``gymnasium.make`` accepts, including ``"some.module:EnvName-v0"``.
        max_episode_steps: episode cap; default: the user's (``options``), else the env's own.
        options: the env's own keyword arguments and the preprocessing switch (a run's).
        **kwargs: passed to the environment's constructor by policysearch itself (``render_mode``).

    Raises:
        EnvError: for an unknown id or an environment that fails to construct, or refuses a
            keyword argument.
        ConfigError: for keyword arguments that policysearch itself sets, and for an option
            of policysearch's own envs out of range (``n_banners=99``).
    """
    options = options or EnvOptions()
    name = resolve_env_id(env_id)
    register_family(name)
    try:
        spec = gym.spec(name)
    except gym.error.Error as exc:
        raise EnvError(f"unknown environment {env_id!r}: {exc}") from None
    given = dict(options.kwargs)
    check_env_kwargs(given)
    user_steps = given.pop("max_episode_steps", None)
    steps = max_episode_steps or user_steps
    arguments = {**given, **kwargs}
    skip = None
    if is_ale(spec) and isinstance(arguments.get("frameskip"), list):
        arguments["frameskip"] = tuple(arguments["frameskip"])  # JSON's pair: ALE's stochastic skip
    if options.atari_preprocessing and ale_pixels(spec, arguments):
        skip = preprocessing_skip(arguments)
        arguments["frameskip"] = 1  # the preprocessing repeats each action itself
    with_kwargs = f" with env_kwargs {json.dumps(options.kwargs)}" if options.kwargs else ""
    try:
        if _uses_mujoco(spec):
            route_mujoco_warnings()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            # policysearch checks every observation and reward itself, as errors that name the
            # session and step (sampling/runner.py); the passive checker would only warn, once
            make_kwargs = {"disable_env_checker": True, **arguments}
            if skip is None:
                env = gym.make(name, max_episode_steps=steps, **make_kwargs)
                if is_minatar(spec):
                    env = ReseedInPlace(env)
            else:  # a time limit counts agent steps: it goes around the preprocessing
                env = preprocess(gym.make(name, max_episode_steps=-1, **make_kwargs), skip)
                steps = steps or spec.max_episode_steps
                if steps:
                    env = gym.wrappers.TimeLimit(env, int(steps))
            if not any(isinstance(w, gym.wrappers.TimeLimit) for w in wrappers(env)):
                if own_step_limit(env.unwrapped) is None:  # none at all: never an endless episode
                    cap = MINATAR_MAX_EPISODE_STEPS if is_minatar(spec) else DEFAULT_MAX_EPISODE_STEPS
                    env = gym.wrappers.TimeLimit(env, cap)
            return adapt_spaces(env)
    except gym.error.Error as exc:
        raise EnvError(f"cannot make environment {env_id!r}{with_kwargs}: {exc}") from None
    except PolicySearchError:
        raise  # the env's own validation (policysearch envs) already names the option
    except (TypeError, ValueError, ImportError) as exc:
        raise EnvError(f"cannot make environment {env_id!r}{with_kwargs}: {exc}") from None
    except ENV_FAULTS as exc:  # the env's constructor failed (or called sys.exit)
        raise EnvError(f"cannot make environment {env_id!r}{with_kwargs}: {described(exc)}") from None
