"""Figures from the runs' records: our best run per env and seed, the time-to-solve summaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runners import Job
from suites import FIXED_EPISODE_STEPS, EnvSpec


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Our best run: the fastest that solved, else the one with the highest final eval."""
    ok = [r for r in runs if "error" not in r]
    solved = [r for r in ok if r.get("solved") and r.get("wall_time_s")]
    if solved:
        return min(solved, key=lambda r: r["wall_time_s"])
    return max(ok, key=lambda r: r.get("eval_mean_return") or -np.inf) if ok else None


@dataclass(frozen=True)
class Figure:
    """A run's time or env steps to solve; a lower bound when the run did not solve.

    Attributes:
        value: seconds or env steps (None: unknown, the run failed before reporting them).
        bound: True when the run did not solve: the true figure is above ``value`` (its cap for
            the time, the steps it used for the env steps).
        seed: the run's seed.
    """

    value: float | None
    bound: bool
    seed: int

    @property
    def rank(self) -> tuple[int, float]:
        """Sort key: every solved run before every unsolved one, then by value (unknown last)."""
        return (int(self.bound), np.inf if self.value is None else self.value)

    def show(self, spec: str) -> str:
        if self.value is None:
            return "?"
        return (">" if self.bound else "") + format(self.value, spec)


#: A figure not measured (no run, or a record without it).
UNKNOWN = Figure(None, False, -1)


def figures(runs: Sequence[dict[str, Any]], key: str) -> list[Figure]:
    """Per run, ``key`` (wall_time_s, env_steps, episodes) as a Figure; an unsolved run's time is its cap."""
    out = []
    for r in runs:
        solved = "error" not in r and bool(r.get("solved"))
        value = r.get(key) if "error" not in r else None
        if key == "wall_time_s" and not solved:
            value = r.get("cap_s")
        out.append(Figure(None if value is None else float(value), not solved, int(r["seed"])))
    return out


