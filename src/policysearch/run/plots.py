"""Learning curves: one run's, as the lecture's ``show_progress`` draws it, and many runs compared.

:func:`plot_learning_curve` draws a run's mean reward and elite threshold per iteration (env steps on
the top axis), its final evaluation, beside the last batch's histogram of rewards with the threshold
marked. :func:`plot_runs` (``policysearch plot``) overlays the curves of many run folders, grouped by
algorithm and environment: the mean over the seeds with their min-max band, one subplot per env.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError
from .runfolder import (
    CHECKPOINT,
    METRICS,
    SUMMARY,
    atomic_write,
    load_checkpoint,
    make_parents,
    read_checkpoint_meta,
    read_metrics,
    remove_empty,
    verify_checkpoint,
)

#: ``--x`` of ``policysearch plot``: the metrics.jsonl key and the axis label.
X_AXES = {
    "iteration": ("iteration", "iteration"),
    "env_steps": ("env_steps", "env steps"),
    "wall_time": ("wall_time_s", "wall time (s)"),
}
#: Points of the common x grid on which the runs of a group are averaged (env steps, wall time).
GRID_POINTS = 200


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _extrapolating(xp: np.ndarray, fp: np.ndarray) -> Callable[[Any], Any]:
    """Piecewise-linear map through (xp, fp), continued past both ends along the end segments."""

    def f(x: Any) -> Any:
        x = np.asarray(x, dtype=float)
        y = np.interp(x, xp, fp)
        low, high = x < xp[0], x > xp[-1]
        y = np.where(low, fp[0] + (x - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0]), y)
        return np.where(high, fp[-1] + (x - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2]), y)

    return f


def _count(value: float) -> str:
    """A count in three significant digits: ``950``, ``2.14k``, ``15.7M``."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.0f}"


def _dot(points: int) -> str | None:
    """A line's marker: a dot for a curve of one point, which a line alone does not show."""
    return "o" if points == 1 else None


def _save(fig: Any, path: Path, dpi: int) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    _pyplot().close(fig)
    atomic_write(path, buffer.getvalue())


