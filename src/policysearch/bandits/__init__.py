"""The lecture's bandits: the banner-ad environments and the baselines that play them.

- :mod:`policysearch.bandits.envs`: ``policysearch/BannerAds-v0`` (a contextual bandit) and
  ``policysearch/BannerAdsRetention-v0`` (the clickbait MDP), registered with Gymnasium when
  :mod:`policysearch` is imported.
- :mod:`policysearch.bandits.players`: the baselines (myopic, honest, duct tape, epsilon-greedy,
  UCB1, Thompson sampling), a runner that tracks reward and regret per round, and
  :func:`compare`, which plays several baselines over seeds.

For example::

    from policysearch.bandits import compare

    logs = compare("policysearch/BannerAds-v0", ["duct_tape", "thompson"], rounds=2000,
                   env_kwargs={"new_banner": True})
    logs["thompson"][0].cumulative_regret[-1]
"""

from __future__ import annotations

from typing import Any

from .envs import BannerAdsEnv, BannerAdsRetentionEnv
from .players import (
    BASELINES,
    CHUNK_ROUNDS,
    DuctTapePlayer,
    EpsilonGreedyPlayer,
    MyopicPlayer,
    Player,
    RoundLog,
    ThompsonSamplingPlayer,
    UCB1Player,
    compare,
    make_player,
    play,
    run,
)

__all__ = [
    "BASELINES",
    "CHUNK_ROUNDS",
    "BannerAdsEnv",
    "BannerAdsRetentionEnv",
    "DuctTapePlayer",
    "EpsilonGreedyPlayer",
    "MyopicPlayer",
    "Player",
    "RoundLog",
    "ThompsonSamplingPlayer",
    "UCB1Player",
    "compare",
    "make_player",
    "play",
    "run",
]

#: Former names (in release 0.1.0, where the bandit players were called agents, like the Python API's
#: :class:`policysearch.Agent`); importing one warns.
_RENAMED = {
    "Agent": "Player",
    "make_agent": "make_player",
    **{
        f"{kind}Agent": f"{kind}Player"
        for kind in ("Myopic", "EpsilonGreedy", "UCB1", "ThompsonSampling", "DuctTape")
    },
}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        import warnings

        warnings.warn(f"{name!r} is deprecated: use {_RENAMED[name]!r}", FutureWarning, stacklevel=2)
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
