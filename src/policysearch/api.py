"""The Python API, as short as the command line.

>>> from policysearch import CEM
>>> agent = CEM("Taxi-v4", seed=0)                         # doctest: +SKIP
>>> summary = agent.train(target=7.5, max_seconds=30)      # doctest: +SKIP
>>> agent.evaluate(episodes=1000)["mean_return"] >= 7.5    # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from .config import check_int, from_mapping
from .envs import env_action, outside
from .errors import ConfigError, RunFolderError
from .policies.base import Actor, start_sessions
from .registry import REGISTRY, Entry
from .run.callbacks import Callback, checked_callbacks
from .run.evaluation import evaluate_actor
from .run.runfolder import CHECKPOINT, RUN_FILES, SUMMARY, read_checkpoint_meta, recover_if_free, write_json
from .run.trainer import Trainer, TrainOptions
from .seeding import MAX_EVAL_EPISODES, max_evaluation_seed


class Agent:
    """A policy search run held in memory, with its run folder on disk.

    Args:
        env: a Gymnasium id.
        policy: policy kind (tabular, linear, mlp, gru, cnn; those the algorithm offers); default
            as on the command line.
        seed: root seed.
        out: run folder; default a new temporary folder, removed when the agent is closed
            (:meth:`close`, the end of a ``with`` block, garbage collection or the interpreter's
            exit): use :meth:`save` to keep the run.
        eval_episodes: episodes of the evaluation at the end of :meth:`train`.
        callbacks: watchers called after every iteration and at the end.
        workers: parallel sampling workers (as ``--workers``).
        n_envs: environments each worker steps side by side (as ``--n-envs``).
        backend: where the workers live (as ``--backend``).
        address: the cluster's address with ``backend="ray"`` (as ``--address``).
        env_kwargs: the env's own keyword arguments (as ``--env-kwargs``), e.g.
            ``{"healthy_reward": 2}``.
        atari_preprocessing: the standard preprocessing of ALE pixel envs (as
            ``--no-atari-preprocessing`` when False).
        no_preset: the algorithm's defaults only, even where the env has a preset (as
            ``--no-preset``; the evaluation protocol stays).
        **hyperparameters: the algorithm's hyperparameters (e.g. ``percentile=70``).

    The wall clock of the budgets starts in :meth:`train`, not here.

    Raises:
        PolicySearchError: for any invalid input, before anything runs (and nothing is left
            on disk).
    """

    algorithm: ClassVar[str] = ""

    def __init__(
        self,
        env: str,
        policy: str | None = None,
        seed: int = 0,
        out: str | Path | None = None,
        eval_episodes: int | None = None,
        callbacks: list[Callback] | None = None,
        workers: int = 1,
        n_envs: int = 16,
        backend: str = "local",
        address: str | None = None,
        env_kwargs: dict[str, Any] | None = None,
        atari_preprocessing: bool = True,
        no_preset: bool = False,
        **hyperparameters: Any,
    ) -> None:
        if not self.algorithm:  # the base class, which only loads
            names = ", ".join(cls.__name__ for cls in AGENTS.values())
            raise ConfigError(f"Agent trains no algorithm of its own: make one of {names} (or load a run)")
        temporary = out is None
        if not temporary:
            out = _folder_path("out", out)
            if out.exists() and not out.is_dir():
                raise ConfigError(f"out={str(out)!r} is a file, not a folder for the run")
            if (out / CHECKPOINT).exists():
                raise ConfigError(
                    f"{str(out)!r} already holds a run: continue it with Agent.load({str(out)!r}), or "
                    "choose another out"
                )
        folder = tempfile.mkdtemp(prefix="policysearch-") if temporary else str(out)
        try:
            options = from_mapping(
                TrainOptions,
                {
                    "algorithm": self.algorithm,
                    "env_id": env,
                    "policy": policy,
                    "seed": seed,
                    "out": folder,
                    "eval_episodes": eval_episodes,
                    "backend": backend,
                    "address": address,
                    "workers": workers,
                    "n_envs": n_envs,
                    "hyperparameters": hyperparameters,
                    "env_kwargs": _mapping("env_kwargs", env_kwargs),
                    "atari_preprocessing": atari_preprocessing,
                    "no_preset": no_preset,
                },
                what="option",
            )
            self._attach(Trainer(options, checked_callbacks(callbacks or [])), folder if temporary else None)
        except BaseException:
            if temporary:
                shutil.rmtree(folder, ignore_errors=True)
            raise

    def _attach(self, trainer: Trainer, temporary: str | None) -> None:
        self._trainer = trainer
        self.summary: dict[str, Any] | None = None
        self._actor: Actor | None = None
        self._cleanup = weakref.finalize(self, shutil.rmtree, temporary, True) if temporary else None
        self._closed = False

    @property
    def folder(self) -> Path:
        """The run folder."""
        return self._trainer.folder

    def close(self) -> None:
        """Remove the run folder if it is the temporary one (a folder given as ``out`` stays).

        An agent whose temporary folder is removed still acts and evaluates, but can no longer
        train or :meth:`save`; an agent with a folder of its own (``out``, or loaded) goes on.
        """
        if self._cleanup is not None:
            self._cleanup()
            self._closed = True

    def _check_open(self, doing: str) -> None:
        if self._closed:
            raise ConfigError(
                f"cannot {doing}: the agent was closed and its temporary run folder removed "
                "(save() before close() keeps the run)"
            )

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def train(
        self,
        target: float | None = None,
        max_seconds: float | None = None,
        max_iterations: int | None = None,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Train until ``target`` is confirmed or a budget is spent; call again to train more.

        Budgets count from the start of the run (a second call needs larger ones).

        Args:
            target: stop once the evaluation protocol confirms this mean return.
            max_seconds: wall time of the whole run, in seconds.
            max_iterations: iterations of the whole run (with neither budget: 100).
            progress: show the progress bar on stderr (off in the Python API by default).

        Returns:
            The content of summary.json.

        Raises:
            ConfigError: for a budget of the wrong type or out of range, or a ``progress`` that
                is not a bool.
        """
        self._check_open("train")
        if not isinstance(progress, bool | np.bool_):  # "no" would be true
            raise ConfigError(f"progress must be True or False, not {progress!r}")
        trainer = self._trainer
        budgets = {"target": target, "max_seconds": max_seconds, "max_iterations": max_iterations}
        current = {k: v for k, v in dataclasses.asdict(trainer.options).items() if k not in budgets}
        trainer.options = from_mapping(TrainOptions, {**current, **budgets}, what="option")
        trainer.progress = bool(progress)
        self._actor = None
        self.summary = trainer.train()
        return self.summary

    def evaluate(self, episodes: int = 100, seed: int = 0) -> dict[str, float | int]:
        """The deterministic policy over held-out episodes: mean_return, std_return, episodes.

        Args:
            episodes: how many.
            seed: which held-out episodes (their reset seeds never occur in training); with
                ``seed=0`` and the run's evaluation episodes, the final evaluation's again.

        Raises:
            ConfigError: for fewer than one episode or a seed out of range.
        """
        check_int("episodes", episodes, 1, MAX_EVAL_EPISODES)
        check_int("seed", seed, 0, max_evaluation_seed(episodes))
        actor = self._trainer.algorithm.greedy_actor()
        opts = self._trainer.options
        return evaluate_actor(actor, opts.env_id, episodes, seed, env_options=opts.env_options).as_dict()

    def reset(self) -> None:
        """Start a new episode for :meth:`act` (a recurrent policy forgets its hidden state)."""
        self._actor = self._trainer.algorithm.greedy_actor()
        start_sessions(self._actor, np.zeros(1, np.int64))

    def act(self, observation: Any) -> Any:
        """The deterministic policy's action for one observation of the current episode.

        A recurrent (GRU) policy carries its hidden state from one call to the next, as in
        :meth:`evaluate`: call :meth:`reset` when an episode begins (the first call after
        making, loading or training the agent starts one by itself). The agent takes the env's
        own observations and returns its own actions, also where it trains on adapted spaces
        (:func:`~policysearch.envs.adapt_spaces`): a Dict, Tuple or MultiDiscrete observation
        is flattened as the env the agent trains on flattens it (an already flattened one is
        taken too), and a MultiDiscrete, MultiBinary or many-dimensional Box action is returned
        in the env's own form (an array of its dials, or of its shape).

        A loop over the evaluation's reset seeds scores as :meth:`evaluate` on envs Gymnasium
        steps; CartPole, Pendulum, MountainCar and Acrobot are evaluated on numpy copies of
        their dynamics, whose start state for a seed is their own draw (of the same
        distribution).

        Raises:
            ConfigError: for an observation that is not one of the env's observation space.
        """
        algorithm = self._trainer.algorithm
        space = algorithm.observation_space
        shape = () if isinstance(space, gym.spaces.Discrete) else tuple(space.shape or ())
        own_observations, own_actions = self._trainer.run.own_spaces
        if isinstance(observation, dict | tuple) or (
            own_observations is not None
            and (np.shape(observation) != shape or np.shape(observation) == own_observations.shape)
        ):
            observation = self._adapt(observation)
        try:
            batch = np.asarray(observation)
        except (ValueError, TypeError):  # a ragged nesting of lists
            raise ConfigError(
                f"act expects one observation of shape {shape} from {space}, got {observation!r}"
            ) from None
        real = batch.dtype.kind in "biuf"  # not complex, not strings or objects
        if batch.shape != shape or not real:
            raise ConfigError(
                f"act expects one observation of shape {shape} from {space}, got "
                f"{batch.dtype} of shape {batch.shape}"
            )
        if not np.isfinite(batch).all():
            raise ConfigError(f"act expects finite numbers, got {batch!r}")
        if isinstance(space, gym.spaces.Discrete) and not (
            np.issubdtype(batch.dtype, np.integer) and space.contains(np.int64(batch))
        ):
            raise ConfigError(f"act expects one observation of {space} (a state number), got {observation!r}")
        if self._actor is None:
            self.reset()
        assert self._actor is not None
        action = self._actor.act(batch[None], np.zeros(1, np.int64), None)[0]
        if own_actions is not None:  # combinations of dials, or a Box of many dimensions, played flat
            return env_action(own_actions, action)
        return action.item() if np.ndim(action) == 0 else action

    def _adapt(self, observation: Any) -> np.ndarray:
        """An observation of the env's own space, as the env the agent trains on adapts it."""
        raw = self._trainer.run.own_spaces[0]
        if raw is None:
            raise ConfigError(
                f"act expects one observation of {self._trainer.algorithm.observation_space}, "
                f"got a {type(observation).__name__}"
            )
        if outside(raw, observation):
            raise ConfigError(f"act expects one observation of {raw}, got {observation!r} (out of its range)")
        if isinstance(raw, gym.spaces.MultiBinary):  # the same 0/1 numbers (BinaryObservations)
            return np.asarray(observation, dtype=np.uint8)
        try:
            return np.asarray(gym.spaces.flatten(raw, observation))
        except (KeyError, TypeError, ValueError, IndexError, AssertionError) as exc:
            raise ConfigError(f"act expects one observation of {raw}, got {observation!r} ({exc})") from None

    def save(self, path: str | Path) -> Path:
        """Write the run as a whole run folder at ``path`` and return it.

        The folder holds the checkpoint, metrics.jsonl, and summary.json and the learning curve
        when the run has them; ``evaluate``, :meth:`load` and ``train --resume`` read it. The
        agent then continues there ("save as"): :attr:`folder` is ``path``, further training
        writes to it, and a temporary folder the agent had is removed (kept if ``path`` is that
        folder: it is the saved run then). An episode of :meth:`act` goes on across the save (a
        recurrent policy keeps its hidden state).

        Raises:
            ConfigError: if ``path`` is another run's folder, or the agent was closed.
            RunFolderError: if ``path`` cannot be written.
        """
        self._check_open("save")
        target = _folder_path("save's path", path)
        source = self.folder
        elsewhere = target.resolve() != source.resolve()
        if elsewhere and (target / CHECKPOINT).exists():
            raise ConfigError(f"{str(target)!r} already holds a run; save to another folder")
        try:
            target.mkdir(parents=True, exist_ok=True)
            for name in RUN_FILES:
                if elsewhere and name != CHECKPOINT and (source / name).is_file():
                    shutil.copy2(source / name, target / name)
        except OSError as exc:
            raise RunFolderError(f"cannot save the run to {str(target)!r}: {exc.strerror or exc}") from None
        self._trainer.save(target)
        summary = self.summary
        if summary is not None:  # its checkpoint is the one saved here
            summary = {**summary, "checkpoint": str(target / CHECKPOINT)}
            write_json(target / SUMMARY, summary)
        # the agent goes on in the saved folder, as a resumed run (a fresh trainer would take the
        # checkpoint it finds there for another run's)
        leave, callbacks, actor = self._cleanup, self._trainer.callbacks, self._actor
        if leave is not None and not elsewhere:
            leave.detach()  # the temporary folder is now the saved run: kept
        self._attach(Trainer.resume(target), None)
        self._trainer.callbacks = callbacks  # the agent's watchers go on watching
        self._actor = actor  # the same weights: an episode of act (a GRU's state) goes on
        self.summary = summary
        if leave is not None and elsewhere:
            leave()
        return target

    @classmethod
    def load(
        cls,
        path: str | Path,
        callbacks: list[Callback] | None = None,
        workers: int | None = None,
        n_envs: int | None = None,
        backend: str | None = None,
        address: str | None = None,
    ) -> Agent:
        """Load a run folder written by ``train`` or :meth:`save`; training continues there.

        ``Agent.load`` gives the class of the run's algorithm; ``CEM.load`` and the like refuse
        another algorithm's run. ``callbacks`` watch the training that follows; :attr:`summary`
        is the folder's ``summary.json`` when it has one. ``workers``, ``n_envs``, ``backend``
        and ``address`` change where the training that follows samples (as ``train --resume``
        takes them; None keeps the run's): a run trained on a Ray cluster loads with
        ``backend="local"`` where there is none. The same seed gives the same run either way.

        Raises:
            CheckpointError: if the folder holds no readable run.
            ConfigError: if the run is another algorithm's than ``cls``'s.
        """
        path = _folder_path("Agent.load's path", path)
        recover_if_free(path)
        meta = read_checkpoint_meta(path)  # its algorithm (Trainer.resume reads the arrays)
        algorithm = meta.get("algorithm", "")
        if cls.algorithm and algorithm != cls.algorithm:
            raise ConfigError(
                f"{str(path)!r} holds a {algorithm!r} run; load it with {AGENTS[algorithm].__name__}.load "
                "or Agent.load"
                if algorithm in AGENTS
                else f"{str(path)!r} holds a run of an unknown algorithm {algorithm!r}"
            )
        agent = cls.__new__(AGENTS.get(algorithm, cls))
        watchers = checked_callbacks(callbacks or [])
        trainer = Trainer.resume(
            path, callbacks=watchers, workers=workers, n_envs=n_envs, backend=backend, address=address
        )
        agent._attach(trainer, None)
        summary = path / SUMMARY
        if summary.is_file():
            try:
                agent.summary = json.loads(summary.read_text())
            except (OSError, ValueError):
                agent.summary = None  # a damaged summary: the checkpoint is what counts
        return agent


