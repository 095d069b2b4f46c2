"""Make Gymnasium environments from an id, turning every failure into a one-line :class:`EnvError`."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import gymnasium as gym

from ..errors import EnvError, PolicySearchError

#: Episode cap applied to environments registered without a time limit (e.g. CliffWalking-v1),
#: so that neither training nor evaluation can loop forever.
DEFAULT_MAX_EPISODE_STEPS = 1000


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
            f"cannot import module {module!r} for environment {env_id!r}: "
            f"it raised {type(exc).__name__}: {exc}"
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


def episode_limit(env_id: str) -> int:
    """The episode cap :func:`make_env` applies to ``env_id`` (its own time limit, else the default).

    Raises:
        EnvError: for an unknown id.
    """
    name = resolve_env_id(env_id)
    try:
        spec = gym.spec(name)
    except gym.error.Error as exc:
        raise EnvError(f"unknown environment {env_id!r}: {exc}") from None
    return int(spec.max_episode_steps or DEFAULT_MAX_EPISODE_STEPS)


def make_env(env_id: str, max_episode_steps: int | None = None, **kwargs: Any) -> gym.Env:
    """``gymnasium.make`` with a guaranteed time limit and clear errors.

    Args:
        env_id: anything ``gymnasium.make`` accepts, including ``"some.module:EnvName-v0"``.
        max_episode_steps: episode cap; default: the env's own, else
            :data:`DEFAULT_MAX_EPISODE_STEPS`.
        **kwargs: passed to the environment's constructor.

    Raises:
        EnvError: for an unknown id or an environment that fails to construct.
    """
    name = resolve_env_id(env_id)
    try:
        spec = gym.spec(name)
    except gym.error.Error as exc:
        raise EnvError(f"unknown environment {env_id!r}: {exc}") from None
    steps = max_episode_steps or spec.max_episode_steps or DEFAULT_MAX_EPISODE_STEPS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            # policysearch checks every observation and reward itself, as errors that name the
            # session and step (sampling/runner.py); the passive checker would only warn, once
            kwargs = {"disable_env_checker": True, **kwargs}
            return gym.make(name, max_episode_steps=steps, **kwargs)
    except gym.error.Error as exc:
        raise EnvError(f"cannot make environment {env_id!r}: {exc}") from None
    except PolicySearchError:
        raise  # the env's own validation (policysearch envs) already names the option
    except (TypeError, ValueError, ImportError) as exc:
        raise EnvError(f"cannot make environment {env_id!r}: {exc}") from None
    except Exception as exc:  # the env's constructor failed
        raise EnvError(f"cannot make environment {env_id!r}: {type(exc).__name__}: {exc}") from None
