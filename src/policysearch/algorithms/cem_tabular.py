"""The tabular crossentropy method, as the lecture gives it.

Each iteration samples sessions (or deterministic candidate policies, each simulated several
times), keeps the elite at or above a percentile of the scores, and moves the policy matrix towards
the elite's normalised (state, action) counts with Laplace smoothing and a smooth update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from ..config import Renamed, check_range
from ..errors import ConfigError, EnvError
from ..policies.base import Actor
from ..policies.tabular import StochasticTableActor, TableActor, new_policy, sample_tables
from ..sampling.session import Sessions
from .base import Algorithm, Request
from .elite import EliteMemory, select_elite


@dataclass
class TabularCEMConfig:
    """Hyperparameters of the tabular crossentropy method."""

    #: Candidates per iteration: sessions, or deterministic policies with
    #: ``episodes_per_candidate`` > 1.
    n_sessions: int = 5000
    #: Elite threshold: candidates at or above this percentile of the scores are the elite.
    percentile: float = 50.0
    #: Laplace smoothing lambda added to every (state, action) count.
    smoothing: float = 0.5
    #: Smooth update: pi <- alpha * pi_new + (1 - alpha) * pi.
    alpha: float = 0.3
    #: Sessions per candidate (stochastic MDPs: the lecture's several simulations per policy): a
    #: candidate is then a deterministic policy drawn from pi (one action per state), scored by the
    #: average return of its sessions.
    episodes_per_candidate: int = 1
    #: Play deterministic candidates even with a single simulation each.
    deterministic_candidates: bool = False
    #: Iterations whose elite take part in the threshold and the update (1: only the current).
    elite_memory: int = 1

    #: Apply the smooth update to states the elite did not visit too (the lecture's literal
    #: formula, which pulls their rows back towards uniform and forgets what was learned there).
    update_unvisited: bool = False

    #: Other names accepted for fields (the lecture writes lambda).
    aliases: ClassVar[dict[str, str]] = {"lambda": "smoothing"}
    #: Former names of fields (accepted with a deprecation warning).
    renamed: ClassVar[dict[str, Renamed]] = {"n_simulations": Renamed("episodes_per_candidate")}

    def __post_init__(self) -> None:
        check_range("n_sessions", self.n_sessions, 1)
        check_range("percentile", self.percentile, 0, 100)
        check_range("smoothing", self.smoothing, 0)
        check_range("alpha", self.alpha, 0, 1, low_open=True)
        check_range("episodes_per_candidate", self.episodes_per_candidate, 1)
        check_range("elite_memory", self.elite_memory, 1, 20)


class TabularCEM(Algorithm):
    """Crossentropy method over a policy matrix pi(a|s), for Discrete observations and actions."""

    name = "cem"
    policies = ("tabular",)
    config_class = TabularCEMConfig
    config: TabularCEMConfig
    memory: EliteMemory
    smoke_hyperparameters: ClassVar[dict[str, Any]] = {"n_sessions": 200, "elite_memory": 2}

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        config: TabularCEMConfig,
        rng: np.random.Generator,
        policy: str = "tabular",
    ) -> None:
        super().__init__(observation_space, action_space, config, rng, policy)
        assert isinstance(observation_space, gym.spaces.Discrete)
        assert isinstance(action_space, gym.spaces.Discrete)
        self.n_states, self.n_actions = int(observation_space.n), int(action_space.n)
        self.obs_start, self.act_start = int(observation_space.start), int(action_space.start)
        self.probs = np.full((self.n_states, self.n_actions), 1.0 / self.n_actions)
        # Elite of past iterations: their scores, and their (state, action) pairs with the index
        # of the elite member each pair belongs to.
        self.memory = EliteMemory(
            config.elite_memory - 1,
            {"scores": ("k",), "states": ("m",), "actions": ("m",), "owners": ("m",)},
            {"states": self.n_states, "actions": self.n_actions, "owners": "k"},
        )

    @classmethod
    def check_spaces(
        cls, observation_space: gym.Space[Any], action_space: gym.Space[Any], policy: str
    ) -> None:
        """Tabular CEM needs Discrete observations and Discrete actions."""
        if not isinstance(observation_space, gym.spaces.Discrete):
            raise EnvError(
                f"--policy tabular needs a Discrete observation space, but the env has "
                f"{observation_space}; use --policy linear or mlp"
            )
        if not isinstance(action_space, gym.spaces.Discrete):
            raise EnvError(f"tabular CEM needs a Discrete action space, but the env has {action_space}")

    @classmethod
    def default_policy(cls, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> str | None:
        """The policy matrix, for Discrete observations and actions."""
        discrete = isinstance(observation_space, gym.spaces.Discrete)
        return "tabular" if discrete and isinstance(action_space, gym.spaces.Discrete) else None

    @property
    def _deterministic(self) -> bool:
        return self.config.deterministic_candidates or self.config.episodes_per_candidate > 1

    def ask(self, rng: np.random.Generator) -> Request:
        """Sessions of the current pi, or deterministic candidates drawn from it."""
        cfg = self.config
        if self._deterministic:
            tables = sample_tables(self.probs, cfg.n_sessions, rng)
            k = cfg.episodes_per_candidate
            actor: Actor = self._shift(TableActor(tables, k))
            return Request(actor, cfg.n_sessions, k)
        return Request(self._shift(StochasticTableActor(self.probs)), cfg.n_sessions)

    def _tell(self, request: Request, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Select the elite (with the remembered elite of past iterations) and refit pi."""
        cfg = self.config
        # Per-candidate scores and pairs.
        scores = request.scores(sessions.returns)
        candidate_of_session = np.arange(sessions.n) // request.episodes_per_candidate
        mask_t = sessions.mask()
        states, actions = sessions.observations[mask_t], sessions.actions[mask_t]
        owners = np.broadcast_to(candidate_of_session[None, :], mask_t.shape)[mask_t]
        states = states - self.obs_start
        actions = actions - self.act_start

        memory = self.memory.entries
        pool_scores = np.concatenate([scores, *[m["scores"] for m in memory]])
        elite, threshold = select_elite(pool_scores, cfg.percentile, rng)
        current_elite = np.flatnonzero(elite[: scores.size])
        keep = np.isin(owners, current_elite)
        elite_states, elite_actions = [states[keep]], [actions[keep]]
        offset = scores.size
        for m in memory:
            chosen = np.flatnonzero(elite[offset : offset + m["scores"].size])
            take = np.isin(m["owners"], chosen)
            elite_states.append(m["states"][take])
            elite_actions.append(m["actions"][take])
            offset += m["scores"].size
        # --8<-- [start:refit]
        target = new_policy(
            np.concatenate(elite_states),
            np.concatenate(elite_actions),
            self.n_states,
            self.n_actions,
            cfg.smoothing,
        )
        updated = cfg.alpha * target + (1.0 - cfg.alpha) * self.probs
        if cfg.update_unvisited:
            self.probs = updated
        else:
            visited = np.zeros(self.n_states, dtype=bool)
            for part in elite_states:
                visited[part] = True
            self.probs = np.where(visited[:, None], updated, self.probs)
        # --8<-- [end:refit]

        if cfg.elite_memory > 1:
            remap = np.full(scores.size, -1)
            remap[current_elite] = np.arange(current_elite.size)
            entry = {
                "scores": scores[current_elite],
                "states": states[keep],
                "actions": actions[keep],
                "owners": remap[owners[keep]],
            }
            self.memory.push(entry)
        return {
            "mean_score": float(scores.mean()),
            "elite_threshold": float(threshold),
            "elite_size": float(elite.sum()),
        }

    def _shift(self, actor: Actor) -> Actor:
        if self.obs_start == 0 and self.act_start == 0:
            return actor
        return _Shifted(actor, self)

    def greedy_actor(self) -> Actor:
        """argmax_a pi(a|s) in every state."""
        return self._shift(TableActor(self.probs.argmax(axis=1)))

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The policy matrix."""
        return {"probs": self.probs}

    def _load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the policy matrix."""
        probs = np.asarray(arrays["probs"], dtype=np.float64)
        if probs.shape != self.probs.shape:
            raise ConfigError(f"checkpoint policy has shape {probs.shape}, the env needs {self.probs.shape}")
        self.probs = probs


class _Shifted:
    """Adapts an actor on 0-based states and actions to spaces with a non-zero ``start``."""

    def __init__(self, inner: Any, algo: TabularCEM) -> None:
        self.inner = inner
        self.noise_dim = inner.noise_dim
        self.noise_kind = inner.noise_kind
        self.obs_start, self.act_start = algo.obs_start, algo.act_start

    def act(self, obs: np.ndarray, index: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Shift states down, actions up."""
        return self.inner.act(np.asarray(obs) - self.obs_start, index, noise) + self.act_start