def plot_learning_curve(
    path: Path,
    records: Sequence[dict[str, Any]],
    last_returns: np.ndarray | None,
    title: str = "",
    target: float | None = None,
    summary: Mapping[str, Any] | None = None,
    episodes_per_candidate: int = 1,
) -> None:
    """Write the learning curve PNG atomically.

    Args:
        path: where to write.
        records: the metrics.jsonl records.
        last_returns: returns of the last batch (for the histogram), if known.
        title: figure title.
        target: drawn as a dashed line when given.
        summary: summary.json's content; its final evaluation is marked (mean ± std) at its iteration.
        episodes_per_candidate: sessions each candidate played (consecutive in ``last_returns``):
            above 1 the histogram is of the candidates' mean rewards, which the elite threshold
            cuts, not of single sessions.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    its = [r["iteration"] for r in records]
    dot = _dot(len(its))
    left.plot(its, [r.get("mean_return") for r in records], label="mean reward", marker=dot)
    if any("elite_threshold" in r for r in records):
        left.plot(its, [r.get("elite_threshold") for r in records], label="elite threshold", marker=dot)
    final_iteration = summary["iterations"] if summary is not None else None
    for key, label, marker, at_final in (
        ("greedy_return", "deterministic policy (check)", "o", True),
        ("eval_mean_return", "evaluation (target check)", "D", False),  # the final one is marked below
    ):
        points = [
            (r["iteration"], r[key])
            for r in records
            if key in r and (at_final or r["iteration"] != final_iteration)
        ]
        if points:
            left.scatter(*zip(*points, strict=True), marker=marker, s=22, zorder=3, label=label)
    if summary is not None:
        left.errorbar(
            [summary["iterations"]],
            [summary["eval_mean_return"]],
            yerr=[summary["eval_std_return"]],
            fmt="*",
            markersize=13,
            capsize=4,
            color="C3",
            markeredgecolor="black",
            zorder=4,
            label=f"final evaluation, {summary['eval_episodes']} episodes (± std)",
        )
    if target is not None:
        left.axhline(target, color="gray", linestyle="--", label="target")
    left.set_xlabel("iteration")
    left.set_ylabel("reward per session")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(set(its)) == 1:  # one iteration: whole-number ticks around it
        left.set_xlim(its[0] - 1, its[0] + 1)
    if records:  # env steps on the top axis, labelled at the iteration ticks (iteration 0 is 0 steps)
        x = np.array([0, *its], dtype=float)
        steps = np.array([0, *(r["env_steps"] for r in records)], dtype=float)
        to_steps = _extrapolating(x, steps)
        top = left.secondary_xaxis("top", functions=(to_steps, _extrapolating(steps, x)))
        low, high = left.get_xlim()
        ticks = [t for t in left.get_xticks() if low <= t <= high]
        top.set_xticks(to_steps(ticks))
        top.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _count(v)))
        top.set_xlabel("env steps")
    left.legend(fontsize="small")
    left.grid(alpha=0.3)
    k = episodes_per_candidate
    per_candidate = k > 1 and last_returns is not None and len(last_returns) % k == 0
    if last_returns is not None and len(last_returns):
        shown = np.asarray(last_returns).reshape(-1, k).mean(axis=1) if per_candidate else last_returns
        right.hist(shown, bins=30)
        if records and records[-1].get("elite_threshold") is not None and (k == 1 or per_candidate):
            right.axvline(records[-1]["elite_threshold"], color="red", label="elite threshold")
            right.legend(fontsize="small")
    if per_candidate:
        right.set_xlabel(f"mean reward per candidate, {k} sessions each (last batch)")
        right.set_ylabel("candidates")
    else:
        right.set_xlabel("reward per session (last batch)")
        right.set_ylabel("sessions")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    _save(fig, path, dpi=90)


@dataclass
class RunCurve:
    """What ``policysearch plot`` reads of one run folder."""

    #: The run folder.
    folder: Path
    #: Algorithm, env, policy and seed, from summary.json or (a run still training) the checkpoint.
    algorithm: str
    env_id: str
    policy: str
    seed: int
    #: The run's target, if it had one.
    target: float | None
    #: The metrics.jsonl records.
    records: list[dict[str, Any]]
    #: The final evaluation's mean return, if summary.json belongs to the last record.
    eval_mean_return: float | None


def read_run(folder: str | Path) -> RunCurve:
    """Read a run folder's metrics and what run it is (summary.json, else the checkpoint).

    Raises:
        CheckpointError: if the folder has no metrics, or neither a readable summary nor checkpoint,
            or files of different runs (:func:`~.runfolder.verify_checkpoint`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"run folder {str(folder)!r} does not exist")
    records = read_metrics(folder)
    metrics = folder / METRICS
    if not records and metrics.is_file() and metrics.read_text().strip():
        raise CheckpointError(
            f"{str(metrics)!r} does not start with a record policysearch wrote (one JSON object a "
            "line, numbers finite)"
        )
    if not records:
        raise CheckpointError(
            f"{str(folder)!r} has no metrics (its metrics.jsonl is missing or empty): "
            "not a run folder, or a run before its first iteration"
        )
    if (folder / CHECKPOINT).is_file():  # a summary or metrics of another run, as evaluate refuses
        verify_checkpoint(folder, read_checkpoint_meta(folder))
    summary: dict[str, Any] | None = None
    if (folder / SUMMARY).is_file():
        try:
            summary = json.loads((folder / SUMMARY).read_text())
        except (OSError, ValueError):
            raise CheckpointError(f"{str(folder / SUMMARY)!r} is not readable JSON") from None
    try:
        if summary is not None:
            who = (summary["algorithm"], summary["env_id"], summary["policy"], summary["seed"])
            target = summary.get("target")
        else:
            meta = load_checkpoint(folder)[0]
            who = (meta["algorithm"], meta["env_id"], meta["policy"], meta["options"]["seed"])
            target = meta["options"].get("target")
        seed, target = int(who[3]), None if target is None else float(target)
        final = None
        if summary is not None and summary.get("iterations") == records[-1].get("iteration"):
            final = summary.get("eval_mean_return")
            final = None if final is None else float(final)
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(
            f"{str(folder)!r}: its summary or checkpoint does not name the run (algorithm, env, "
            "policy, seed, target) in a form policysearch wrote"
        ) from None
    return RunCurve(folder, str(who[0]), str(who[1]), str(who[2]), seed, target, records, final)


def _check_out(out: Path) -> None:
    """Refuse an ``out`` that cannot be a PNG file (nothing is made yet)."""
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {str(out)!r}: the plot is written as PNG; give a FILE.png")
    if out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a folder; give a FILE.png")


def _write_plot(fig: Any, out: Path) -> None:
    """Write the figure to ``out``, making its folders; those made are removed if it fails."""
    try:
        made = make_parents(out)
    except OSError as exc:
        raise ConfigError(f"--out {str(out)!r}: cannot make its folder ({exc.strerror or exc})") from None
    try:
        if not os.access(out.parent, os.W_OK | os.X_OK):
            raise ConfigError(f"--out {str(out)!r}: its folder is not writable")
        _save(fig, out, dpi=100)
    except OSError as exc:
        remove_empty(made)
        raise ConfigError(f"--out {str(out)!r}: cannot write it ({exc.strerror or exc})") from None
    except BaseException:
        remove_empty(made)
        raise


#: How a run's final evaluation is marked.
_STAR: dict[str, Any] = {"marker": "*", "s": 130, "edgecolors": "black", "linewidths": 0.6, "zorder": 4}


def _seed_list(seeds: Sequence[int]) -> str:
    """``seeds 0, 1`` for a few seeds, ``10 seeds`` for many."""
    return f"seeds {', '.join(map(str, seeds))}" if len(seeds) <= 4 else f"{len(seeds)} seeds"


