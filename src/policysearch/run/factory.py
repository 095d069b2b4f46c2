"""The run factory: from what the user asked for to a built algorithm, the same way for every run.

:func:`make_run` makes the environment once to read its spaces, resolves the policy kind and
the implementing class through the registry, merges the env's preset under the user's
hyperparameters, validates them, and builds the algorithm from the seed tree. A new run and a
resumed one (which then loads its checkpoint's arrays) are built by the same code.
"""

from __future__ import annotations

import json
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..algorithms.base import Algorithm
from ..algorithms.neural import NeuralAlgorithm
from ..algorithms.population import resolve_reward_shift
from ..config import as_dict, canonical_names, coerce, from_mapping
from ..envs import own_spaces, probe_env, random_frames, step_limit, survival_bonus
from ..errors import (
    ENV_FAULTS,
    CheckpointError,
    ConfigError,
    EnvError,
    PolicySearchError,
    described,
    warn_user,
)
from ..policies.bodies import BODIES
from ..presets import Preset, eval_episodes_for, preset_for, preset_mismatch
from ..registry import default_policy, entry, resolve
from ..sampling import array_dynamics
from ..seeding import SeedTree
from .evaluation import Evaluation
from .options import MAX_N_ENVS, MAX_WORKERS, TrainOptions
from .runfolder import load_checkpoint, recover_if_free, verify_checkpoint


@dataclass
class Run:
    """Everything a trainer needs that follows from its options."""

    #: What was asked for.
    options: TrainOptions
    #: The resolved policy kind.
    policy: str
    #: The validated hyperparameters (the algorithm's config dataclass).
    config: Any
    #: Episodes of the final evaluation (the user's, else the protocol's for the env).
    eval_episodes: int
    #: The seeded random streams of the run.
    seeds: SeedTree
    #: The algorithm, initialised from ``seeds.init()``.
    algorithm: Algorithm
    #: The preset that filled in hyperparameters, if one did.
    preset: Preset | None
    #: The most steps an episode can last (:func:`~policysearch.envs.episode_limit`), read from
    #: the env made here, so that the run does not make it again to know.
    episode_limit: int
    #: The env's own observation and action spaces where training sees others (flattened
    #: observations, joint actions), else None (:func:`~policysearch.envs.own_spaces`).
    own_spaces: tuple[Any, Any] = (None, None)
    #: Whether the samplers step the env as numpy arrays (:func:`~policysearch.sampling.array_dynamics`),
    #: whose runners hold every step of a request.
    arrays: bool = False


#: Options a resumed run may change: its budgets, and where it samples.
RESUMABLE = ("max_iterations", "max_seconds", "target", "workers", "n_envs", "backend", "address")


