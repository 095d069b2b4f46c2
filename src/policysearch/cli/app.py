"""The commands: ``policysearch train``, ``evaluate``, ``record``, ``plot``, ``bandit``, ``--version``.

:mod:`~policysearch.cli.main` runs them and turns what they raise into exit statuses.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from .. import __version__
from ..config import canonical_name, from_mapping, load_yaml, parse_assignments
from ..envs.make import parse_env_kwargs
from ..errors import ConfigError, Interrupted
from ..registry import POLICY_KINDS, REGISTRY
from ..seeding import MAX_EVAL_EPISODES, max_evaluation_seed

_ALGORITHMS_HELP = "Algorithm: " + "; ".join(f"{name}, {e.summary}" for name, e in REGISTRY.items()) + "."

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Direct policy search for reinforcement learning: CEM, ES, ARS and CMA-ES.",
)


def _print_version(value: bool) -> None:
    if value:
        print(f"policysearch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    pass


#: Keys a --config file may hold besides hyperparameters (dashes or underscores).
_OPTION_KEYS = {
    "algorithm",
    "env",
    "env_kwargs",
    "atari_preprocessing",
    "policy",
    "seed",
    "target",
    "max_seconds",
    "max_iterations",
    "eval_episodes",
    "out",
    "backend",
    "address",
    "workers",
    "n_envs",
    "tensorboard",
    "no_preset",
}
#: What one invocation does, not the run: command-line flags only, refused in a --config file.
_FLAGS_ONLY = {"resume", "force", "quiet", "dry_run", "config"}


def _merge_config(
    path: Path | None, given: dict[str, Any], sets: list[str], sources: dict[str, str] | None = None
) -> dict[str, Any]:
    """Options from the YAML config, overridden by flags given on the command line.

    ``sources``, if given, receives where each option and hyperparameter came from (``config``,
    ``command line``, ``--set``), keyed by ``option`` or ``hyperparameters.name``.
    """
    options: dict[str, Any] = {}
    hyper: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if path is not None:
        spelled: dict[str, str] = {}
        try:
            loaded = load_yaml(path)
        except UnicodeDecodeError:
            raise ConfigError(f"config {str(path)!r} is not a text file (it is not UTF-8)") from None
        for key, value in loaded.items():
            given_as, key = key, key.replace("-", "_")
            if key in ("hyperparameters", "set"):
                if not isinstance(value, dict):
                    raise ConfigError(f"config {str(path)!r}: {key!r} must be a mapping")
                for name in value:
                    _given_once(path, spelled, str(name), f"{given_as}.{name}")
                hyper.update(value)
                origin.update({f"hyperparameters.{k}": "config" for k in value})
                continue
            _given_once(path, spelled, key, given_as)
            if key in _OPTION_KEYS:
                options[key] = value
                origin[key] = "config"
            elif key in _FLAGS_ONLY:
                raise ConfigError(
                    f"config {str(path)!r}: {key!r} is not a config option (what one invocation does, "
                    f"--{key.replace('_', '-')} is given on the command line)"
                )
            else:
                hyper[key] = value
                origin[f"hyperparameters.{key}"] = "config"
    flags = {k: v for k, v in given.items() if v is not None}
    options.update(flags)
    origin.update(dict.fromkeys(flags, "command line"))
    assigned = parse_assignments(sets)
    for key in _other_names(options.get("algorithm"), hyper, assigned):
        del hyper[key], origin[f"hyperparameters.{key}"]  # --set gives the field under another name
    hyper.update(assigned)
    origin.update({f"hyperparameters.{k}": "--set" for k in assigned})
    options["hyperparameters"] = hyper
    if sources is not None:
        sources.update(origin)
    return options


def _given_once(path: Path, spelled: dict[str, str], key: str, given_as: str) -> None:
    """Refuse a config file that gives ``key`` a second time; ``spelled``: each key's first spelling.

    ``max-iterations`` beside ``max_iterations``, or a hyperparameter both flat and under
    ``hyperparameters``: one of them would be dropped silently.
    """
    if key in spelled:
        raise ConfigError(
            f"config {str(path)!r} gives {key!r} twice (as {spelled[key]!r} and as {given_as!r}); "
            "give it once"
        )
    spelled[key] = given_as


def _other_names(algorithm: Any, hyper: dict[str, Any], assigned: dict[str, Any]) -> list[str]:
    """The keys of ``hyper`` that ``assigned`` gives under another name (an alias, a former name).

    ``--set`` overrides the config file whichever of a field's names either uses.
    """
    if not isinstance(algorithm, str) or algorithm not in REGISTRY:
        return []  # refused later, in one line
    configs = [cls.config_class for cls in REGISTRY[algorithm].classes()]
    return [
        key
        for key in hyper
        if key not in assigned
        and any(canonical_name(c, key) == canonical_name(c, other) for c in configs for other in assigned)
    ]


@app.command()
def train(
    algo: Annotated[str | None, typer.Argument(help=_ALGORITHMS_HELP)] = None,
    env: Annotated[str | None, typer.Option("--env", help="Gymnasium env id.")] = None,
    env_kwargs: Annotated[
        str | None,
        typer.Option(
            "--env-kwargs",
            help="The env's own keyword arguments as a JSON object, e.g. '{\"healthy_reward\": 2}'.",
        ),
    ] = None,
    atari_preprocessing: Annotated[
        bool | None,
        typer.Option(
            "--atari-preprocessing/--no-atari-preprocessing",
            help="The standard preprocessing of ALE pixel envs (84x84 gray, 4 frames stacked, "
            "frame skip 4, no-op starts; default on); off: the raw env.",
        ),
    ] = None,
    policy: Annotated[str | None, typer.Option(help=" | ".join(POLICY_KINDS) + ".")] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed (default 0).")] = None,
    target: Annotated[float | None, typer.Option(help="Stop once this is confirmed.")] = None,
    max_seconds: Annotated[float | None, typer.Option(help="Wall-time budget.")] = None,
    max_iterations: Annotated[int | None, typer.Option(help="Iteration budget.")] = None,
    eval_episodes: Annotated[int | None, typer.Option(help="Final evaluation episodes.")] = None,
    out: Annotated[str | None, typer.Option(help="Run folder.")] = None,
    backend: Annotated[str | None, typer.Option(help="local | ray.")] = None,
    address: Annotated[str | None, typer.Option(help="Ray address.")] = None,
    workers: Annotated[int | None, typer.Option(help="Sampling workers.")] = None,
    n_envs: Annotated[int | None, typer.Option(help="Envs per worker.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML options file.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Hyperparameter KEY=VALUE (repeatable).")
    ] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this folder.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing run in --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    no_preset: Annotated[
        bool | None,
        typer.Option(
            "--no-preset",
            help="The algorithm's defaults only, even where the env has a preset (the evaluation "
            "protocol stays).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the resolved options and hyperparameters, and exit.")
    ] = False,
    tensorboard: Annotated[  # a str, as --out: typer reads an empty Path as "."
        str | None, typer.Option(help="Also write the metrics as TensorBoard scalars in this folder.")
    ] = None,
) -> None:
    """Train a policy; writes run.json, summary.json, metrics.jsonl, checkpoint, learning_curve.png."""
    import time

    from ..run.runfolder import recover
    from ..run.tensorboard import TensorBoardLogger
    from ..run.trainer import Trainer, TrainOptions

    started = time.perf_counter()

    if resume is not None:
        fixed = {
            "ALGO": algo,
            "--env": env,
            "--env-kwargs": env_kwargs,
            "--no-atari-preprocessing" if atari_preprocessing is False else "--atari-preprocessing": (
                atari_preprocessing
            ),
            "--policy": policy,
            "--seed": seed,
            "--eval-episodes": eval_episodes,
            "--out": out,
            "--config": config,
            "--set": set_,
            "--force": force or None,
            "--no-preset": no_preset,
            "--dry-run": dry_run or None,
        }
        refused = [flag for flag, value in fixed.items() if value is not None]
        if refused:
            raise ConfigError(
                f"{refused[0]} cannot be given with --resume: the run continues with the algorithm, "
                f"env (and its kwargs), policy, seed, hyperparameters and folder stored in "
                f"{str(resume)!r}; only "
                f"--max-iterations, --max-seconds, --target, --workers, --n-envs, --backend, "
                f"--address, --tensorboard and --quiet may be given again"
            )
        recover(resume)  # refuses a folder in use; puts back a run that --force was replacing
        callbacks = [TensorBoardLogger(tensorboard, resume)] if tensorboard is not None else []
        trainer = Trainer.resume(
            resume,
            max_seconds=max_seconds,
            max_iterations=max_iterations,
            callbacks=callbacks,
            progress=not quiet,
            target=target,
            workers=workers,
            n_envs=n_envs,
            backend=backend,
            address=address,
        )
    else:
        given = {
            "algorithm": algo,
            "env": env,
            "env_kwargs": None if env_kwargs is None else parse_env_kwargs(env_kwargs),
            "atari_preprocessing": atari_preprocessing,
            "policy": policy,
            "seed": seed,
            "target": target,
            "max_seconds": max_seconds,
            "max_iterations": max_iterations,
            "eval_episodes": eval_episodes,
            "out": out,
            "backend": backend,
            "address": address,
            "workers": workers,
            "n_envs": n_envs,
            "tensorboard": tensorboard,
            "no_preset": no_preset,
        }
        sources: dict[str, str] = {}
        merged = _merge_config(config, given, set_ or [], sources)
        if not merged.get("algorithm"):
            raise ConfigError("missing ALGO (e.g. 'policysearch train cem --env Taxi-v4')")
        if not merged.get("env"):
            raise ConfigError("missing --env ENV_ID")
        for key in ("algorithm", "env"):
            if not isinstance(merged[key], str):
                raise ConfigError(f"{key} must be a string, not {merged[key]!r}")
        merged["env_id"] = merged.pop("env")
        if isinstance(merged.get("env_kwargs"), str):  # a config's JSON text, as on the command line
            merged["env_kwargs"] = parse_env_kwargs(merged["env_kwargs"])
        log_dir = merged.pop("tensorboard", None)
        if log_dir is not None and not isinstance(log_dir, str | Path):
            raise ConfigError(f"tensorboard={log_dir!r} is not a folder path")
        # typed as the Python API's: a config's `seed: 2.5` or `env: [CartPole-v1]` is refused
        options = from_mapping(TrainOptions, merged, what="option")
        # Checked before anything is made (a dry run too); it writes at the first iteration.
        callbacks = [TensorBoardLogger(log_dir, options.run_folder())] if log_dir is not None else []
        if dry_run:
            from ..run.factory import describe_run, make_run

            print(describe_run(make_run(options), sources, log_dir))
            return
        # The clock starts once the algorithm's code is loaded (torch: 1.5 s), as in 0.1.0 and as
        # the peers' scripts start theirs after their imports: wall_time_s is the run's time.
        entry = REGISTRY.get(options.algorithm)
        if entry is not None:
            entry.classes()
        started = time.perf_counter()
        trainer = Trainer(options, callbacks=callbacks, progress=not quiet, force=force)
    try:
        summary = trainer.train(clock_start=started)
    except Interrupted as exc:
        exc.hint = _resume_hint(trainer)
        raise
    if summary["target"] is None:
        verdict = "no target given"
    else:
        verdict = "solved" if summary["solved"] else f"not solved (target {summary['target']:g})"
    print(
        f"{verdict}: eval mean {summary['eval_mean_return']:.4g} ± {summary['eval_std_return']:.3g} "
        f"over {summary['eval_episodes']} episodes after {summary['iterations']} "
        f"iteration{'' if summary['iterations'] == 1 else 's'}, "
        f"{summary['env_steps']:,} env steps, {summary['wall_time_s']:.1f} s -> {trainer.folder}",
        file=sys.stderr,
    )


def _resume_hint(trainer: Any) -> str:
    """What to do after an interrupted training: resume it, if it has written a checkpoint."""
    run = trainer.held
    if run is not None and run.committed:
        return f"resume with: policysearch train --resume {shlex.quote(str(trainer.folder))}"
    if run is not None and run.replaces:
        return f"no checkpoint was written: the run that was in {trainer.folder} is unchanged"
    return "no checkpoint was written: nothing to resume"


@app.command()
def presets(
    env: Annotated[str | None, typer.Argument(help="An env id: show its presets in full.")] = None,
) -> None:
    """List the envs that have presets (one id per line), or show one env's presets in full."""
    import yaml

    from ..presets import all_presets, env_ids, eval_episodes_for

    if env is None:
        print("\n".join(env_ids()))
        return
    bare = env.rpartition(":")[2]
    if bare not in env_ids():
        raise ConfigError(f"no preset for {env!r} (see 'policysearch presets' for the list)")
    shown: dict[str, Any] = {"eval_episodes": eval_episodes_for(env)}
    for name, preset in all_presets().get(bare, {}).items():
        shown[name] = {"policy": preset.policy, **preset.hyperparameters}
        if preset.env_kwargs:  # the env it applies to: made with these keyword arguments
            shown[name]["env_kwargs"] = preset.env_kwargs
    print(f"# {bare}: the presets of policysearch train ALGO --env {bare}")
    print(yaml.safe_dump(shown, sort_keys=False, default_flow_style=None).rstrip())