def _mean_band(
    curves: Sequence[tuple[np.ndarray, np.ndarray]], integer: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean, min and max of the curves on a common grid over the x range they all cover."""
    low = max(float(x[0]) for x, _ in curves)
    high = min(float(x[-1]) for x, _ in curves)
    if high < low:
        return None
    grid = np.arange(low, high + 1) if integer else np.linspace(low, high, GRID_POINTS)
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    return grid, ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)


def _curve(run: RunCurve, x_key: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The run's ``metric`` against ``x_key``, over the records that have it.

    Raises:
        CheckpointError: for a record whose values are not numbers.
    """
    rows = [(r.get(x_key), r[metric]) for r in run.records if metric in r]
    where = str(run.folder / METRICS)
    if not rows or any(x is None for x, _ in rows):
        lacking = f"no record has {metric}" if not rows else f"a record has no {x_key}"
        raise CheckpointError(f"{where!r}: {lacking} (edited by hand?)")
    try:
        xs, ys = (np.array([row[i] for row in rows], dtype=float) for i in (0, 1))
    except (TypeError, ValueError):
        raise CheckpointError(f"{where!r}: a record's {x_key} or {metric} is not a number") from None
    return xs, ys


def plot_runs(
    folders: Sequence[str | Path], out: str | Path, x: str = "env_steps", metric: str = "mean_return"
) -> list[RunCurve]:
    """Overlay the learning curves of many runs; write them to ``out`` (PNG) atomically.

    Runs are grouped by environment (one subplot each) and by algorithm and policy (one colour
    each): the group's mean over its runs (seeds) on a common x grid, over the range every run
    covers, with the min-max band; each run's own curve thin; each finished run's final
    evaluation as a star; the runs' targets as dashed lines.

    Args:
        folders: run folders.
        out: the PNG file to write (its folder is made if missing).
        x: ``iteration``, ``env_steps`` or ``wall_time``.
        metric: the metrics.jsonl key on the y axis.

    Returns:
        The runs read, in the order given.

    Raises:
        ConfigError: for an unknown ``x``, or an ``out`` that is not a writable ``.png`` path.
        CheckpointError: for a folder with no metrics, or that does not say which run it is.
    """
    if x not in X_AXES:
        raise ConfigError(f"--x {x!r} is not one of {', '.join(X_AXES)}")
    out = Path(out)
    _check_out(out)
    if not folders:
        raise ConfigError("no run folders given")
    unique: dict[Path, str | Path] = {}  # a folder given twice (run, run/): once, where first given
    for folder in folders:
        try:
            unique.setdefault(Path(folder).resolve(), folder)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop (Python 3.11)
            raise CheckpointError(f"cannot read run folder {str(folder)!r}: {exc}") from None
    runs = [read_run(folder) for folder in unique.values()]
    x_key, x_label = X_AXES[x]
    envs = list(dict.fromkeys(run.env_id for run in runs))
    kinds = list(dict.fromkeys((run.algorithm, run.policy) for run in runs))
    colours = {kind: f"C{i % 10}" for i, kind in enumerate(kinds)}

    from matplotlib.ticker import FuncFormatter, MaxNLocator

    plt = _pyplot()
    ncols = 1 if len(envs) == 1 else 2
    nrows = -(-len(envs) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(7.2 * ncols, 4.8 * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(envs) :]:
        ax.remove()
    for ax, env_id in zip(axes.flat, envs, strict=False):
        starred = False
        for kind in kinds:
            group = [run for run in runs if run.env_id == env_id and (run.algorithm, run.policy) == kind]
            if not group:
                continue
            colour, name = colours[kind], f"{kind[0]} ({kind[1]})"
            curves = [_curve(run, x_key, metric) for run in group]
            band = _mean_band(curves, integer=x == "iteration") if len(group) > 1 else None
            seeds = [run.seed for run in group]
            if band is None:  # one run, or runs with no x range in common: each drawn in full
                for i, (xs, ys) in enumerate(curves):
                    label = f"{name}, seed {seeds[0]}" if len(group) == 1 else None
                    if len(group) > 1 and i == 0:
                        label = f"{name}: {_seed_list(seeds)}, each run (no x range common to all)"
                    ax.plot(xs, ys, color=colour, linewidth=1.6, label=label, marker=_dot(len(xs)))
            else:
                grid, mean, low, high = band
                for xs, ys in curves:
                    ax.plot(xs, ys, color=colour, linewidth=0.8, alpha=0.4)
                ax.fill_between(grid, low, high, color=colour, alpha=0.2, linewidth=0)
                label = f"{name}: mean of {_seed_list(seeds)}, band min-max"
                ax.plot(grid, mean, color=colour, linewidth=2, label=label)
            for run, (xs, _) in zip(group, curves, strict=True):
                if run.eval_mean_return is not None and len(xs):
                    ax.scatter([xs[-1]], [run.eval_mean_return], color=colour, **_STAR)
                    starred = True
        if starred:
            ax.scatter([], [], color="white", label="final evaluation (each run)", **_STAR)
        targets = sorted({run.target for run in runs if run.env_id == env_id and run.target is not None})
        for target in targets:
            ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=f"target {target:g}")
        ax.set_title(env_id)
        ax.set_xlabel(x_label)
        ax.set_ylabel(metric.replace("_", " ") + " (training sessions)")
        if x == "env_steps":
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _count(v)))
        elif x == "iteration":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", framealpha=0.85)
    _write_plot(fig, out)
    return runs
