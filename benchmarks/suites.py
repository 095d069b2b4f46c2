"""What the benchmarks run: the suites' envs and configs, tables meant to be edited.

``SUITES`` maps each ``--suite`` of benchmarks/run.py to its envs (an ``EnvSpec`` each: target,
cap, default seeds, peers) and its configs (a ``Config`` each: one ``policysearch train`` command
per seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EnvSpec:
    """One environment of a suite.

    Attributes:
        target: ``--target`` of our runs and TARGET of the peers'.
        cap: ``--max-seconds`` of each of our runs.
        seeds: default seeds (``--seeds`` replaces them).
        peers: peer scripts (names in --peer-dir, without .py) run on this env with ``--peers``.
        peer_cap: MAX_SECONDS of each peer run (None: ``cap``).
        eval_episodes: ``--eval-episodes`` of our runs (None: the CLI's default).
        optional: run only when ``--envs`` names it (not part of the suite's default selection).
    """

    target: float
    cap: float
    seeds: tuple[int, ...] = (0, 1)
    peers: tuple[str, ...] = ()
    peer_cap: float | None = None
    eval_episodes: int | None = None
    optional: bool = False


@dataclass(frozen=True)
class Config:
    """One way of training on an env: ``policysearch train ALGO --env ENV [--policy P] [EXTRA]``.

    Attributes:
        algo: cem | es | cmaes | ars.
        env: an env id of the suite's table.
        policy: ``--policy`` (None: the CLI's default for the env).
        extra: further CLI arguments, as one shell-quoted string.
        name: the label in the tables (None: ``algo`` or ``algo:policy``).
        cap: ``--max-seconds`` of its runs (None: the env's ``cap``).
    """

    algo: str
    env: str
    policy: str | None = None
    extra: str = ""
    name: str | None = None
    cap: float | None = None

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return f"{self.algo}:{self.policy}" if self.policy else self.algo


# ------------------------------------------------------------------------ the suites (edit here)

COURSE = ("course_cem",)  # the course's tabular CEM / sklearn deep CEM (discrete actions only)
LINEAR = ("cma_linear", "evotorch_pgpe")  # pycma over a linear policy, EvoTorch PGPE

TABULAR_ENVS: dict[str, EnvSpec] = {
    "Taxi-v4": EnvSpec(7.5, 60, (0, 1, 2), COURSE, peer_cap=200, eval_episodes=1000),
    "FrozenLake-v1": EnvSpec(0.70, 60, (0, 1, 2), COURSE, peer_cap=200, eval_episodes=1000),
    "CliffWalking-v1": EnvSpec(-13.0, 60, (0, 1, 2), COURSE, peer_cap=200, eval_episodes=1000),
}
TABULAR_CONFIGS: list[Config] = [Config("cem", env) for env in TABULAR_ENVS]

# Targets, caps, seeds and peers as in the peers' own sweep script (sweep.sh beside them).
NEURAL_ENVS: dict[str, EnvSpec] = {
    "CartPole-v1": EnvSpec(475, 120, (0, 1), LINEAR + COURSE),
    "Acrobot-v1": EnvSpec(-100, 120, (0, 1), LINEAR + COURSE),
    "MountainCar-v0": EnvSpec(-110, 120, (0, 1), LINEAR + COURSE),
    "Pendulum-v1": EnvSpec(-200, 120, (0, 1), LINEAR),
    "MountainCarContinuous-v0": EnvSpec(90, 120, (0, 1), LINEAR),
    "LunarLander-v3": EnvSpec(200, 300, (0,), LINEAR + COURSE),
    "LunarLanderContinuous-v3": EnvSpec(200, 300, (0,), LINEAR),
    "Hopper-v5": EnvSpec(3000, 600, (0,), LINEAR),
    # Registered by policysearch only, so the peers' gym.make cannot build it: no peers.
    "policysearch/CartPoleNoVelocity-v1": EnvSpec(475, 120, (0, 1)),
}
NEURAL_CONFIGS: list[Config] = [  # hyperparameters come from the presets (src/policysearch/presets/*.yml)
    Config("cem", "CartPole-v1"),
    Config("cem", "Acrobot-v1"),
    Config("cem", "MountainCar-v0"),
    Config("cem", "MountainCarContinuous-v0"),
    Config("cem", "Pendulum-v1"),
    Config("cem", "LunarLander-v3", extra="--workers 2"),
    Config("cem", "policysearch/CartPoleNoVelocity-v1", "gru"),
    Config("cem", "policysearch/CartPoleNoVelocity-v1", "mlp"),
    Config("es", "CartPole-v1"),
    Config("es", "Pendulum-v1"),
    Config("es", "LunarLanderContinuous-v3", extra="--workers 2"),
    Config("es", "Hopper-v5", "linear", extra="--workers 2"),
    Config("cmaes", "CartPole-v1", "linear"),
    Config("cmaes", "Pendulum-v1"),
    Config("cmaes", "LunarLanderContinuous-v3", "linear", extra="--workers 2"),
    Config("cmaes", "Hopper-v5", "linear", extra="--workers 2"),
]

# Time to solve (issue 15): each algorithm with its defaults (presets allowed) and with
# --no-preset, beside the peers, over seeds 0-4; targets and caps of the issue. The long tasks
# run with --workers 2, cem with a cap of 1800 s there, es, cmaes and the peers 900 s.
SOLVE_SEEDS = (0, 1, 2, 3, 4)
SOLVE_ENVS: dict[str, EnvSpec] = {
    "CartPole-v1": EnvSpec(475, 60, SOLVE_SEEDS, LINEAR),
    "Acrobot-v1": EnvSpec(-100, 120, SOLVE_SEEDS, LINEAR),
    "Pendulum-v1": EnvSpec(-200, 300, SOLVE_SEEDS, LINEAR),
    "InvertedPendulum-v5": EnvSpec(1000, 120, SOLVE_SEEDS, LINEAR),
    "LunarLanderContinuous-v3": EnvSpec(200, 900, SOLVE_SEEDS, LINEAR),
    "HalfCheetah-v5": EnvSpec(3000, 900, SOLVE_SEEDS, LINEAR),
}
SOLVE_LONG = {"LunarLanderContinuous-v3": 1800.0, "HalfCheetah-v5": 1800.0}  # env -> cem's cap


def solve_configs(env: str, algos: Sequence[str] = ("cem", "es", "cmaes")) -> list[Config]:
    """The time-to-solve configs of ``env``: each algorithm as is, then with ``--no-preset``."""
    workers = "--workers 2" if env in SOLVE_LONG else ""
    configs = []
    for algo in algos:
        cap = SOLVE_LONG.get(env) if algo == "cem" else None
        configs.append(Config(algo, env, extra=workers, cap=cap))
        extra = f"--no-preset {workers}".strip()
        configs.append(Config(algo, env, extra=extra, name=f"{algo} --no-preset", cap=cap))
    return configs


SOLVE_CONFIGS: list[Config] = [c for env in SOLVE_ENVS for c in solve_configs(env)]

# MuJoCo locomotion (time to solve, as above, with episodes): ars and es each as is (presets
# allowed) and with --no-preset, all with --workers 2, beside sb3-contrib's ARS (the peer
# sb3_ars.py: rl-baselines3-zoo's hyperparameters, 2 workers); the thresholds of ARS's paper.
# Humanoid is run only when --envs names it (its cap and seeds are ours, as Walker2d's and Ant's).
SB3_ARS = ("sb3_ars",)
MUJOCO_ENVS: dict[str, EnvSpec] = {
    "Swimmer-v5": EnvSpec(325, 1800, (0, 1, 2), SB3_ARS),
    "Hopper-v5": EnvSpec(3120, 1800, (0, 1, 2), SB3_ARS),
    "HalfCheetah-v5": EnvSpec(3430, 1800, (0, 1, 2), SB3_ARS),
    "Walker2d-v5": EnvSpec(4390, 3600, (0, 1), SB3_ARS),
    "Ant-v5": EnvSpec(3580, 3600, (0, 1), SB3_ARS),
    "Humanoid-v5": EnvSpec(6000, 3600, (0, 1), SB3_ARS, optional=True),
}


def mujoco_configs(env: str, algos: Sequence[str] = ("ars", "es")) -> list[Config]:
    """The MuJoCo configs of ``env``: each algorithm as is, then with ``--no-preset``; 2 workers."""
    configs = []
    for algo in algos:
        configs.append(Config(algo, env, extra="--workers 2"))
        configs.append(Config(algo, env, extra="--no-preset --workers 2", name=f"{algo} --no-preset"))
    return configs


MUJOCO_CONFIGS: list[Config] = [c for env in MUJOCO_ENVS for c in mujoco_configs(env)]


@dataclass(frozen=True)
class PaperEpisodes:
    """Published episodes of ARS to reach a task's threshold (None: not filled in, shown n/a)."""

    v2: int | None
    v2_t: int | None
    #: The threshold they are to (the paper's, as MUJOCO_ENVS's targets): not shown for another.
    threshold: float | None = None


# Mania, Guy and Recht (2018), "Simple random search provides a competitive approach to
# reinforcement learning" (arXiv:1803.07055), Table 1: the average number of episodes ARS V2 and
# V2-t took to reach the threshold, over 3 seeds, on the MuJoCo v1 tasks (not v5: other dynamics
# versions and observations, so a reference, not a like-for-like figure). Same thresholds as
# MUJOCO_ENVS. Walker2d's two numbers are those the issue quotes from the table; the others could
# not be checked against the table here, so they stay None (printed n/a) until copied from it.
ARS_PAPER_EPISODES: dict[str, PaperEpisodes] = {
    "Swimmer-v5": PaperEpisodes(None, None, 325),
    "Hopper-v5": PaperEpisodes(None, None, 3120),
    "HalfCheetah-v5": PaperEpisodes(None, None, 3430),
    "Walker2d-v5": PaperEpisodes(89_600, 24_000, 4390),
    "Ant-v5": PaperEpisodes(None, None, 3580),
    "Humanoid-v5": PaperEpisodes(None, None, 6000),
}

# Envs whose every episode runs to its time limit (no termination): there a peer's episodes are
# its env steps divided by the limit, when its JSON line does not report them.
FIXED_EPISODE_STEPS: dict[str, int] = {"Swimmer-v5": 1000, "HalfCheetah-v5": 1000}

SUITES: dict[str, tuple[dict[str, EnvSpec], list[Config]]] = {
    "tabular": (TABULAR_ENVS, TABULAR_CONFIGS),
    "neural": (NEURAL_ENVS, NEURAL_CONFIGS),
    "solve": (SOLVE_ENVS, SOLVE_CONFIGS),
    "mujoco": (MUJOCO_ENVS, MUJOCO_CONFIGS),
    "all": ({**TABULAR_ENVS, **NEURAL_ENVS}, TABULAR_CONFIGS + NEURAL_CONFIGS),
}
