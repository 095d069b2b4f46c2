"""The approximate crossentropy method: a neural policy fitted to the elite by maximum likelihood.

Each iteration samples sessions of the stochastic policy, keeps the elite (with the elite of the
last ``elite_memory`` iterations), and fits the network to the elite's (state, action) pairs with a
few epochs of minibatch Adam on the negative log-likelihood minus an entropy bonus: the lecture's
``nn.fit(elite_states, elite_actions)``. Recurrent (GRU) policies are fitted on whole sessions,
with the hidden state carried through each one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch

from ..config import Renamed, check_range
from ..errors import ConfigError
from ..optim.steps import Adam
from ..policies.base import Actor
from ..policies.numpy_policy import NumpyActor
from ..policies.weights import flatten
from ..sampling.session import Keep, Sessions, step_mask
from .base import Request
from .elite import EliteMemory, elite_quota, select_elite, select_elite_by_group
from .neural import NeuralAlgorithm
from .population import candidate_noise, noise_table_key, population_request

#: The values of the ``auto`` hyperparameters under each ``search``. Under ``actions`` the
#: candidates are sessions of one policy, whose fit needs many starts: each session its own.
#: Under ``weights`` they are different policies, ranked on common starts (as ES does), each on
#: two of them so that the elite is not fitted to one start state, with two hidden layers.
#: Pendulum-v1 without a preset, 50 candidates: one start and one layer of 32 solved seeds 0-3
#: (189-2122 iterations) but not seed 4 in 4240; two starts solved seeds 1-4 (136-193) but not
#: seed 0 in 3000; two starts and (32, 32) solved seeds 0-4 in 67-120.
AUTO: dict[str, dict[str, Any]] = {
    "actions": {"episodes_per_candidate": 1, "start_groups": 0, "hidden": (32,)},
    "weights": {"episodes_per_candidate": 2, "start_groups": 1, "hidden": (32, 32)},
}


@dataclass
class CEMConfig:
    """Hyperparameters of the approximate crossentropy method."""

    #: Candidates per iteration: sessions, or with ``episodes_per_candidate`` > 1 perturbed
    #: copies of the network (``param_noise``), or weight vectors (``search=weights``), each
    #: played that many times.
    n_sessions: int = 50
    #: Sessions per candidate; a candidate is scored by their average return, so that lucky
    #: starts do not win (useful with ``param_noise``, where candidates differ). ``auto``: 1
    #: under ``search=actions``, 2 under ``weights`` (:data:`AUTO`).
    episodes_per_candidate: int | Literal["auto"] = "auto"
    #: Common random numbers (0: off). The candidates of an iteration form this many groups
    #: (candidate ``c`` in group ``c % start_groups``); a group's candidates meet the same start
    #: states (each its ``k``-th session like the others' ``k``-th), and the elite is chosen
    #: within each group, so that candidates are ranked by how they play rather than by where
    #: they start (Pendulum, whose return depends more on the start state than on the policy).
    #: The remembered elite of past iterations joins the fit. ``auto``: 0 under
    #: ``search=actions``, 1 under ``weights`` (:data:`AUTO`).
    start_groups: int | Literal["auto"] = "auto"
    #: How the elite is chosen among start groups: ``within`` (the top ``percentile`` of each
    #: group) or ``relative`` (the top ``percentile`` of all candidates by how far they beat
    #: their group's mean return, so that the groups whose candidates differ most, where the
    #: actions decided the outcome, give most of the elite).
    group_selection: Literal["within", "relative"] = "within"
    #: Elite threshold: sessions at or above this percentile of the returns are the elite.
    percentile: float = 70.0
    #: Iterations whose elite take part in the threshold and the fit (1: only the current). The
    #: memory holds the last ``elite_memory - 1`` elites: an iteration none of whose sessions made
    #: the elite (all below the remembered ones) adds none, and the older ones stay. With
    #: ``start_groups`` the remembered elite joins the fit without competing (its scores are from
    #: other start states), and each group adds its elite.
    elite_memory: int = 1
    #: Hidden layer sizes (mlp), or the hidden state size (gru: the first entry). ``auto``: (32,)
    #: under ``search=actions``, (32, 32) under ``weights`` (:data:`AUTO`).
    hidden: tuple[int, ...] | Literal["auto"] = "auto"
    #: Hidden activation.
    activation: Literal["tanh", "relu"] = "tanh"
    #: The Gaussian policy's standard deviation: ``parameter`` (a learned log std per action
    #: dimension) or ``network`` (an output of the net, so it depends on the state).
    std_head: Literal["parameter", "network"] = "parameter"
    #: Initial log standard deviation of a Gaussian policy.
    init_log_std: float = 0.0
    #: Adam learning rate of the fit.
    learning_rate: float = 3e-3
    #: Passes over the elite per iteration.
    epochs: int = 5
    #: Minibatch size in (state, action) pairs (a GRU takes whole sessions, as many as make about
    #: this many pairs).
    batch_size: int = 256
    #: Smooth update, as the tabular method's: W <- alpha * W_fit + (1 - alpha) * W under
    #: ``search=actions``; under ``weights`` the search's mean and variance are smoothed alike
    #: (1: the fit replaces them). Below 1, one iteration's lucky elite moves the policy less.
    alpha: float = 1.0
    #: Entropy bonus weight (against premature collapse).
    entropy_coef: float = 1e-3
    #: Normalise observations by their running mean and standard deviation (on by default, as
    #: in ES and CMA-ES: raw observations of control tasks differ in scale by orders of magnitude).
    normalize_obs: bool = True
    #: Exploration in parameter space: each session plays its own copy of the network, its weights
    #: perturbed by Gaussian noise of this standard deviation (0: off). Finds the rare successes
    #: of tasks such as MountainCar, where per-step action noise never builds up momentum.
    param_noise: float = 0.0
    #: Factor applied to ``param_noise`` after every iteration (1: constant), down to 5% of it.
    param_noise_decay: float = 1.0
    #: What the elite is fitted in: ``actions`` (the network is fitted to the elite's state-action
    #: pairs by maximum likelihood) or ``weights`` (the lecture's black-box view: the candidates
    #: are weight vectors drawn from a Gaussian N(mu, diag sigma^2), each played deterministically,
    #: and mu and sigma become the elite's mean and standard deviation; a gait or a swing-up is
    #: explored in the weights rather than by per-step action noise).
    #: ``auto``: weights for continuous (Box) actions, where per-step action noise explores
    #: poorly, actions for discrete ones.
    search: Literal["auto", "actions", "weights"] = "auto"
    #: ``search=weights``: the initial standard deviation of every weight.
    weight_std: float = 0.5
    #: ``search=weights``: the floor of every weight's standard deviation, so that the search
    #: never collapses onto one policy before it is good.
    weight_std_min: float = 0.1
    #: ``search=weights``: numbers in the shared noise table the candidates are drawn from.
    noise_table_size: int = 10_000_000

    #: What fields added since a run was stored did then: a checkpoint without ``search`` was
    #: trained by fitting the elite's actions, and resumes that way.
    stored_before: ClassVar[dict[str, Any]] = {"search": "actions"}

    #: Former names of fields (accepted with a deprecation warning).
    renamed: ClassVar[dict[str, Renamed]] = {
        "n_simulations": Renamed("episodes_per_candidate"),
        "sigma": Renamed("std_head"),
    }

    def __post_init__(self) -> None:
        check_range("n_sessions", self.n_sessions, 1)
        if self.episodes_per_candidate != "auto":
            check_range("episodes_per_candidate", self.episodes_per_candidate, 1)
        if self.start_groups != "auto":
            check_range("start_groups", self.start_groups, 0)
        check_range("percentile", self.percentile, 0, 100)
        check_range("elite_memory", self.elite_memory, 1, 20)
        for size in () if self.hidden == "auto" else self.hidden:
            check_range("hidden", size, 1)
        check_range("init_log_std", self.init_log_std, -5, 2)
        check_range("learning_rate", self.learning_rate, 0, low_open=True)
        check_range("epochs", self.epochs, 1)
        check_range("batch_size", self.batch_size, 1)
        check_range("alpha", self.alpha, 0, 1, low_open=True)
        check_range("entropy_coef", self.entropy_coef, 0)
        check_range("param_noise", self.param_noise, 0)
        check_range("param_noise_decay", self.param_noise_decay, 0, 1, low_open=True)
        check_range("weight_std", self.weight_std, 0, low_open=True)
        check_range("weight_std_min", self.weight_std_min, 0)
        check_range("noise_table_size", self.noise_table_size, 1000)


def resolve_auto(config: CEMConfig, action_space: gym.Space[Any]) -> CEMConfig:
    """The config with every ``auto`` replaced.

    ``search`` by the action space (``weights`` for Box actions, else ``actions``), the rest from
    :data:`AUTO` for that search.

    Raises:
        ConfigError: for an option of the other search: ``param_noise`` or the fit's options
            (``learning_rate``, ``epochs``, ``batch_size``, ``entropy_coef``, ``init_log_std``)
            under ``search=weights``, which would have no effect; or more start groups than
            the percentile's elite (each group keeps at least one).
    """
    search = config.search
    if search == "auto":
        search = "weights" if isinstance(action_space, gym.spaces.Box) else "actions"
    if search == "weights" and config.param_noise:
        raise ConfigError("param_noise perturbs the network of search=actions; search=weights has weight_std")
    if search == "weights":
        fit = fit_options_set(config)
        if fit:
            raise ConfigError(
                f"{fit[0]} tunes the fit of search=actions to the elite's actions; search=weights "
                "refits a Gaussian over the weights instead (alpha, weight_std, weight_std_min)"
            )
    chosen = {k: v for k, v in AUTO[search].items() if getattr(config, k) == "auto"}
    resolved = dataclasses.replace(config, search=search, **chosen)
    quota = elite_quota(resolved.n_sessions, resolved.percentile)
    if resolved.group_selection == "within" and int(resolved.start_groups) > quota:
        raise ConfigError(
            f"start_groups={resolved.start_groups} is more than the {quota} elite that percentile="
            f"{resolved.percentile:g} keeps of {resolved.n_sessions} candidates, and each start group "
            "keeps at least one: use fewer start groups, or group_selection=relative"
        )
    return resolved


#: Options of the fit to the elite's actions (``search=actions``), which ``search=weights`` has not.
FIT_OPTIONS = ("learning_rate", "epochs", "batch_size", "entropy_coef", "init_log_std")


def fit_options_set(config: CEMConfig) -> list[str]:
    """The options of the fit over actions (:data:`FIT_OPTIONS`) that ``config`` sets to other values."""
    defaults = CEMConfig()
    return [name for name in FIT_OPTIONS if getattr(config, name) != getattr(defaults, name)]


class CEM(NeuralAlgorithm):
    """Crossentropy method with a linear, MLP, GRU or cnn policy (categorical or Gaussian actions)."""

    name = "cem"
    config_class = CEMConfig
    config: CEMConfig
    memory: EliteMemory
    smoke_hyperparameters: ClassVar[dict[str, Any]] = {
        "n_sessions": 16,
        "hidden": [8],
        "elite_memory": 2,
        "normalize_obs": True,
    }

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        config: CEMConfig,
        rng: np.random.Generator,
        policy: str = "mlp",
    ) -> None:
        config = resolve_auto(config, action_space)
        super().__init__(observation_space, action_space, config, rng, policy)
        self.updates = 0
        #: ``search`` (resolved: ``actions`` or ``weights``).
        self.search = config.search
        #: Sessions per candidate and start groups (resolved).
        self.episodes_per_candidate, self.start_groups = (
            int(config.episodes_per_candidate),
            int(config.start_groups),
        )
        if self.search == "weights":
            self.mu = flatten(self.net)
            self.table = noise_table_key(config.noise_table_size, rng, self.mu.size)
            self.sigma = np.full(self.mu.size, config.weight_std)
            entry: dict[str, tuple[int | str, ...]] = {"scores": ("k",), "vectors": ("k", self.mu.size)}
        else:  # each elite candidate's sessions (T steps), as _take cuts them
            sessions = f"k*{self.episodes_per_candidate}"
            act = (self.spec.act_dim,) if self.spec.action == "gaussian" else ()
            entry = {
                "scores": ("k",),
                "obs": ("T", sessions, *self.spec.obs_shape),
                "actions": ("T", sessions, *act),
                "lengths": (sessions,),
            }
        self.memory = EliteMemory(config.elite_memory - 1, entry)

    @property
    def param_noise(self) -> float:
        """The parameter noise of this iteration (after its decay)."""
        cfg = self.config
        return cfg.param_noise * max(cfg.param_noise_decay**self.updates, 0.05)

    def actor(self, deterministic: bool) -> NumpyActor:
        """The current policy as a numpy actor."""
        mean, std = self._norm()
        return NumpyActor(self.spec, self.net.numpy_params(), mean, std, deterministic=deterministic)

    def ask(self, rng: np.random.Generator) -> Request:
        """Sessions of the current stochastic policy (each with its own weights under param_noise)."""
        cfg = self.config
        k, groups = self.episodes_per_candidate, self.start_groups
        if self.search == "weights":
            assert self.table is not None  # made with the weights searched
            mean, std = self._norm()
            return population_request(
                self.spec,
                self.layout,
                self.table,
                self.mu,
                self.sigma,
                rng,
                cfg.n_sessions,
                False,
                k,
                groups,
                mean,
                std,
            )
        if cfg.param_noise == 0:
            return Request(self.actor(deterministic=False), cfg.n_sessions, k, groups)
        params = self.net.numpy_params()
        stacked = {}
        for name, value in params.items():
            copies = np.repeat(value, cfg.n_sessions, axis=0)
            if name != "log_std":
                copies = copies + self.param_noise * rng.standard_normal(copies.shape).astype(np.float32)
            stacked[name] = copies
        mean, std = self._norm()
        return Request(NumpyActor(self.spec, stacked, mean, std, group=k), cfg.n_sessions, k, groups)

    @property
    def keep(self) -> Keep:
        """The steps for the fit over actions; over weights, what a search over weights reads."""
        return super().keep if self.search == "weights" else "steps"

    @property
    def keeps_less(self) -> str:
        """Over actions: the search over weights, which keeps no steps.

        Not where the config holds options of the fit over actions (``param_noise``, the fit's),
        which the search over weights refuses.
        """
        if self.search == "weights" or self.config.param_noise or fit_options_set(self.config):
            return ""
        return (
            'a search over the weights, which keeps no steps (--set search=weights; search="weights" '
            "in Python)"
        )

    def greedy_actor(self) -> Actor:
        """The argmax, or the Gaussian mean (with ``search=weights``, of the mean weights mu)."""
        if self.search == "weights":
            return self.vector_actor(self.mu[None])
        return self.actor(deterministic=True)

    # -- learning ------------------------------------------------------------------------------

    def _tell(self, request: Request, sessions: Sessions, rng: np.random.Generator) -> dict[str, float]:
        """Select the elite candidates (with the remembered elite) and fit the policy to them."""
        cfg = self.config
        scores = request.scores(sessions.returns)
        if self.search == "weights":
            assert self.table is not None
            vectors = self.mu + self.sigma * candidate_noise(request, self.table, self.mu.size)
            current = {"scores": scores, "vectors": vectors}
        else:
            current = {
                "scores": scores,
                "obs": sessions.observations,
                "actions": sessions.actions,
                "lengths": sessions.lengths,
            }
        memory = self.memory.entries
        pool = [current, *memory]
        if self.start_groups:
            fresh_elite, threshold = select_elite_by_group(
                scores,
                self.start_groups,
                cfg.percentile,
                rng,
                fill_with_worst=False,
                relative=cfg.group_selection == "relative",
            )
            remembered = np.ones(sum(m["scores"].size for m in memory), dtype=bool)
            elite = np.concatenate([fresh_elite, remembered])
        else:
            pooled = np.concatenate([m["scores"] for m in pool])
            elite, threshold = select_elite(pooled, cfg.percentile, rng, fill_with_worst=False)
        chosen, offset = [], 0
        for m in pool:
            keep = np.flatnonzero(elite[offset : offset + m["scores"].size])
            offset += m["scores"].size
            if keep.size:
                chosen.append(_take(m, keep))
        metrics = {
            "mean_score": float(scores.mean()),
            "elite_threshold": float(threshold),
            "elite_size": float(elite.sum()),
        }
        if self.search == "weights":
            metrics.update(self._fit_weights(np.concatenate([m["vectors"] for m in chosen])))
        else:
            metrics.update(self._fit_actions(chosen, rng))
        self.updates += 1
        fresh = np.flatnonzero(elite[: scores.size])
        if cfg.elite_memory > 1 and fresh.size:
            self.memory.push(_take(current, fresh))
        return metrics

    def _fit_weights(self, elite: np.ndarray) -> dict[str, float]:
        """Refit: mu and sigma become the elite's mean and standard deviation (smoothed by alpha, floored)."""
        cfg = self.config
        # --8<-- [start:fit-weights]
        variance = cfg.alpha * elite.var(axis=0) + (1 - cfg.alpha) * self.sigma**2
        self.mu = cfg.alpha * elite.mean(axis=0) + (1 - cfg.alpha) * self.mu
        self.sigma = np.maximum(np.sqrt(variance), cfg.weight_std_min)
        # --8<-- [end:fit-weights]
        return {"weight_std": float(self.sigma.mean())}

    def _fit_actions(self, chosen: list[dict[str, np.ndarray]], rng: np.random.Generator) -> dict[str, float]:
        """Fit the network to the elite's state-action pairs (smoothed by alpha)."""
        cfg = self.config
        before = [p.detach().clone() for p in self.net.parameters()] if cfg.alpha < 1 else []
        loss, entropy = self._fit(chosen, rng)
        # --8<-- [start:smooth-weights]
        if before:
            with torch.no_grad():
                for p, old in zip(self.net.parameters(), before, strict=True):
                    p.mul_(cfg.alpha).add_(old, alpha=1 - cfg.alpha)
        # --8<-- [end:smooth-weights]
        return {"loss": loss, "entropy": entropy, "param_noise": self.param_noise}

    def _fit(self, elite: list[dict[str, np.ndarray]], rng: np.random.Generator) -> tuple[float, float]:
        cfg = self.config
        mean, std = self._norm()
        optimizer = Adam(list(self.net.parameters()), lr=cfg.learning_rate)
        if self.spec.recurrent:
            batches = _sequence_batches(elite, cfg.batch_size)
        else:
            obs = np.concatenate([_flat(m, "obs") for m in elite])
            actions = np.concatenate([_flat(m, "actions") for m in elite])
            x_all = self.net.preprocess(obs, mean, std)
            a_all = torch.as_tensor(actions)
        losses, entropies = [], []
        for _ in range(cfg.epochs):
            if self.spec.recurrent:
                order = rng.permutation(len(batches))
                steps = [batches[i] for i in order]
            else:
                perm = rng.permutation(len(x_all))
                steps = [perm[i : i + cfg.batch_size] for i in range(0, len(perm), cfg.batch_size)]
            # --8<-- [start:fit-step]
            for step in steps:
                if self.spec.recurrent:
                    obs_seq, act_seq, mask = step
                    out = self.net(self.net.preprocess(obs_seq, mean, std))
                    logp, ent = self.net.log_prob_entropy(out, torch.as_tensor(act_seq))
                    weight = torch.as_tensor(mask, dtype=torch.float32)
                    nll = -(logp * weight).sum() / weight.sum()
                    ent_mean = (ent * weight).sum() / weight.sum()
                else:
                    idx = torch.as_tensor(step)
                    out = self.net(x_all[idx])
                    logp, ent = self.net.log_prob_entropy(out, a_all[idx])
                    nll, ent_mean = -logp.mean(), ent.mean()
                loss = nll - cfg.entropy_coef * ent_mean
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                # --8<-- [end:fit-step]
                losses.append(float(nll.detach()))
                entropies.append(float(ent_mean.detach()))
        return float(np.mean(losses)), float(np.mean(entropies))

    # -- state ---------------------------------------------------------------------------------

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """Network weights and the number of updates (for the decay of ``param_noise``)."""
        arrays = {f"policy.{k}": v.detach().numpy().copy() for k, v in self.net.state_dict().items()}
        arrays["cem.updates"] = np.array(self.updates)
        if self.search == "weights":
            arrays["cem.mu"], arrays["cem.sigma"] = self.mu.copy(), self.sigma.copy()
        return arrays

    def _load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`_state_arrays`."""
        weights = {
            k[len("policy.") :]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith("policy.")
        }
        expected = set(self.net.state_dict())
        missing, unknown = sorted(expected - set(weights)), sorted(set(weights) - expected)
        if missing or unknown:
            raise ConfigError(
                f"checkpoint weights do not fit this policy: missing {missing or 'none'}, "
                f"not of this policy {unknown or 'none'}"
            )
        try:
            self.net.load_state_dict(weights)
        except RuntimeError as exc:  # torch's message names each shape that differs, a line each
            detail = " ".join(str(exc).split())
            raise ConfigError(f"checkpoint weights do not fit this policy: {detail}") from None
        self.updates = int(arrays["cem.updates"])
        if self.search == "weights":
            if "cem.mu" not in arrays:
                raise ConfigError("checkpoint does not hold this policy's search=weights distribution")
            self.mu = np.asarray(arrays["cem.mu"], dtype=np.float64).copy()
            self.sigma = np.asarray(arrays["cem.sigma"], dtype=np.float64).copy()


def _take(m: dict[str, np.ndarray], candidates: np.ndarray) -> dict[str, np.ndarray]:
    """The given candidates of a batch, each with all its sessions, cut to their longest one."""
    if "vectors" in m:  # search=weights: a candidate is its weight vector
        return {"scores": m["scores"][candidates], "vectors": m["vectors"][candidates]}
    group = m["lengths"].size // m["scores"].size
    idx = (candidates[:, None] * group + np.arange(group)).ravel()
    horizon = int(m["lengths"][idx].max())
    return {
        "scores": m["scores"][candidates],
        "obs": m["obs"][:horizon, idx],
        "actions": m["actions"][:horizon, idx],
        "lengths": m["lengths"][idx],
    }


def _flat(m: dict[str, np.ndarray], key: str) -> np.ndarray:
    """Every step of an elite entry's sessions (time-major padded arrays), flat."""
    return m[key][step_mask(m["lengths"], m["obs"].shape[0])]


def _sequence_batches(
    elite: list[dict[str, np.ndarray]], pairs: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Elite sessions in padded time-major minibatches of about ``pairs`` steps, with masks."""
    out = []
    for m in elite:
        size = max(1, round(pairs / max(1.0, float(m["lengths"].mean()))))
        for start in range(0, m["lengths"].size, size):
            cut = slice(start, start + size)
            lengths = m["lengths"][cut]
            horizon = int(lengths.max())
            mask = np.arange(horizon)[:, None] < lengths[None, :]
            out.append((m["obs"][:horizon, cut], m["actions"][:horizon, cut], mask))
    return out