@dataclass(frozen=True)
class Resumed:
    """What a checkpoint restores besides the options: the algorithm's arrays and the counters."""

    arrays: dict[str, np.ndarray]
    iteration: int
    env_steps: int
    episodes: int
    eval_env_steps: int
    wall_time_s: float
    #: The final evaluation of the policy of an iteration, when the run got that far
    #: (:attr:`~policysearch.run.trainer.Trainer.evaluated`).
    evaluated: tuple[int, Evaluation] | None = None
    #: The run's id in its checkpoint ("" in a release's that had none).
    run_id: str = ""

    def algorithm_arrays(self) -> dict[str, np.ndarray]:
        """The algorithm's arrays (the trainer's own are prefixed ``trainer.``)."""
        return {k: v for k, v in self.arrays.items() if not k.startswith("trainer.")}

    @classmethod
    def from_checkpoint(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Resumed:
        """Read the counters from a checkpoint's metadata.

        Raises:
            KeyError, TypeError, ValueError: for a checkpoint without them.
        """
        return cls(
            arrays,
            int(meta["iteration"]),
            int(meta["env_steps"]),
            int(meta["episodes"]),
            int(meta.get("eval_env_steps", 0)),
            float(meta["wall_time_s"]),
            _evaluated(meta.get("evaluated")),
            str(meta.get("run_id") or ""),
        )


def resolve_hyperparameters(
    options: TrainOptions, preset: Preset | None, policy: str, cls: type[Algorithm], warn: bool = True
) -> tuple[dict[str, Any], Preset | None]:
    """The hyperparameters of a run: its ``preset``'s (if tuned for ``policy``) under the user's.

    The user's keys are first brought to the fields' current names (a former name warns unless
    ``warn`` is False), so that they override the preset's under either name. Returns them with
    the preset if it applied.
    """
    applies = preset is not None and preset.policy == policy
    tuned = dict(preset.hyperparameters) if preset is not None and applies else {}
    given = canonical_names(cls.config_class, options.hyperparameters, warn=warn)
    return {**tuned, **given}, preset if applies else None


def _warn_ignored(options: TrainOptions, policy: str, cls: type[Algorithm]) -> None:
    """Warn of each hyperparameter the user gave that the policy's body does not read.

    A value equal to the default says nothing: ``--dry-run`` lists every field, and its output
    given back as a ``--config`` file holds them all.
    """
    body = BODIES.get(policy)
    if body is None:
        return
    given = canonical_names(cls.config_class, options.hyperparameters, warn=False)
    defaults, hints = cls.config_class(), typing.get_type_hints(cls.config_class)
    for key, value in given.items():
        if key not in body.ignores:
            continue
        try:
            default = coerce(key, value, hints[key]) == getattr(defaults, key)
        except ConfigError:
            default = False  # refused as the config is built, in its own words
        if not default:
            warn_user(f"{key} does not apply to --policy {policy} ({body.ignores[key]}): it is ignored")


def _naming_own_spaces(exc: EnvError, env: Any) -> EnvError:
    """``exc`` about the spaces the policy sees, naming the env's own where make_env adapted them."""
    own = own_spaces(env)
    made = [
        f"{adapted} from the env's {kind} {raw}"
        for kind, raw, adapted in zip(
            ("observations", "actions"), own, (env.observation_space, env.action_space), strict=True
        )
        if raw is not None
    ]
    return EnvError(f"{exc}; policysearch made {' and '.join(made)}") if made else exc


def make_run(options: TrainOptions, resumed: Resumed | None = None) -> Run:
    """Build the run that ``options`` describe.

    Args:
        options: what to train.
        resumed: what a stored run restores (:func:`stored_run`): the algorithm then loads its
            arrays, and its own hyperparameters' former names do not warn.

    Raises:
        PolicySearchError: for an unknown algorithm or env, a policy that does not suit the env's
            spaces, or invalid hyperparameters, before anything is written.
    """
    entry(options.algorithm)
    with probe_env(options.env_id, options.env_options) as env:
        return _build(options, resumed, env, step_limit(env), survival_bonus(env))


def _build(options: TrainOptions, resumed: Resumed | None, env: Any, limit: int, bonus: float) -> Run:
    """:func:`make_run` once the env is made (the reference batch is gathered from it)."""
    obs_space, act_space = env.observation_space, env.action_space
    preset = None if options.no_preset else preset_for(options.env_id, options.algorithm)
    mismatch = None if preset is None else preset_mismatch(preset, options.env_kwargs)
    if preset is not None and mismatch is not None:
        if resumed is None and options.policy in (None, preset.policy):  # it would have applied
            warn_user(mismatch)
        preset = None
    policy = options.policy or (
        preset.policy if preset is not None else default_policy(options.algorithm, obs_space, act_space)
    )
    cls = resolve(options.algorithm, policy)
    try:
        cls.check_spaces(obs_space, act_space, policy)
    except EnvError as exc:
        raise _naming_own_spaces(exc, env) from None
    hyper, used = resolve_hyperparameters(options, preset, policy, cls, warn=resumed is None)
    if resumed is None:
        _warn_ignored(options, policy, cls)
    seeds = SeedTree(options.seed)
    try:
        config: Any = from_mapping(cls.config_class, hyper, warn=False)
        # ``reward_shift: auto`` is the env's survival bonus; Run.config keeps ``auto`` (summary.json
        # and --dry-run show what it resolved to, and a resumed run resolves it again).
        built = resolve_reward_shift(config, bonus)
        algorithm = cls(obs_space, act_space, built, seeds.init(), policy)
    except ConfigError as exc:
        raise _from_preset(exc, used, options) from None
    if resumed is not None:
        try:
            algorithm.load_state_arrays(resumed.algorithm_arrays())
        except (KeyError, TypeError, ValueError) as exc:
            raise _inconsistent(options.run_folder(), exc) from None
    elif isinstance(algorithm, NeuralAlgorithm) and algorithm.reference_frames:
        try:
            frames = random_frames(env, algorithm.reference_frames, seeds.reference())
        except ENV_FAULTS as exc:  # the env's own error, said in one line
            raise EnvError(
                f"environment {options.env_id} raised while gathering the reference batch: {described(exc)}"
            ) from None
        algorithm.set_reference(frames)
    eval_episodes = options.eval_episodes or eval_episodes_for(
        options.env_id, env.unwrapped.observation_space
    )
    arrays = array_dynamics(env, options.env_options) is not None
    return Run(options, policy, config, eval_episodes, seeds, algorithm, used, limit, own_spaces(env), arrays)


def _from_preset(exc: ConfigError, used: Preset | None, options: TrainOptions) -> ConfigError:
    """``exc``, saying so when a value it names came from the env's preset, not from the user."""
    if used is None:
        return exc
    # whole names only: "noise" is not named by "noise_table_size"
    named = [
        k
        for k in used.hyperparameters
        if k not in options.hyperparameters and re.search(rf"(?<!\w){re.escape(k)}(?!\w)", str(exc))
    ]
    if not named:
        return exc
    return ConfigError(
        f"{exc} ({', '.join(named)}: the preset for {used.env_id}, tuned with other settings; "
        "--no-preset, no_preset=True in Python, trains without it)"
    )


def _evaluated(record: dict[str, Any] | None) -> tuple[int, Evaluation] | None:
    """A checkpoint's ``evaluated`` record: the iteration and its final evaluation."""
    return None if record is None else (int(record["iteration"]), Evaluation.from_counts(record))


def stored_run(folder: str | Path, changes: dict[str, Any]) -> tuple[TrainOptions, Resumed]:
    """The options and state of the run stored in ``folder``, for it to continue.

    Its hyperparameters are completed for the fields added since it was written, with the
    values in effect then (the config class's ``stored_before``), so that it resumes and
    evaluates as it was trained.

    Args:
        folder: the run folder.
        changes: options of :data:`RESUMABLE` to change; None keeps the stored value.

    Raises:
        CheckpointError: if the folder has no readable, consistent checkpoint.
        ConfigError: for an option that cannot change on resume.
    """
    fixed = sorted(set(changes) - set(RESUMABLE))
    if fixed:
        raise ConfigError(f"{fixed[0]} cannot change when a run resumes (only {', '.join(RESUMABLE)})")
    folder = Path(folder)
    recover_if_free(folder)  # a --force swap a kill cut short: as train --resume does
    meta, arrays = load_checkpoint(folder)
    verify_checkpoint(folder, meta)  # not a checkpoint copied from another run
    try:
        stored = dict(meta["options"])
        stored["out"] = str(folder)
        policy = stored.get("policy") or meta.get("policy")
        # the kind it trained (0.1.0 stored options.policy None when the kind was the default):
        # never worked out again from today's defaults, which may differ
        stored["policy"] = policy
        stored["hyperparameters"] = _as_stored_then(stored["algorithm"], policy, meta["hyperparameters"])
        # a run of an earlier release may hold more than today's bounds: where it samples only
        for name, most in (("n_envs", MAX_N_ENVS), ("workers", MAX_WORKERS)):
            if isinstance(stored.get(name), int) and stored[name] > most:
                stored[name] = most
        stored.update({k: v for k, v in changes.items() if v is not None})
        if changes.get("backend") == "local" and changes.get("address") is None:
            stored["address"] = None
        return TrainOptions(**stored), Resumed.from_checkpoint(meta, arrays)
    except PolicySearchError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise _inconsistent(folder, exc) from None


def _inconsistent(folder: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(
        f"the checkpoint in {str(folder)!r} is incomplete or inconsistent ({described(exc)})"
    )


def _as_stored_then(algorithm: str, policy: str | None, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's hyperparameters, completed for the fields added since it was written.

    Those take the values in effect then (the config class's ``stored_before``), so that the run
    resumes and evaluates as it was trained.
    """
    if not policy:
        return dict(hyperparameters)
    config_class = resolve(algorithm, policy).config_class
    return {**getattr(config_class, "stored_before", {}), **hyperparameters}


def resolved_hyperparameters(run: Run) -> tuple[dict[str, Any], list[str]]:
    """The hyperparameters the run uses, each ``auto`` resolved for its env, and those that were ``auto``.

    The checkpoint keeps ``auto`` itself (a resumed run resolves it again, to the same value);
    summary.json and ``--dry-run`` show what it resolved to.
    """
    given = as_dict(run.config)
    used = as_dict(run.algorithm.config)  # each ``auto`` resolved (CEM's and ES's resolve_auto)
    return {k: used.get(k, v) for k, v in given.items()}, [k for k, v in given.items() if v == "auto"]


def describe_run(
    run: Run, sources: dict[str, str] | None = None, tensorboard: str | Path | None = None
) -> str:
    """The resolved options and hyperparameters of ``run`` as YAML, each with where it came from.

    Args:
        run: a built run.
        sources: where the user's options came from (``command line``, ``config``, ``--set``),
            keyed by option name or ``hyperparameters.NAME``; anything else is a default, the
            preset's, or the evaluation protocol's.
        tensorboard: the ``--tensorboard`` folder, if given.

    The output is a valid ``--config`` file for the same run.
    """
    given = dict(sources or {})
    opts = run.options
    cls = type(run.algorithm)
    user = canonical_names(cls.config_class, opts.hyperparameters, warn=False)
    former = {canonical: raw for raw, canonical in zip(opts.hyperparameters, user, strict=True)}
    preset = f"preset ({run.preset.env_id})" if run.preset is not None else None

    def line(indent: str, key: str, value: Any, source: str) -> str:
        text = f"{indent}{key}: {json.dumps(value)}"
        return f"{text:<48} # {source}"

    resolved = {
        "algorithm": opts.algorithm,
        "env": opts.env_id,
        "env_kwargs": opts.env_kwargs,
        "atari_preprocessing": opts.atari_preprocessing,
        "policy": run.policy,
        "seed": opts.seed,
        "target": opts.target,
        "max_seconds": opts.max_seconds,
        "max_iterations": opts.max_iterations,
        "eval_episodes": run.eval_episodes,
        "out": str(opts.run_folder()),
        "backend": opts.backend,
        "address": opts.address,
        "workers": opts.workers,
        "n_envs": opts.n_envs,
        "tensorboard": None if tensorboard is None else str(tensorboard),
        "no_preset": opts.no_preset,
    }
    lines = [f"# policysearch train {opts.algorithm} --env {opts.env_id}: resolved, nothing run"]
    for key, value in resolved.items():
        source = given.get(key, "default")
        if key == "policy" and key not in given:
            source = preset or "the algorithm's default for the spaces"
        elif key == "eval_episodes" and key not in given:
            source = "evaluation protocol"
        lines.append(line("", key, value, source))
    lines.append("hyperparameters:")
    values, auto = resolved_hyperparameters(run)
    for key, value in values.items():
        if key in user:
            source = given.get(f"hyperparameters.{former[key]}", "given")
        elif run.preset is not None and key in run.preset.hyperparameters:
            source = preset or "preset"
        else:
            source = "default"
        if key in auto:  # the value is what the algorithm made of ``auto`` for these spaces
            source += " (auto)"
        lines.append(line("  ", key, value, source))
    return "\n".join(lines)