@app.command()
def evaluate(
    folder: Annotated[Path, typer.Argument(help="Run folder.")],
    episodes: Annotated[int, typer.Option(help="Episodes (fresh, held-out seeds).")] = 100,
    seed: Annotated[int, typer.Option(help="Evaluation seed.")] = 0,
    backend: Annotated[str, typer.Option(help="local | ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray address (HOST:PORT or auto).")] = None,
    workers: Annotated[int, typer.Option(help="Workers the episodes are spread over.")] = 1,
) -> None:
    """Evaluate the deterministic policy of a run; prints one JSON object.

    A long evaluation prints a progress line to stderr every few seconds, and what it is playing
    when a part has run for half a minute without one; interrupted, it prints the object for the
    episodes played so far (with ``"interrupted": true``).
    """
    from ..config import check_range
    from ..run.callbacks import EvaluationProgress, Heartbeat, running_line
    from ..run.evaluation import evaluation_parts
    from ..run.trainer import Trainer
    from ..sampling import closed_after, make_sampler

    check_range("episodes", episodes, 1, MAX_EVAL_EPISODES)
    check_range("seed", seed, 0, max_evaluation_seed(episodes))
    trainer = Trainer.resume(folder, workers=workers, backend=backend, address=address)
    opts = trainer.options
    actor = trainer.algorithm.greedy_actor()
    result = None
    progress = EvaluationProgress(episodes)
    started = time.monotonic()
    sampler = make_sampler(
        opts.env_id,
        min(opts.n_envs, episodes),
        workers,
        backend=backend,
        address=address,
        env_options=opts.env_options,
    )

    def status() -> str:
        played = f"{result.episodes:,} played" if result is not None else ""
        return running_line(f"evaluation of {episodes:,} episodes", started, played, sampler.progress())

    with closed_after(sampler), Heartbeat(status):
        try:
            parts = evaluation_parts(
                actor, opts.env_id, episodes, seed, sampler=sampler, env_options=opts.env_options
            )
            for result in parts:
                progress.update(result.episodes, result.mean)
        except Interrupted as exc:
            if result is not None:
                print(json.dumps({**result.as_dict(), "interrupted": True}))
                exc.hint = f"printed the result of the {result.episodes:,} of {episodes:,} episodes played"
            raise
    assert result is not None
    print(json.dumps(result.as_dict()))