def _folder_path(name: str, value: Any) -> Path:
    """A run folder's path as given (a ``str`` or ``os.PathLike``, not empty), made absolute.

    Absolute from the start, so that the agent's folder stays the same one if the caller's
    working directory changes (``os.chdir``) between two calls.

    Raises:
        ConfigError: for another type (bytes, a list, a number) or an empty path.
    """
    if not isinstance(value, str | os.PathLike) or isinstance(os.fspath(value), bytes):
        raise ConfigError(f"{name} must be a run folder's path (a str or a pathlib.Path), not {value!r}")
    if not os.fspath(value):
        raise ConfigError(f"{name} must be a run folder's path, not an empty string")
    return Path(value).absolute()


def _mapping(name: str, value: Any) -> dict[str, Any]:
    """``value`` as a dict of keyword arguments (None: none); anything else is refused."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a dict of keyword arguments, not {value!r}")
    return dict(value)


def _agent_class(entry: Entry) -> type[Agent]:
    """The Python API class of a registered algorithm (``policysearch.CEM``, ...)."""
    doc = f"""{entry.summary[0].upper()}{entry.summary[1:]}.

    ``{entry.api_name}(env, ...)`` is :class:`Agent` with ``algorithm="{entry.name}"``, as
    ``policysearch train {entry.name}`` on the command line.
    """
    return type(entry.api_name, (Agent,), {"algorithm": entry.name, "__doc__": doc, "__module__": __name__})


#: The Python API class of every registered algorithm, by command-line name.
AGENTS: dict[str, type[Agent]] = {name: _agent_class(e) for name, e in REGISTRY.items()}
globals().update({cls.__name__: cls for cls in AGENTS.values()})
#: The public names of this module: the agent classes of the registry, and Agent.
__all__ = ["AGENTS", "Agent", *(cls.__name__ for cls in AGENTS.values())]