def median(figs: Sequence[Figure]) -> Figure:
    """The median, a lower bound if a figure it is made of is one (seed: -1, not one run's)."""
    if not figs:
        return UNKNOWN
    ranked = sorted(figs, key=lambda f: f.rank)
    n = len(ranked)
    middle = ranked[(n - 1) // 2 : n // 2 + 1]  # one figure, or the two middle ones
    values = [f.value for f in middle]
    value = None if None in values else float(np.mean([v for v in values if v is not None]))
    return Figure(value, any(f.bound for f in middle), -1)


def worst(figs: Sequence[Figure]) -> Figure:
    """The worst seed's figure: the slowest unsolved one if any run did not solve."""
    return max(figs, key=lambda f: f.rank) if figs else UNKNOWN


def solve_summary(env_id: str, label: str, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One row of the time-to-solve table: solved count, median and worst wall time, env steps and
    episodes (``episodes_reported`` False, its figures None, when a run's record has none).

    A run that failed (its record has an ``error``: a peer whose script could not start, a crash)
    measured nothing: it is left out of the figures and counted in ``errors``, not taken for a
    run that did not solve in its cap.
    """
    measured = [r for r in runs if "error" not in r]
    times, steps = figures(measured, "wall_time_s"), figures(measured, "env_steps")
    eps = figures(measured, "episodes")
    m_t, w_t, m_s, w_s = median(times), worst(times), median(steps), worst(steps)
    reported = bool(measured) and all("episodes" in r for r in measured)
    m_e, w_e = (median(eps), worst(eps)) if reported else (UNKNOWN, UNKNOWN)
    return {
        "section": "solve", "env": env_id, "config": label, "seeds": [int(r["seed"]) for r in runs],
        "solved": sum(not f.bound for f in times), "runs": len(measured),
        "median_wall_s": m_t.value, "median_wall_bound": m_t.bound,
        "worst_wall_s": w_t.value, "worst_wall_bound": w_t.bound, "worst_wall_seed": w_t.seed,
        "median_env_steps": m_s.value, "median_env_steps_bound": m_s.bound,
        "worst_env_steps": w_s.value, "worst_env_steps_bound": w_s.bound, "worst_env_steps_seed": w_s.seed,
        "episodes_reported": reported, "episodes_derived": any(r.get("episodes_derived") for r in runs),
        "median_episodes": m_e.value, "median_episodes_bound": m_e.bound,
        "worst_episodes": w_e.value, "worst_episodes_bound": w_e.bound, "worst_episodes_seed": w_e.seed,
        "median_process_s": process_median(measured),
        "errors": [r["error"] for r in runs if "error" in r],
    }  # fmt: skip


def process_median(runs: Sequence[dict[str, Any]]) -> float | None:
    """The median of the runs' whole process times (start-up and imports included, unlike
    wall_time_s, which counts from when the algorithm's code is loaded); a run continued from its
    checkpoint in pieces has none and is left out."""
    values = [float(r["process_s"]) for r in runs if r.get("process_s") is not None]
    return float(np.median(values)) if values else None


def solve_ratio(env_id: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Our fastest median wall time vs the fastest peer's, as ours / peer.

    ``'>'`` (a lower bound) when our median is one and the peer's is not, ``'<'`` the other way
    round, ``'?'`` when both are: neither config solved on most seeds.
    """

    def fastest(group: list[dict[str, Any]]) -> dict[str, Any] | None:
        # a config whose runs all failed has no median: it is never the fastest
        measured = [r for r in group if r["median_wall_s"] is not None]
        return (
            min(measured, key=lambda r: (int(r["median_wall_bound"]), r["median_wall_s"]))
            if measured
            else None
        )

    ours = fastest([r for r in rows if not r.get("peer")])
    peer = fastest([r for r in rows if r.get("peer")])
    out: dict[str, Any] = {
        "section": "solve_ratio", "env": env_id, "ours": ours and ours["config"],
        "ours_median_wall_s": ours and ours["median_wall_s"], "peer": peer and peer["config"],
        "peer_median_wall_s": peer and peer["median_wall_s"], "ratio": None, "ratio_bound": None,
    }  # fmt: skip
    if ours and peer and ours["median_wall_s"] and peer["median_wall_s"]:
        o_bound, p_bound = ours["median_wall_bound"], peer["median_wall_bound"]
        out["ratio"] = round(ours["median_wall_s"] / peer["median_wall_s"], 3)
        out["ratio_bound"] = {(False, False): "", (True, False): ">", (False, True): "<"}.get(
            (o_bound, p_bound), "?"
        )
    return out


def with_episodes(peer: dict[str, Any]) -> dict[str, Any]:
    """A peer's record with ``episodes`` derived where its line has none but its env steps tell them:
    on an env of FIXED_EPISODE_STEPS, env steps / the episode length (marked ``episodes_derived``)."""
    length, steps = FIXED_EPISODE_STEPS.get(peer["env"]), peer.get("env_steps")
    if "episodes" in peer or "error" in peer or length is None or steps is None or steps % length:
        return peer
    return {**peer, "episodes": int(steps) // length, "episodes_derived": True}


def solve_rows(
    plan: Sequence[tuple[str, EnvSpec, list[Job], list[int]]],
    ours: Sequence[dict[str, Any]],
    peers: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Per env of the plan: a solve_summary per config of ours, then per peer, then the solve_ratio."""
    out: list[dict[str, Any]] = []
    for env_id, _, jobs, _ in plan:
        rows = []
        for job in jobs:
            runs = [r for r in ours if r["env"] == env_id and r["config"] == job.config.label]
            if runs:
                rows.append(solve_summary(env_id, job.config.label, runs))
        for name in dict.fromkeys(p["script"] for p in peers if p["env"] == env_id):
            runs = [with_episodes(p) for p in peers if p["env"] == env_id and p["script"] == name]
            rows.append({**solve_summary(env_id, f"{name} (peer)", runs), "peer": name})
        out += [*rows, solve_ratio(env_id, rows)]
    return out
