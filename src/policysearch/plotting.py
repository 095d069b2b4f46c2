"""The learning curve, as the lecture's ``show_progress`` draws it.

Mean reward and elite threshold per iteration, beside the last batch's histogram of rewards with
the threshold marked.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .runfolder import atomic_write


def plot_learning_curve(
    path: Path,
    records: Sequence[dict[str, Any]],
    last_returns: np.ndarray | None,
    title: str = "",
    target: float | None = None,
) -> None:
    """Write the learning curve PNG atomically.

    Args:
        path: where to write.
        records: the metrics.jsonl records.
        last_returns: returns of the last batch (for the histogram), if known.
        title: figure title.
        target: drawn as a dashed line when given.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    its = [r["iteration"] for r in records]
    left.plot(its, [r.get("mean_return") for r in records], label="mean reward")
    if any("elite_threshold" in r for r in records):
        left.plot(its, [r.get("elite_threshold") for r in records], label="elite threshold")
    for key, label, marker in (
        ("greedy_return", "deterministic policy (check)", "o"),
        ("eval_mean_return", "evaluation", "*"),
    ):
        points = [(r["iteration"], r[key]) for r in records if key in r]
        if points:
            left.scatter(*zip(*points, strict=True), marker=marker, zorder=3, label=label)
    if target is not None:
        left.axhline(target, color="gray", linestyle="--", label="target")
    left.set_xlabel("iteration")
    left.set_ylabel("reward per session")
    left.legend()
    left.grid(alpha=0.3)
    if last_returns is not None and len(last_returns):
        right.hist(last_returns, bins=30)
        if records and records[-1].get("elite_threshold") is not None:
            right.axvline(records[-1]["elite_threshold"], color="red", label="elite threshold")
            right.legend()
    right.set_xlabel("reward per session (last batch)")
    right.set_ylabel("sessions")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    atomic_write(path, buffer.getvalue())
