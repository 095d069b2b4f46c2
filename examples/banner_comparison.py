"""Compare the banner-ad baselines: cumulative reward and regret on both banner environments.

Plays every baseline of :mod:`policysearch.bandits` for ``--rounds`` users on
``policysearch/BannerAds-v0`` (one step per user; by default with the new banner that the duct
tape approach never shows) and on ``policysearch/BannerAdsRetention-v0`` (one episode of visits
per user; the regret there is the immediate one, summed over the user's visits), over
``--seeds`` seeds, and writes a 2 x 2 figure (mean over seeds, band from the lowest to the
highest seed)::

    python examples/banner_comparison.py                      # banner_comparison.png
    python examples/banner_comparison.py out.png --rounds 300 --seeds 1   # a few seconds
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from policysearch.bandits import RoundLog, compare

LABELS = {
    "myopic": "myopic (best immediate expectation)",
    "honest": "myopic without clickbait",
    "duct_tape": "duct tape (classifier)",
    "epsilon_greedy": "epsilon-greedy",
    "ucb1": "UCB1",
    "thompson": "Thompson sampling",
}
COLORS = {name: f"C{i}" for i, name in enumerate(LABELS)}
BANDIT_METHODS = ["myopic", "duct_tape", "epsilon_greedy", "ucb1", "thompson"]
RETENTION_METHODS = ["myopic", "honest", "duct_tape", "epsilon_greedy", "ucb1", "thompson"]


def plot_band(ax: Axes, curves: np.ndarray, name: str) -> None:
    """Plot the mean of ``curves`` (seeds x rounds) of method ``name`` with a min-max band."""
    x = np.arange(1, curves.shape[1] + 1)
    color = COLORS.get(name)
    ax.plot(x, curves.mean(axis=0), label=LABELS.get(name, name), color=color)
    if curves.shape[0] > 1:
        ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.2)


def draw_row(axes: Sequence[Axes], logs: dict[str, list[RoundLog]], title: str, reward: str) -> None:
    """Cumulative reward (left) and cumulative regret (right) of every method."""
    for name, runs in logs.items():
        plot_band(axes[0], np.array([log.cumulative_reward for log in runs]), name)
        plot_band(axes[1], np.array([log.cumulative_regret for log in runs]), name)
    axes[0].set_title(f"{title}: cumulative {reward}")
    axes[1].set_title(f"{title}: cumulative (immediate) regret")
    for ax in axes:
        ax.set_xlabel("users")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(reward)
    axes[1].set_ylabel("regret")
    axes[0].legend(fontsize=8)


def summary(logs: dict[str, list[RoundLog]], title: str) -> None:
    """Print the mean reward per user and the total regret of every method."""
    print(title)
    for name, runs in logs.items():
        per_user = np.mean([log.rewards.mean() for log in runs])
        regret = np.mean([log.regrets.sum() for log in runs])
        print(f"  {LABELS.get(name, name):36s} clicks per user {per_user:6.3f}   total regret {regret:9.1f}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the comparison and write the figure."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output", nargs="?", default="banner_comparison.png", help="the PNG to write")
    parser.add_argument("--rounds", type=int, default=2000, help="users per run (default 2000)")
    parser.add_argument("--seeds", type=int, default=3, help="runs per method (default 3)")
    parser.add_argument(
        "--new-banner",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="BannerAds-v0 with a new banner the logs never showed (default: yes)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seeds < 1:
        parser.error("--rounds and --seeds must be at least 1")
    seeds = list(range(args.seeds))
    warmup = max(1, min(500, args.rounds // 10))
    player_kwargs = {"duct_tape": {"warmup": warmup, "refit_every": warmup}}

    bandit = compare(
        "policysearch/BannerAds-v0",
        BANDIT_METHODS,
        rounds=args.rounds,
        seeds=seeds,
        env_kwargs={"new_banner": args.new_banner},
        player_kwargs=player_kwargs,
    )
    retention = compare(
        "policysearch/BannerAdsRetention-v0",
        RETENTION_METHODS,
        rounds=args.rounds,
        seeds=seeds,
        unit="episode",
        player_kwargs=player_kwargs,
    )
    title = "BannerAds-v0" + (" (new banner)" if args.new_banner else "")
    summary(bandit, title)
    summary(retention, "BannerAdsRetention-v0")

    fig, axes = plt.subplots(2, 2, figsize=(12, 9), constrained_layout=True)
    draw_row(axes[0], bandit, title, "clicks")
    draw_row(axes[1], retention, "BannerAdsRetention-v0", "clicks")
    fig.savefig(args.output, dpi=120)
    plt.close(fig)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
