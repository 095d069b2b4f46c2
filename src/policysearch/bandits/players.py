"""Baselines for the banner-ad environments, and a runner that tracks reward and regret per round.

The lecture's two problems, side by side:

- **myopic**: always the banner of highest immediate expected reward (read from
  ``info["expected_rewards"]``, so it is an oracle on ``policysearch/BannerAds-v0``). On
  ``policysearch/BannerAdsRetention-v0`` it always shows the clickbait and loses the users;
  **honest** is the same but never shows a clickbait banner (``env.clickbait_banners``).
- **duct tape** (:class:`DuctTapePlayer`): start with a naive policy, log the data, fit a
  classifier situation -> best banner, then always show the predicted best. It never learns about
  banners it does not show: regret linear in the number of rounds when the best banner is new.
- **bandit explorers** (:class:`EpsilonGreedyPlayer`, :class:`UCB1Player`,
  :class:`ThompsonSamplingPlayer`): one independent multi-armed bandit per user segment (the
  environment's ``context_of(observation)``, ``n_contexts`` segments).

Every player (a bandit baseline) has ``act(observation, info) -> action`` and
``update(observation, action, reward, info)``. :func:`make_player` builds one by name for an
environment, :func:`run` plays it for a number of rounds and returns a :class:`RoundLog`, and
:func:`compare` does both over seeds::

    from policysearch.bandits import compare

    logs = compare("policysearch/BannerAds-v0", ["duct_tape", "thompson"], rounds=2000,
                   env_kwargs={"new_banner": True})
    logs["thompson"][0].cumulative_regret[-1]

The regret of a round is ``max(info["expected_rewards"]) - info["expected_rewards"][action]``
at the state where the action was chosen (the immediate regret; on the retention MDP it is not
the long-term loss, which is the point of the clickbait question).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import gymnasium as gym
import numpy as np

from ..config import check_int, check_range
from ..envs.make import close_env, env_call
from ..errors import ConfigError, EnvError

ContextFn = Callable[[np.ndarray], int]
Unit = Literal["step", "episode"]


class Player(Protocol):
    """What :func:`run` plays: chooses an action, then learns from its reward."""

    def act(self, observation: np.ndarray, info: Mapping[str, Any]) -> int:
        """The action for this observation (``info`` is the one returned with it)."""
        ...

    def update(self, observation: np.ndarray, action: int, reward: float, info: Mapping[str, Any]) -> None:
        """Learn from the reward of ``action`` in the state of ``observation`` and ``info``."""
        ...


def _argmax(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the maximum, ties broken uniformly at random."""
    best = np.flatnonzero(values == values.max())
    return int(best[0] if best.size == 1 else rng.choice(best))


def _single_context(observation: np.ndarray) -> int:
    return 0


class MyopicPlayer:
    """Always the action of highest immediate expected reward, from ``info["expected_rewards"]``.

    Args:
        exclude: actions never to take (e.g. clickbait banners: the "honest" policy).
    """

    def __init__(self, exclude: Sequence[int] = ()) -> None:
        self.exclude = tuple(int(a) for a in exclude)

    def act(self, observation: np.ndarray, info: Mapping[str, Any]) -> int:
        """The best allowed action by expected reward (the lowest index on ties)."""
        values = np.array(info["expected_rewards"], dtype=np.float64)
        values[list(self.exclude)] = -np.inf
        return int(np.argmax(values))

    def update(self, observation: np.ndarray, action: int, reward: float, info: Mapping[str, Any]) -> None:
        """Nothing to learn."""