@app.command()
def record(
    folder: Annotated[Path, typer.Argument(help="Run folder.")],
    out: Annotated[Path, typer.Option("--out", help="Video file (.mp4 or .gif).")],
    seed: Annotated[int, typer.Option(help="Evaluation seed of the episode.")] = 0,
    fps: Annotated[int, typer.Option(help="Frames per second (env steps per second of video).")] = 30,
    scale: Annotated[
        float,
        typer.Option(
            help="Resize factor of the frames, in (0, 32]: 0.5 halves width and height; above 1 each "
            "pixel becomes a block (MinAtar's 10x10 frames: --scale 24)."
        ),
    ] = 1.0,
    every: Annotated[
        int, typer.Option(help="Keep every Nth frame (and the last), each shown N times as long.")
    ] = 1,
) -> None:
    """Write a video of the run's deterministic policy playing one episode."""
    from ..config import check_range
    from ..run.trainer import Trainer
    from .video import MAX_SCALE, record_episode

    check_range("seed", seed, 0, max_evaluation_seed(1))
    check_range("scale", scale, 0, MAX_SCALE, low_open=True)
    check_range("every", every, 1)
    trainer = Trainer.resume(folder)
    opts = trainer.options
    video = record_episode(
        trainer.algorithm.greedy_actor(), opts.env_id, out, seed, fps, scale, every, opts.env_options
    )
    print(
        f"wrote {video.frames} frames to {out} (evaluation episode 0 of seed {seed}, "
        f"return {video.episode_return:.6g})",
        file=sys.stderr,
    )


