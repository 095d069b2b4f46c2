"""The printed output: progress to stderr, and the fixed-width tables of the records."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from runners import REPO
from stats import Figure, best_of
from suites import PaperEpisodes
from throughput import CARTPOLE_CALL_SESSIONS


def log(message: str) -> None:
    """Progress, to stderr (the tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)


def fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and not np.isfinite(value):
        return "-"
    return format(value, spec)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A fixed-width plain-text table; the first ``left`` columns are left-aligned, others right."""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [title, line(columns), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def short(cmd: str) -> str:
    """A command line with the repository prefix removed."""
    return cmd.replace(str(REPO) + os.sep, "")


def train_table(records: list[dict[str, Any]]) -> str:
    columns = ["env", "seed", "config", "solved", "wall_s", "env_steps", "iterations", "eval_mean"]
    rows = []
    for r in records:
        head = [r["env"], str(r["seed"]), r["config"]]
        if "error" in r:
            rows.append([*head, "ERROR", "-", "-", "-", r["error"]])
            continue
        rows.append([
            *head, fmt(r["solved"]), fmt(r["wall_time_s"], ".2f"), fmt(r["env_steps"], ","),
            fmt(r["iterations"]), fmt(r["eval_mean_return"], ".3f"),
        ])  # fmt: skip
    title = "Time to target via `policysearch train ALGO` (one subprocess per run)"
    return table(title, columns, rows, left=3)


def ratio(peer_value: Any, ours_value: Any, ours_solved: bool, peer_solved: bool) -> str:
    """peer / ours; '-' unless ours solved, '>' (a lower bound) when the peer did not solve."""
    if not ours_solved or not ours_value or peer_value is None:
        return "-"
    return ("" if peer_solved else ">") + fmt(peer_value / ours_value, ".1f")


def peer_table(ours: list[dict[str, Any]], peers: list[dict[str, Any]]) -> tuple[str, list[str]]:
    columns = [
        "env", "seed", "ours", "ours_solved", "ours_wall_s", "ours_steps",
        "peer", "peer_solved", "peer_wall_s", "peer_steps", "peer_eval", "wall_ratio", "steps_ratio",
    ]  # fmt: skip
    rows, notes = [], []
    for p in peers:
        key = (p["env"], p["seed"])
        best = best_of([o for o in ours if (o["env"], o["seed"]) == key])
        o_solved = bool(best and best.get("solved"))
        left = ["-", "-", "-", "-"] if best is None else [
            best["config"], fmt(best.get("solved")), fmt(best.get("wall_time_s"), ".2f"),
            fmt(best.get("env_steps"), ","),
        ]  # fmt: skip
        if "error" in p:
            right = [p["script"], "ERROR", "-", "-", "-", "-", "-"]
            notes.append(f"{p['script']} on {p['env']} seed {p['seed']}: {p['error']}")
        else:
            p_solved = bool(p.get("solved"))
            right = [
                p.get("peer", p["script"]), fmt(p_solved), fmt(p.get("wall_time_s"), ".2f"),
                fmt(p.get("env_steps"), ","), fmt(p.get("eval_mean_return"), ".3f"),
                ratio(p.get("wall_time_s"), best and best.get("wall_time_s"), o_solved, p_solved),
                ratio(p.get("env_steps"), best and best.get("env_steps"), o_solved, p_solved),
            ]  # fmt: skip
        rows.append([p["env"], str(p["seed"]), *left, *right])
    title = (
        "Peers vs our best config per env and seed (ratios = peer / ours, only when ours solved; "
        "'>' = a lower bound, the peer did not solve within its cap)"
    )
    return table(title, columns, rows, left=3), notes


def solve_table(env_id: str, rows: Sequence[dict[str, Any]], paper: PaperEpisodes | None = None) -> str:
    """The time-to-solve table of one env from its solve rows, and the ratio line under it.

    With ``paper`` (the MuJoCo suite), also the episodes to the target, and beside them the
    episodes ARS's paper published for the task (V2 and V2-t; ``n/a`` where not filled in).
    """
    columns = [
        "config", "solved", "median_wall_s", "worst_wall_s", "seed",
        "median_env_steps", "worst_env_steps", "seed", "median_process_s",
    ]  # fmt: skip
    if paper is not None:
        columns[5:5] = ["median_episodes", "worst_episodes", "seed", "paper_V2", "paper_V2-t"]
    body = []
    ratio_line = ""
    for r in rows:
        if r["env"] != env_id:
            continue
        if r["section"] == "solve_ratio":
            if r["ratio"] is None:
                ratio_line = "  fastest median: no comparison (no peer runs, or no figures)"
            else:
                ratio_line = (
                    f"  fastest median: ours {r['ours']} {r['ours_median_wall_s']:.2f} s vs "
                    f"{r['peer']} {r['peer_median_wall_s']:.2f} s: ours / peer = "
                    f"{r['ratio_bound']}{r['ratio']:.2f}"
                )
            continue

        def cell(key: str, spec: str, r: dict[str, Any] = r) -> str:
            return Figure(r[f"{key}_s" if "wall" in key else key], r[f"{key}_bound"], -1).show(spec)

        failed = f" +{len(r['errors'])} failed" if r.get("errors") else ""
        line = [
            r["config"], f"{r['solved']}/{r['runs']}{failed}", cell("median_wall", ".2f"),
            cell("worst_wall", ".2f"), str(r["worst_wall_seed"]), cell("median_env_steps", ",.0f"),
            cell("worst_env_steps", ",.0f"), str(r["worst_env_steps_seed"]),
            fmt(r.get("median_process_s"), ".2f"),
        ]  # fmt: skip
        if paper is not None:
            if r.get("episodes_reported", False):
                mark = "*" if r.get("episodes_derived") else ""
                episodes = [cell("median_episodes", ",.0f") + mark, cell("worst_episodes", ",.0f") + mark]
                episodes.append(str(r["worst_episodes_seed"]))
            else:
                episodes = ["n/a", "n/a", "-"]
            line[5:5] = [*episodes, *(fmt_or_na(v, ",") for v in (paper.v2, paper.v2_t))]
        body.append(line)
    seeds = sorted({s for r in rows if r["env"] == env_id and r["section"] == "solve" for s in r["seeds"]})
    title = (
        f"Time to solve {env_id}, seeds {' '.join(map(str, seeds))} (an unsolved seed counts as its cap "
        "and shows as '>cap'; its env steps as '>used'; a failed run measured nothing and is left out, "
        "'+N failed'; median_process_s: the whole process, imports included, of the runs made in one "
        "piece)"
    )
    lines = [table(title, columns, body, left=1), ratio_line]
    if paper is not None:
        lines += [
            "  episodes: training episodes, '>used' if unsolved; n/a: the run's record has none; '*': env "
            "steps / episode length (every episode runs to its time limit)",
            "  paper_V2, paper_V2-t: Mania, Guy and Recht 2018, Table 1: ARS's average episodes over 3 "
            "seeds to the same threshold on the MuJoCo v1 task; n/a: not filled in (suites.py)",
        ]
    return "\n".join(lines)


def fmt_or_na(value: Any, spec: str = "") -> str:
    """``fmt``, but ``n/a`` for a missing value (a figure not published or not filled in)."""
    return "n/a" if value is None else fmt(value, spec)


def throughput_table(records: list[dict[str, Any]]) -> str:
    columns = ["env", "raw_steps_per_s", "sampler_steps_per_s", "ratio", "runner_steps_per_s", "runner_ratio"]
    rows = []
    for r in records:
        if "error" in r:
            rows.append([r["env"], "ERROR", r["error"], "-", "-", "-"])
            continue
        rows.append([
            r["env"], fmt(r["raw_steps_per_s"], ","), fmt(r["sampler_steps_per_s"], ","),
            fmt(r["ratio"], ".1f"), fmt(r["runner_steps_per_s"], ","), fmt(r["runner_ratio"], ".2f"),
        ])  # fmt: skip
    title = "Sampling throughput, env steps/s with a uniform random policy (ratios vs the raw loop)"
    return table(title, columns, rows, left=1)


def cartpole_throughput_table(records: list[dict[str, Any]]) -> str:
    columns = ["n_envs", "raw_steps_per_s", "mlp_sampler_steps_per_s", "ratio", "policy_share", "mean_len"]
    rows = []
    for r in records:
        if "error" in r:
            rows.append([str(r["n_envs"]), "ERROR", r["error"], "-", "-", "-"])
            continue
        rows.append([
            str(r["n_envs"]), fmt(r["raw_steps_per_s"], ","), fmt(r["mlp_sampler_steps_per_s"], ","),
            fmt(r["ratio"], ".2f"), fmt(r["policy_share"], ".2f"), fmt(r["mean_session_len"], ".1f"),
        ])  # fmt: skip
    title = (
        "CartPole-v1 sampling throughput, env steps/s: make_runner with a stochastic MLP (64, 64) "
        f"({CARTPOLE_CALL_SESSIONS} sessions per slot and call) vs the native vector env with random actions"
    )
    return table(title, columns, rows, left=1)


def acrobot_throughput_table(record: dict[str, Any]) -> str:
    columns = ["env", "raw_steps_per_s", "sync_vector_steps_per_s", "runner_steps_per_s", "ratio",
               "sync_ratio", "env_runner_steps_per_s", "env_runner_ratio"]  # fmt: skip
    if "error" in record:
        rows = [[record["env"], "ERROR", record["error"], *["-"] * 5]]
    else:
        r = record
        rows = [[
            r["env"], fmt(r["raw_steps_per_s"], ","), fmt(r["sync_vector_steps_per_s"], ","),
            fmt(r["runner_steps_per_s"], ","), fmt(r["ratio"], ".1f"), fmt(r["sync_ratio"], ".1f"),
            fmt(r["env_runner_steps_per_s"], ","), fmt(r["env_runner_ratio"], ".2f"),
        ]]  # fmt: skip
    title = (
        "Acrobot-v1 sampling throughput, env steps/s with a uniform random policy: make_runner "
        "(numpy dynamics) vs the raw env, SyncVectorEnv and EnvRunner (ratios: runner / raw, runner / sync)"
    )
    return table(title, columns, rows, left=1)