class _SegmentBandit:
    """Shared state of the tabular explorers: pulls and reward sums per (segment, action)."""

    def __init__(
        self,
        n_actions: int,
        n_contexts: int,
        context_fn: ContextFn | None,
        rng: np.random.Generator | None,
    ) -> None:
        if isinstance(n_actions, bool) or int(n_actions) != n_actions:
            raise ConfigError(f"n_actions must be an integer, not {n_actions!r}")
        check_range("n_actions", n_actions, 1)
        check_range("n_contexts", n_contexts, 1)
        self.n_actions = int(n_actions)
        self.n_contexts = int(n_contexts)
        self.context_fn: ContextFn = context_fn or _single_context
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.counts = np.zeros((self.n_contexts, self.n_actions), dtype=np.int64)
        self.sums = np.zeros((self.n_contexts, self.n_actions), dtype=np.float64)

    def _context(self, observation: np.ndarray) -> int:
        c = int(self.context_fn(observation))
        if not 0 <= c < self.n_contexts:
            raise ValueError(f"context {c} is outside [0, {self.n_contexts})")
        return c

    def _untried(self, c: int) -> int | None:
        untried = np.flatnonzero(self.counts[c] == 0)
        return int(self.rng.choice(untried)) if untried.size else None

    def means(self, context: int) -> np.ndarray:
        """Mean reward of each action in a segment (0 for untried actions)."""
        return self.sums[context] / np.maximum(self.counts[context], 1)

    def update(self, observation: np.ndarray, action: int, reward: float, info: Mapping[str, Any]) -> None:
        """Count the pull and add its reward."""
        c = self._context(observation)
        self.counts[c, action] += 1
        self.sums[c, action] += float(reward)


class EpsilonGreedyPlayer(_SegmentBandit):
    """Epsilon-greedy per segment: each action once, then a random one with probability epsilon.

    Args:
        n_actions: number of actions.
        epsilon: probability of a uniformly random action, in [0, 1].
        n_contexts: number of segments.
        context_fn: observation -> segment in ``[0, n_contexts)`` (None: one segment).
        rng: the generator for exploration and tie-breaking.
    """

    def __init__(
        self,
        n_actions: int,
        epsilon: float = 0.1,
        n_contexts: int = 1,
        context_fn: ContextFn | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(n_actions, n_contexts, context_fn, rng)
        check_range("epsilon", epsilon, 0.0, 1.0)
        self.epsilon = float(epsilon)

    def act(self, observation: np.ndarray, info: Mapping[str, Any]) -> int:
        """An untried action, else a random action with probability epsilon, else the best mean."""
        c = self._context(observation)
        untried = self._untried(c)
        if untried is not None:
            return untried
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_actions))
        return _argmax(self.means(c), self.rng)