@app.command()
def plot(
    runs: Annotated[list[Path], typer.Argument(help="Run folders.")],
    out: Annotated[Path, typer.Option("--out", help="The PNG file to write.")],
    x: Annotated[str, typer.Option("--x", help="iteration | env_steps | wall_time.")] = "env_steps",
) -> None:
    """Overlay the learning curves of runs: the mean over seeds with its band, one subplot per env."""
    from ..run.plots import plot_runs

    read = plot_runs(runs, out, x)
    groups = len({(run.env_id, run.algorithm, run.policy) for run in read})
    runs_text = f"{len(read)} run" + ("s" if len(read) != 1 else "")
    print(f"wrote {out}: {runs_text} in {groups} group" + ("s" if groups != 1 else ""), file=sys.stderr)


#: Rounds ``bandit`` adds up at a time: an interruption reports the rounds played to within this.
BANDIT_CHUNK = 1000


@app.command()
def bandit(
    method: Annotated[
        str, typer.Argument(help="myopic | honest | duct_tape | epsilon_greedy | ucb1 | thompson.")
    ],
    env: Annotated[str, typer.Option("--env", help="Gymnasium env id.")] = "policysearch/BannerAds-v0",
    rounds: Annotated[int, typer.Option(help="Rounds (steps, or users with --per-user).")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    per_user: Annotated[bool, typer.Option(help="A round is a whole episode (one user).")] = False,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Baseline option KEY=VALUE (repeatable).")
    ] = None,
    env_kwargs: Annotated[
        str | None,
        typer.Option(
            "--env-kwargs",
            help="The env's own keyword arguments as a JSON object, e.g. '{\"new_banner\": true}'.",
        ),
    ] = None,
    env_option: Annotated[
        list[str] | None,
        typer.Option(hidden=True, help="Deprecated: --env-kwargs. An env keyword argument KEY=VALUE."),
    ] = None,
) -> None:
    """Play a bandit baseline on a banner env; prints reward and regret as one JSON object."""
    from ..bandits.players import BASELINES, Unit, make_player, play, split_seed
    from ..config import check_range
    from ..envs import EnvOptions, check_env_kwargs, make_env
    from ..errors import warn_user
    from ..run.callbacks import Ticker

    if method not in BASELINES:
        raise ConfigError(f"unknown baseline {method!r} (known: {', '.join(BASELINES)})")
    check_range("rounds", rounds, 1)
    check_range("seed", seed, 0)
    kwargs = {} if env_kwargs is None else parse_env_kwargs(env_kwargs)
    if env_option:  # the former name, KEY=VALUE pairs (train's --env-kwargs is the one name)
        former = check_env_kwargs(parse_assignments(env_option, "--env-option"), "--env-option")
        warn_user("--env-option is deprecated: use --env-kwargs JSON, as train does", FutureWarning)
        kwargs = {**former, **kwargs}
    try:
        environment = make_env(env, options=EnvOptions(kwargs=kwargs))
    except TypeError as exc:
        raise ConfigError(f"invalid --env-kwargs for {env}: {exc}") from None
    env_seed, player_seed = split_seed(seed)  # as compare(): the player's numbers are not the users'
    player = make_player(method, environment, seed=player_seed, **parse_assignments(set_ or []))
    reward = regret = 0.0
    played = 0
    counts = np.zeros(int(getattr(environment.action_space, "n", 0)), dtype=np.int64)

    def report(**extra: Any) -> None:
        record = {
            "method": method,
            "env_id": env,
            "rounds": played,
            "seed": seed,
            "mean_reward": reward / played,
            "cumulative_reward": reward,
            "cumulative_regret": regret,
            "action_counts": [int(c) for c in counts],
        }
        print(json.dumps({**record, **extra}))

    ticker = Ticker()
    try:
        unit: Unit = "episode" if per_user else "step"
        for part in play(environment, player, rounds, seed=env_seed, unit=unit, chunk=BANDIT_CHUNK):
            reward += float(part.rewards.sum())
            regret += float(part.regrets.sum())
            counts += part.action_counts
            played += part.rewards.size
            if ticker.due() and played < rounds:
                print(
                    f"played {played:,} of {rounds:,} rounds: mean reward {reward / played:.4g}",
                    file=sys.stderr,
                )
    except Interrupted as exc:
        if played:
            report(interrupted=True)
            exc.hint = f"printed the result of the {played:,} of {rounds:,} rounds played"
        raise
    report()
