"""The command line: ``policysearch train``, ``policysearch evaluate``.

Exit status: 0 on success (also when the target was not reached), 2 for bad input with a one-line
message on stderr, 1 for an internal failure, 130 when interrupted.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

from .config import load_yaml, parse_assignments
from .errors import ConfigError, PolicySearchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Direct policy search for reinforcement learning: the crossentropy method and ES.",
)

#: Keys a --config file may hold besides hyperparameters (dashes or underscores).
_OPTION_KEYS = {
    "algorithm",
    "env",
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
}


def _merge_config(path: Path | None, given: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """Options from the YAML config, overridden by flags given on the command line."""
    options: dict[str, Any] = {}
    hyper: dict[str, Any] = {}
    if path is not None:
        for key, value in load_yaml(path).items():
            key = key.replace("-", "_")
            if key in ("hyperparameters", "set"):
                if not isinstance(value, dict):
                    raise ConfigError(f"config {str(path)!r}: {key!r} must be a mapping")
                hyper.update(value)
            elif key in _OPTION_KEYS:
                options[key] = value
            else:
                hyper[key] = value
    options.update({k: v for k, v in given.items() if v is not None})
    hyper.update(parse_assignments(sets))
    options["hyperparameters"] = hyper
    return options


@app.command()
def train(
    algo: Annotated[str | None, typer.Argument(help="Algorithm: cem, es or cmaes.")] = None,
    env: Annotated[str | None, typer.Option("--env", help="Gymnasium env id.")] = None,
    policy: Annotated[str | None, typer.Option(help="tabular | linear | mlp | gru.")] = None,
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
) -> None:
    """Train a policy; writes summary.json, metrics.jsonl, checkpoint, learning_curve.png."""
    from .trainer import Trainer, TrainOptions

    if resume is not None:
        trainer = Trainer.resume(
            resume,
            max_seconds=max_seconds,
            max_iterations=max_iterations,
            progress=not quiet,
            workers=workers,
            n_envs=n_envs,
            backend=backend,
            address=address,
        )
    else:
        given = {
            "algorithm": algo,
            "env": env,
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
        }
        merged = _merge_config(config, given, set_ or [])
        if not merged.get("algorithm"):
            raise ConfigError("missing ALGO (e.g. 'policysearch train cem --env Taxi-v4')")
        if not merged.get("env"):
            raise ConfigError("missing --env ENV_ID")
        merged["env_id"] = merged.pop("env")
        try:
            options = TrainOptions(**merged)
        except TypeError as exc:
            raise ConfigError(f"invalid options: {exc}") from None
        trainer = Trainer(options, progress=not quiet, force=force)
    summary = trainer.train()
    verdict = "solved" if summary["solved"] else "not solved"
    print(
        f"{verdict}: eval mean {summary['eval_mean_return']:.4g} ± {summary['eval_std_return']:.3g} "
        f"over {summary['eval_episodes']} episodes after {summary['iterations']} iterations, "
        f"{summary['env_steps']:,} env steps, {summary['wall_time_s']:.1f} s -> {trainer.folder}",
        file=sys.stderr,
    )


@app.command()
def evaluate(
    folder: Annotated[Path, typer.Argument(help="Run folder.")],
    episodes: Annotated[int, typer.Option(help="Episodes (fresh, held-out seeds).")] = 100,
    seed: Annotated[int, typer.Option(help="Evaluation seed.")] = 0,
    backend: Annotated[str, typer.Option(help="local | ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray address (HOST:PORT or auto).")] = None,
    workers: Annotated[int, typer.Option(help="Workers the episodes are spread over.")] = 1,
) -> None:
    """Evaluate the deterministic policy of a run; prints one JSON object."""
    from .config import check_range
    from .evaluation import evaluate_actor
    from .sampling import make_sampler
    from .trainer import Trainer

    check_range("episodes", episodes, 1)
    check_range("seed", seed, 0)
    trainer = Trainer.resume(folder, workers=workers, backend=backend, address=address)
    opts = trainer.options
    sampler = None
    if backend != "local" or workers > 1:
        sampler = make_sampler(opts.env_id, opts.n_envs, workers, backend=backend, address=address)
    try:
        actor = trainer.algorithm.greedy_actor()
        result = evaluate_actor(actor, opts.env_id, episodes, seed, sampler=sampler)
    finally:
        if sampler is not None:
            sampler.close()
    print(json.dumps(result.as_dict()))


@app.command()
def record(
    folder: Annotated[Path, typer.Argument(help="Run folder.")],
    out: Annotated[Path, typer.Option("--out", help="Video file (.mp4 or .gif).")],
    seed: Annotated[int, typer.Option(help="Evaluation seed of the episode.")] = 0,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 30,
) -> None:
    """Write a video of the run's deterministic policy playing one episode."""
    from .config import check_range
    from .recording import record_episode
    from .trainer import Trainer

    check_range("seed", seed, 0)
    trainer = Trainer.resume(folder)
    frames = record_episode(trainer.algorithm.greedy_actor(), trainer.options.env_id, out, seed, fps)
    print(f"wrote {frames} frames to {out}", file=sys.stderr)


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
    env_option: Annotated[
        list[str] | None, typer.Option(help="Env constructor option KEY=VALUE (repeatable).")
    ] = None,
) -> None:
    """Play a bandit baseline on a banner env; prints reward and regret as one JSON object."""
    from .bandits import BASELINES, make_agent, run
    from .config import check_range
    from .envs import make_env

    if method not in BASELINES:
        raise ConfigError(f"unknown baseline {method!r} (known: {', '.join(BASELINES)})")
    check_range("rounds", rounds, 1)
    check_range("seed", seed, 0)
    try:
        environment = make_env(env, **parse_assignments(env_option or []))
    except TypeError as exc:
        raise ConfigError(f"invalid --env-option for {env}: {exc}") from None
    try:
        agent = make_agent(method, environment, seed=seed, **parse_assignments(set_ or []))
    except TypeError as exc:
        raise ConfigError(f"invalid option for {method}: {exc}") from None
    log = run(environment, agent, rounds, seed=seed, unit="episode" if per_user else "step")
    print(
        json.dumps(
            {
                "method": method,
                "env_id": env,
                "rounds": rounds,
                "seed": seed,
                "mean_reward": float(log.rewards.mean()),
                "cumulative_reward": float(log.rewards.sum()),
                "cumulative_regret": float(log.regrets.sum()),
                "action_counts": [int(c) for c in log.action_counts],
            }
        )
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and maps errors to exit codes and one-line messages."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="policysearch", standalone_mode=False)
    except PolicySearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            command.main(args=["--help"], prog_name="policysearch", standalone_mode=False)
        else:
            print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted; continue with: policysearch train --resume DIR", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # an internal failure: show where, exit 1
        traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
