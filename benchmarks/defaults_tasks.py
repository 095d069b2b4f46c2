"""The task table of the defaults suite (benchmarks/defaults.py): ids, references, the two parts.

Each task has a REFERENCE score (the published or documented figure named beside it) and a
RANDOM score: the mean return of a uniformly random policy (``action_space.sample()``) over 20
episodes, measured by ``benchmarks/defaults.py --measure-random`` into defaults_random.json
beside this file. A run's normalised score is

    (eval_mean_return - random) / (reference - random)

so that 0 is the random policy and 1 the reference.

The table is split in two parts, each mixing the families:

- ``tune``: the part on which a set of defaults is chosen (compare configs there).
- ``holdout``: the part on which the chosen defaults are then reported, never tuned on.

The dm_control tasks (through shimmy) are in the table only when ``import shimmy`` works: a
task that cannot be made is left out of the table, never skipped at run time.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
RANDOM_FILE = HERE / "defaults_random.json"
PARTS = ("tune", "holdout")

# Sources of the references (REF_*), cited by the rows below.
REF_GYM = "Gymnasium's reward_threshold (gymnasium.spec(id).reward_threshold)"
REF_OWN = "its registration's reward_threshold (policysearch.envs.OWN_ENVS)"
# Mania, Guy and Recht (2018), "Simple random search provides a competitive approach to
# reinforcement learning", arXiv:1803.07055, Table 1: the thresholds of the MuJoCo tasks (v1
# there, v5 here), the same as benchmarks/suites.py's MUJOCO_ENVS.
REF_ARS = "ARS paper threshold (Mania et al. 2018, Table 1)"
# dm_control rewards are in [0, 1] per step and episodes last 1000 steps (Tassa et al. 2018,
# "DeepMind Control Suite", arXiv:1801.00690, section 2): 1000 is the most an episode can earn,
# an upper bound that no policy reaches (a swing-up or a start from lying down costs steps).
REF_DMC = "the most a dm_control episode can earn (1000 steps x reward <= 1; Tassa et al. 2018)"


@dataclass(frozen=True)
class Task:
    """One task of the suite.

    Attributes:
        env_id: what ``policysearch train --env`` takes.
        family: classic | box2d | mujoco | policysearch | dm_control.
        part: tune | holdout.
        reference: the score that normalises to 1.
        source: where ``reference`` comes from.
    """

    env_id: str
    family: str
    part: str
    reference: float
    source: str

    @property
    def slug(self) -> str:
        """The env id as one folder name (``/`` and ``:`` are replaced)."""
        return self.env_id.replace(":", "__").replace("/", "_")


def _shimmy() -> bool:
    return (
        importlib.util.find_spec("shimmy") is not None and importlib.util.find_spec("dm_control") is not None
    )


# fmt: off
_TASKS: list[Task] = [
    # classic control
    Task("CartPole-v1", "classic", "tune", 475.0, REF_GYM),
    Task("Acrobot-v1", "classic", "holdout", -100.0, REF_GYM),
    Task("MountainCar-v0", "classic", "tune", -110.0, REF_GYM),
    Task("MountainCarContinuous-v0", "classic", "holdout", 90.0, REF_GYM),
    # Pendulum-v1 has no reward_threshold: -200 is the target the project documents (README,
    # docs/results.md, benchmarks/suites.py), a common "solved" level for it.
    Task("Pendulum-v1", "classic", "tune", -200.0, "the project's documented target (docs/results.md)"),
    # Box2D
    Task("LunarLander-v3", "box2d", "tune", 200.0, REF_GYM),
    Task("LunarLanderContinuous-v3", "box2d", "holdout", 200.0, REF_GYM),
    Task("BipedalWalker-v3", "box2d", "holdout", 300.0, REF_GYM),
    # MuJoCo v5
    Task("InvertedPendulum-v5", "mujoco", "tune", 950.0, REF_GYM),
    Task("InvertedDoublePendulum-v5", "mujoco", "holdout", 9100.0, REF_GYM),
    Task("Reacher-v5", "mujoco", "holdout", -3.75, REF_GYM),
    # Pusher's reward_threshold is 0.0: every step costs (distances, control), so 0 is an upper
    # bound no policy reaches; its normalised scores stay below 1.
    Task("Pusher-v5", "mujoco", "tune", 0.0, REF_GYM + ", an unreachable upper bound"),
    Task("Swimmer-v5", "mujoco", "tune", 325.0, REF_ARS),
    Task("Hopper-v5", "mujoco", "tune", 3120.0, REF_ARS),
    Task("HalfCheetah-v5", "mujoco", "tune", 3430.0, REF_ARS),
    Task("Walker2d-v5", "mujoco", "holdout", 4390.0, REF_ARS),
    Task("Ant-v5", "mujoco", "holdout", 3580.0, REF_ARS),
    Task("Humanoid-v5", "mujoco", "tune", 6000.0, REF_ARS),
    # HumanoidStandup has neither a reward_threshold nor an ARS threshold. 150,000 is the level of
    # Stable-Baselines3 PPO agents published on the Hugging Face Hub (qgallouedec/ppo-HumanoidStandup-
    # v2-*, self-reported mean rewards 50k-165k, most of them 134k-165k; v2 dynamics, not v5).
    Task("HumanoidStandup-v5", "mujoco", "holdout", 150_000.0,
         "SB3 PPO agents on the Hugging Face Hub (qgallouedec/ppo-HumanoidStandup-v2-*)"),
    # the project's own envs
    Task("policysearch/CartPoleNoVelocity-v1", "policysearch", "holdout", 475.0, REF_OWN),
    Task("policysearch/Catch-v0", "policysearch", "tune", 0.9, REF_OWN),
]
_DMC_TASKS: list[Task] = [
    Task("shimmy:dm_control/cartpole-swingup-v0", "dm_control", "tune", 1000.0, REF_DMC),
    Task("shimmy:dm_control/walker-walk-v0", "dm_control", "holdout", 1000.0, REF_DMC),
]
# fmt: on

#: The suite's tasks, by env id (dm_control's only where shimmy and dm_control are installed).
TASKS: dict[str, Task] = {t.env_id: t for t in _TASKS + (_DMC_TASKS if _shimmy() else [])}


def tasks_of(part: str) -> list[Task]:
    """The tasks of ``part`` (tune | holdout | all), in the table's order."""
    if part == "all":
        return list(TASKS.values())
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}: tune, holdout or all")
    return [t for t in TASKS.values() if t.part == part]


def load_random(path: Path = RANDOM_FILE) -> dict[str, float]:
    """The measured random scores (env id -> mean return) of ``path``; {} if there is no file."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {env_id: float(entry["mean"]) for env_id, entry in data.get("tasks", {}).items()}


def normalise(score: float, random: float, reference: float) -> float:
    """``score`` on the scale where ``random`` is 0 and ``reference`` is 1."""
    if reference == random:
        raise ValueError(f"reference and random score are equal ({reference}): no scale")
    return (score - random) / (reference - random)