class UCB1Player(_SegmentBandit):
    """UCB1 per segment: each action once, then the highest ``mean + sqrt(c ln n / n_a)``.

    Args:
        n_actions: number of actions.
        c: exploration constant (2 is Auer et al.'s UCB1 for rewards in [0, 1]), positive.
        n_contexts: number of segments.
        context_fn: observation -> segment in ``[0, n_contexts)`` (None: one segment).
        rng: the generator for tie-breaking.
    """

    def __init__(
        self,
        n_actions: int,
        c: float = 2.0,
        n_contexts: int = 1,
        context_fn: ContextFn | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(n_actions, n_contexts, context_fn, rng)
        check_range("c", c, 0.0, low_open=True)
        self.c = float(c)

    def act(self, observation: np.ndarray, info: Mapping[str, Any]) -> int:
        """An untried action, else the highest upper confidence bound."""
        ctx = self._context(observation)
        untried = self._untried(ctx)
        if untried is not None:
            return untried
        counts = self.counts[ctx]
        bonus = np.sqrt(self.c * np.log(counts.sum()) / counts)
        return _argmax(self.means(ctx) + bonus, self.rng)


class ThompsonSamplingPlayer(_SegmentBandit):
    """Beta-Bernoulli Thompson sampling per segment.

    Each (segment, action) has a Beta posterior over its click probability; an action is chosen
    by drawing one probability from each posterior and taking the largest. A reward ``r`` in
    [0, 1] that is not 0 or 1 counts as a Bernoulli(r) draw (Agrawal and Goyal's trick).

    Args:
        n_actions: number of actions.
        prior: the Beta prior ``(alpha, beta)``, both positive.
        n_contexts: number of segments.
        context_fn: observation -> segment in ``[0, n_contexts)`` (None: one segment).
        rng: the generator for the posterior draws.
    """

    def __init__(
        self,
        n_actions: int,
        prior: tuple[float, float] = (1.0, 1.0),
        n_contexts: int = 1,
        context_fn: ContextFn | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(n_actions, n_contexts, context_fn, rng)
        try:
            alpha, beta = (float(v) for v in prior)
        except (TypeError, ValueError):
            raise ConfigError(f"prior must be two positive numbers [alpha, beta], not {prior!r}") from None
        check_range("prior alpha", alpha, 0.0, low_open=True)
        check_range("prior beta", beta, 0.0, low_open=True)
        self.prior = (float(alpha), float(beta))

    def act(self, observation: np.ndarray, info: Mapping[str, Any]) -> int:
        """The action whose posterior draw is largest."""
        c = self._context(observation)
        successes = self.sums[c]
        failures = self.counts[c] - successes
        draws = self.rng.beta(self.prior[0] + successes, self.prior[1] + failures)
        return _argmax(draws, self.rng)

    def update(self, observation: np.ndarray, action: int, reward: float, info: Mapping[str, Any]) -> None:
        """Add a success or a failure to the posterior of ``action`` in the segment.

        Raises:
            ConfigError: for a reward outside [0, 1] (an env that this baseline does not suit).
        """
        r = float(reward)
        if not 0.0 <= r <= 1.0:
            raise ConfigError(
                f"thompson needs rewards in [0, 1] (clicks), and the env gave {reward!r}; "
                "epsilon_greedy and ucb1 take any rewards"
            )
        if r not in (0.0, 1.0):
            r = float(self.rng.random() < r)
        super().update(observation, action, r, info)


class DuctTapePlayer:
    """The "duct tape" approach: log a naive policy, fit situation -> best action, exploit forever.

    For the first ``warmup`` rounds it shows a uniformly random action of ``naive_actions``. Then
    it fits a multinomial logistic regression (softmax classifier) from the observation to the
    action, on the rounds that got a reward (a click), weighted by the reward: under uniform
    logging, the most probable action given a click is the one with the highest click rate. From
    then on it always shows the predicted best action, and refits on everything logged every
    ``refit_every`` rounds. The classifier only knows actions it has seen clicked, and once
    greedy it mostly logs its own choices, so an action never shown is never learned about.

    Args:
        n_actions: number of actions.
        naive_actions: the actions the naive start policy shows (None: all).
        warmup: rounds of the naive policy before the first fit (at least 1).
        refit_every: rounds between refits after the first fit (0: never refit).
        l2: L2 penalty of the classifier's weights (not the biases), non-negative.
        iterations: gradient steps of a fit (a refit starts from the previous weights).
        rng: the generator of the naive policy.
    """

    def __init__(
        self,
        n_actions: int,
        naive_actions: Sequence[int] | None = None,
        warmup: int = 500,
        refit_every: int = 500,
        l2: float = 1e-3,
        iterations: int = 200,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.n_actions = check_int("n_actions", n_actions, 1)
        check_range("l2", l2, 0.0)
        if naive_actions is not None and not isinstance(naive_actions, list | tuple):
            raise ConfigError(f"naive_actions must be a list of actions, not {naive_actions!r}")
        naive = (
            tuple(range(self.n_actions))
            if naive_actions is None
            else tuple(check_int("naive_actions", a, 0, self.n_actions - 1) for a in naive_actions)
        )
        if not naive:
            raise ConfigError("naive_actions must hold at least one action")
        self.naive_actions = naive
        self.warmup, self.refit_every = (
            check_int("warmup", warmup, 1),
            check_int("refit_every", refit_every, 0),
        )
        self.l2, self.iterations = float(l2), check_int("iterations", iterations, 1)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.rounds = 0
        self._observations: list[np.ndarray] = []
        self._actions: list[int] = []
        self._rewards: list[float] = []
        self.weights: np.ndarray | None = None  # (features + 1) x actions
        self.known_actions = np.zeros(self.n_actions, dtype=bool)

    def act(self, observation: np.ndarray, info: Mapping[str, Any]) -> int:
        """The naive policy's action before the first fit, the classifier's prediction after."""
        if self.weights is None:
            return int(self.rng.choice(self.naive_actions))
        scores = np.append(np.asarray(observation, dtype=np.float64), 1.0) @ self.weights
        scores[~self.known_actions] = -np.inf
        return int(np.argmax(scores))

    def update(self, observation: np.ndarray, action: int, reward: float, info: Mapping[str, Any]) -> None:
        """Log the round; fit the classifier after the warmup and then every ``refit_every`` rounds."""
        self._observations.append(np.asarray(observation, dtype=np.float64).ravel())
        self._actions.append(int(action))
        self._rewards.append(float(reward))
        self.rounds += 1
        after = self.rounds - self.warmup
        if after == 0 or (after > 0 and self.refit_every and after % self.refit_every == 0):
            self.fit()

    def fit(self) -> None:
        """Fit the softmax classifier observation -> action on the rewarded rounds logged so far."""
        rewards = np.array(self._rewards)
        rewarded = rewards > 0
        if not rewarded.any():
            return
        x = np.array(self._observations)[rewarded]
        x = np.hstack([x, np.ones((x.shape[0], 1))])
        labels = np.array(self._actions)[rewarded]
        sample_weight = rewards[rewarded] / rewards[rewarded].sum()
        targets = np.zeros((x.shape[0], self.n_actions))
        targets[np.arange(x.shape[0]), labels] = 1.0
        w = np.zeros((x.shape[1], self.n_actions)) if self.weights is None else self.weights.copy()
        penalty = np.full((x.shape[1], 1), self.l2)
        penalty[-1] = 0.0
        for _ in range(self.iterations):
            logits = x @ w
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            w -= 0.5 * (x.T @ ((probs - targets) * sample_weight[:, None]) + penalty * w)
        self.weights = w
        self.known_actions = np.bincount(labels, minlength=self.n_actions) > 0


def make_player(name: str, env: gym.Env[Any, Any], seed: int = 0, **kwargs: Any) -> Player:
    """A baseline by name, set up for ``env`` (its actions, segments and clickbait banners).

    Args:
        name: one of :data:`BASELINES`: ``myopic``, ``honest`` (myopic without clickbait),
            ``duct_tape``, ``epsilon_greedy``, ``ucb1``, ``thompson``.
        env: the environment (a ``Discrete`` action space; ``env.unwrapped.context_of``,
            ``n_contexts``, ``legacy_banners`` and ``clickbait_banners`` are used if present).
        seed: seeds the player's own generator.
        **kwargs: passed to the player's class (e.g. ``epsilon=0.05``, ``warmup=200``).

    Raises:
        ConfigError: for an unknown name, an option the baseline does not take, or one out of
            range.
    """
    check_int("seed", seed, 0)
    space = env.action_space
    if not isinstance(space, gym.spaces.Discrete):
        raise ConfigError(f"the banner baselines need a Discrete action space, not {space}")
    n_actions = int(space.n)
    base = env.unwrapped
    rng = np.random.default_rng(seed)
    segments: dict[str, Any] = {}
    if hasattr(base, "context_of") and hasattr(base, "n_contexts"):
        segments = {"n_contexts": int(base.n_contexts), "context_fn": base.context_of}
    given = sorted(k for k in kwargs if k == "rng" or (segments and k in segments))
    if given:
        raise ConfigError(
            f"{given[0]} is not an option of the {name} baseline here: the env gives its segments "
            "and the seed its random numbers"
        )
    if name not in _PLAYER_CLASSES:
        raise ConfigError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    options = sorted(
        set(inspect.signature(_PLAYER_CLASSES[name]).parameters)
        - {"n_actions", "rng", "n_contexts", "context_fn"}
    )
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        takes = ", ".join(options) or "none"
        raise ConfigError(f"{unknown[0]} is not an option of the {name} baseline (its options: {takes})")
    exclude = kwargs.get("exclude", ())
    if not isinstance(exclude, list | tuple):
        raise ConfigError(f"exclude must be a list of actions, not {exclude!r}")
    outside = [a for a in exclude if isinstance(a, bool) or not (isinstance(a, int) and 0 <= a < n_actions)]
    if outside:
        raise ConfigError(f"exclude: {outside[0]!r} is not an action of this env (0 to {n_actions - 1})")
    if name in ("myopic", "honest"):
        if name == "honest":
            kwargs["exclude"] = (*getattr(base, "clickbait_banners", ()), *exclude)
        if len(set(kwargs.get("exclude", ()))) >= n_actions:
            raise ConfigError(f"the {name} baseline would have no action left: every one is excluded")
        return MyopicPlayer(**kwargs)
    if name == "duct_tape":
        kwargs.setdefault("naive_actions", getattr(base, "legacy_banners", None))
        return DuctTapePlayer(n_actions, rng=rng, **kwargs)
    if name == "epsilon_greedy":
        return EpsilonGreedyPlayer(n_actions, rng=rng, **{**segments, **kwargs})
    if name == "ucb1":
        return UCB1Player(n_actions, rng=rng, **{**segments, **kwargs})
    return ThompsonSamplingPlayer(n_actions, rng=rng, **{**segments, **kwargs})


#: The class behind each baseline of :func:`make_player` (``honest`` is the myopic player with
#: the clickbait banners excluded).
_PLAYER_CLASSES: dict[str, type[Player]] = {
    "myopic": MyopicPlayer,
    "honest": MyopicPlayer,
    "duct_tape": DuctTapePlayer,
    "epsilon_greedy": EpsilonGreedyPlayer,
    "ucb1": UCB1Player,
    "thompson": ThompsonSamplingPlayer,
}
#: Names accepted by :func:`make_player`.
BASELINES = tuple(_PLAYER_CLASSES)


@dataclass(frozen=True)
class RoundLog:
    """What :func:`run` records, one entry per round (a step, or a whole episode).

    Attributes:
        rewards: the rewards received.
        expected: the expected (immediate) rewards of the actions taken.
        regrets: ``max(expected_rewards) - expected_rewards[action]``, summed over the round.
        steps: environment steps in each round (all 1 for ``unit="step"``).
        action_counts: how often each action was taken, over all rounds.
        episodes: episodes begun (including an unfinished last one).
    """

    rewards: np.ndarray
    expected: np.ndarray
    regrets: np.ndarray
    steps: np.ndarray
    action_counts: np.ndarray
    episodes: int

    @property
    def cumulative_reward(self) -> np.ndarray:
        """Running sum of the rewards."""
        return np.cumsum(self.rewards)

    @property
    def cumulative_regret(self) -> np.ndarray:
        """Running sum of the regrets."""
        return np.cumsum(self.regrets)


#: Rounds :func:`play` records at a time (memory does not grow with the number of rounds).
CHUNK_ROUNDS = 65_536


def run(
    env: gym.Env[Any, Any],
    player: Player,
    rounds: int,
    seed: int | None = None,
    unit: Unit = "step",
) -> RoundLog:
    """Play ``player`` on ``env`` for ``rounds`` rounds, resetting whenever an episode ends.

    Every state's info must hold ``"expected_rewards"``; the player learns after every step.

    Args:
        env: the environment (``reset`` and ``step`` infos with ``"expected_rewards"``).
        player: the baseline.
        rounds: number of rounds, at least 1.
        seed: seed of the first reset (later resets continue the environment's generator).
        unit: ``"step"``: a round is one step; ``"episode"``: a round is a whole episode (one
            user of the retention MDP), and its reward and regret are sums over its steps.

    Returns:
        The per-round log (for a number of rounds too large to keep, see :func:`play`).

    Raises:
        ConfigError: for ``rounds`` below 1 or an unknown ``unit``.
        EnvError: if the environment fails or its info lacks ``"expected_rewards"``.
    """
    parts = list(play(env, player, rounds, seed, unit))
    return RoundLog(
        np.concatenate([p.rewards for p in parts]),
        np.concatenate([p.expected for p in parts]),
        np.concatenate([p.regrets for p in parts]),
        np.concatenate([p.steps for p in parts]),
        np.sum([p.action_counts for p in parts], axis=0),
        parts[-1].episodes,
    )


def play(
    env: gym.Env[Any, Any],
    player: Player,
    rounds: int,
    seed: int | None = None,
    unit: Unit = "step",
    chunk: int = CHUNK_ROUNDS,
) -> Iterator[RoundLog]:
    """:func:`run`, yielding the log of every ``chunk`` rounds as they are played.

    Each yielded log covers its own rounds (``action_counts`` too); its ``episodes`` counts the
    episodes begun so far. The rounds played are the same whatever ``chunk`` is.
    """
    check_int("rounds", rounds, 1)
    check_int("chunk", chunk, 1)
    if seed is not None:
        check_int("seed", seed, 0)
    if unit not in ("step", "episode"):
        raise ConfigError(f"unit={unit!r} is not one of 'step', 'episode'")
    env_id = env.spec.id if env.spec is not None else type(env).__name__
    n_actions = int(getattr(env.action_space, "n", 0))
    observation, info = env_call(env_id, "reset", env.reset, seed=seed)
    episodes = 1
    played = 0
    while played < rounds:
        size = min(chunk, rounds - played)
        rewards = np.zeros(size)
        expected = np.zeros(size)
        regrets = np.zeros(size)
        steps = np.zeros(size, dtype=np.int64)
        counts = np.zeros(n_actions, dtype=np.int64)
        i = 0
        while i < size:
            values = _expected_rewards(env_id, info)
            action = int(player.act(observation, info))
            next_observation, reward, terminated, truncated, next_info = env_call(
                env_id, "step", env.step, action
            )
            player.update(observation, action, float(reward), info)
            rewards[i] += float(reward)
            expected[i] += values[action]
            regrets[i] += values.max() - values[action]
            steps[i] += 1
            counts[action] += 1
            done = terminated or truncated
            if unit == "step" or done:
                i += 1
            if done:
                if played + i < rounds:
                    next_observation, next_info = env_call(env_id, "reset", env.reset)
                    episodes += 1
            observation, info = next_observation, next_info
        played += size
        yield RoundLog(rewards, expected, regrets, steps, counts, episodes)


def _expected_rewards(env_id: str, info: Any) -> np.ndarray:
    """The info's ``"expected_rewards"``, which the baselines and the regret need."""
    try:
        return np.asarray(info["expected_rewards"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise EnvError(
            f"environment {env_id!r} gives no numeric 'expected_rewards' in its info; the bandit "
            f"baselines need them (see policysearch/BannerAds-v0)"
        ) from None


def split_seed(seed: int) -> tuple[int, int]:
    """Independent seeds of the environment and of the player, derived from one seed.

    With the same seed for both, the player's random numbers would be the users' and clicks'
    (``numpy.random.default_rng(s)`` and Gymnasium's ``np_random(s)`` draw the same stream).
    """
    env_seq, player_seq = np.random.SeedSequence(int(seed)).spawn(2)
    return int(env_seq.generate_state(1)[0]), int(player_seq.generate_state(1)[0])


def compare(
    env_id: str,
    methods: Sequence[str] = BASELINES,
    rounds: int = 2000,
    seeds: Sequence[int] = (0,),
    unit: Unit = "step",
    env_kwargs: Mapping[str, Any] | None = None,
    player_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, list[RoundLog]]:
    """Run several baselines on fresh copies of an environment, over several seeds.

    For each seed, the environment and the player get independent seeds derived from it with
    ``numpy.random.SeedSequence``; every method sees the same environment seed.

    Args:
        env_id: a registered id, e.g. ``"policysearch/BannerAds-v0"``.
        methods: names from :data:`BASELINES`.
        rounds: rounds per run (see :func:`run`).
        seeds: one run per seed and method.
        unit: what a round is (see :func:`run`).
        env_kwargs: options of the environment.
        player_kwargs: options per method name, e.g. ``{"epsilon_greedy": {"epsilon": 0.05}}``.

    Returns:
        Method name -> one :class:`RoundLog` per seed.
    """
    from ..envs import EnvOptions, check_env_kwargs, make_env

    if isinstance(methods, str) or not isinstance(methods, Sequence):
        raise ConfigError(f"methods must be a list of baseline names, not {methods!r}")
    if isinstance(seeds, str) or not isinstance(seeds, Sequence | np.ndarray):
        raise ConfigError(f"seeds must be a list of seeds (one run per seed), not {seeds!r}")
    seeds = [check_int("seed", seed, 0) for seed in seeds]
    check_int("rounds", rounds, 1)
    options = EnvOptions(kwargs=check_env_kwargs(dict(env_kwargs or {})))
    for name, kwargs in (player_kwargs or {}).items():
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"player_kwargs[{name!r}] must be a mapping of options, not {kwargs!r}")
    unknown = sorted(set(player_kwargs or {}) - set(methods))
    if unknown:
        raise ConfigError(
            f"player_kwargs names {unknown[0]!r}, which is not one of the methods {list(methods)}"
        )
    logs: dict[str, list[RoundLog]] = {name: [] for name in methods}
    for seed in seeds:
        env_seed, player_seed = split_seed(seed)
        for name in methods:
            env = make_env(env_id, options=options)
            try:
                player = make_player(name, env, player_seed, **dict((player_kwargs or {}).get(name, {})))
                logs[name].append(run(env, player, rounds, seed=env_seed, unit=unit))
            finally:
                close_env(env, env_id)
    return logs
