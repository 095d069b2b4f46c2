"""The lecture's banner-ad problems as environments: a contextual bandit and the clickbait MDP.

Registered on import of :mod:`policysearch` as:

- ``policysearch/BannerAds-v0`` (:class:`BannerAdsEnv`): one user per episode, one banner shown,
  reward 1 for a click. The click probabilities come from a documented logistic model, and every
  ``info`` holds ``"expected_rewards"``, so the optimal policy and the regret are known exactly.
- ``policysearch/BannerAdsRetention-v0`` (:class:`BannerAdsRetentionEnv`): one user per episode,
  one visit per step. A clickbait banner has the highest immediate click probability but costs
  the user's trust, and a distrustful user clicks less and leaves sooner.

Both observe a ``Box`` of float32 features (one-hot encodings and numbers in [0, 1] or [-1, 1]),
act in ``Discrete(K)`` and draw every random number from ``self.np_random``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ..config import check_int, check_range
from ..errors import ConfigError

#: Feature groups of a user: age group, main interest, season (time of year).
AGE_GROUPS = ("young", "middle-aged", "senior")
INTERESTS = ("sports", "tech", "fashion")
SEASONS = ("winter", "spring", "summer", "autumn")

#: The banner catalog; environments use its first entries.
BANNER_NAMES = (
    "running shoes",
    "smartphone",
    "handbag",
    "beach holiday",
    "garden & home",
    "game console",
    "cookbook",
    "sunglasses",
)

# Logit of a click: bias + weights . features. Columns: bias, age (young, middle-aged, senior),
# interest (sports, tech, fashion), season (winter, spring, summer, autumn), trend.
_CATALOG_LOGITS = np.array(
    [
        [-1.5, 0.4, 0.2, -1.0, 1.8, 0.0, 0.0, -0.2, 0.1, 0.3, 0.0, 0.0],  # running shoes
        [-1.5, 0.4, 0.2, -1.0, 0.0, 1.8, 0.0, 0.3, 0.0, 0.0, 0.0, 0.3],  # smartphone
        [-1.5, 0.4, 0.2, -1.0, 0.0, 0.0, 1.8, 0.0, 0.3, 0.0, 0.1, 0.0],  # handbag
        [-1.5, -0.5, 0.3, 1.2, 0.0, 0.0, 0.0, -0.6, 0.6, 0.8, 0.0, -0.2],  # beach holiday
        [-1.5, -0.5, 0.3, 1.2, 0.0, 0.0, 0.0, 0.7, 0.0, -0.5, 0.5, 0.0],  # garden & home
        [-1.6, 0.6, -0.2, -1.0, 0.0, 1.2, 0.0, 0.5, 0.0, 0.0, 0.0, 0.3],  # game console
        [-1.6, -0.4, 0.4, 0.6, 0.0, 0.0, 0.4, 0.3, 0.0, -0.3, 0.4, 0.0],  # cookbook
        [-1.6, 0.3, 0.3, -0.2, 0.2, 0.0, 0.5, -0.8, 0.3, 0.9, -0.3, 0.0],  # sunglasses
    ]
)
MAX_BANNERS = len(BANNER_NAMES)

_N_AGE, _N_INTEREST, _N_SEASON = len(AGE_GROUPS), len(INTERESTS), len(SEASONS)
_N_FEATURES = _N_AGE + _N_INTEREST + _N_SEASON + 1


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _user_features(age: int, interest: int, season: int, trend: float) -> np.ndarray:
    """The 11 user features: one-hot age, interest and season, then the trend."""
    x = np.zeros(_N_FEATURES, dtype=np.float64)
    x[age] = 1.0
    x[_N_AGE + interest] = 1.0
    x[_N_AGE + _N_INTEREST + season] = 1.0
    x[-1] = trend
    return x


def catalog_click_probabilities(features: np.ndarray, n_banners: int) -> np.ndarray:
    """Click probabilities of the first ``n_banners`` catalog banners for user features.

    Args:
        features: the 11 features of :class:`BannerAdsEnv` (rows of a 2-D array for many users).
        n_banners: how many catalog banners (at most :data:`MAX_BANNERS`).

    Returns:
        The probabilities, shape ``features.shape[:-1] + (n_banners,)``.
    """
    weights = _CATALOG_LOGITS[:n_banners]
    x = np.asarray(features, dtype=np.float64)
    return _sigmoid(x @ weights[:, 1:].T + weights[:, 0])


class BannerAdsEnv(gym.Env[np.ndarray, np.int64]):
    """Banner ads as a contextual bandit: one user arrives, one banner is shown, a click or not.

    **Observation** (``Box`` of 11 float32): the user's age group one-hot (young, middle-aged,
    senior; indices 0-2), main interest one-hot (sports, tech, fashion; 3-5), the season one-hot
    (winter, spring, summer, autumn; 6-9), and a market trend signal in [-1, 1] (10). Age group,
    interest and season are uniform and independent; the trend is uniform on [-1, 1].

    **Actions** (``Discrete(n_banners)``): which banner to show, the first ``n_banners`` of
    :data:`BANNER_NAMES`: running shoes, smartphone, handbag, beach holiday, garden & home (the
    default 5), then game console, cookbook, sunglasses.

    **Reward**: 1.0 if the user clicks, else 0.0. The episode terminates after this one step.

    **Click model** (hidden from the agent, documented here): banner ``k`` is clicked with
    probability ``sigmoid(b_k + w_k . x)`` over the features ``x`` above, with the weights of
    ``_CATALOG_LOGITS``. The default five banners have bias -1.5 (a click rate of 0.18 before
    features). The shoes, smartphone and handbag banners get +1.8 for users of their interest
    (sports, tech, fashion), +0.4 for the young, +0.2 for the middle-aged and -1.0 for seniors;
    the holiday and garden banners get +1.2 for seniors, +0.3 for the middle-aged and -0.5 for the
    young. Seasons shift them (shoes +0.3 in summer, +0.1 in spring, -0.2 in winter; smartphone
    +0.3 in winter; handbag +0.3 in spring, +0.1 in autumn; holiday +0.8 in summer, +0.6 in
    spring, -0.6 in winter; garden +0.7 in winter, +0.5 in autumn, -0.5 in summer), and the trend
    adds 0.3 x trend to the smartphone and -0.2 x trend to the holiday. So every segment (age
    group x interest x season) has one best banner whatever the trend, ahead of the second best by
    at least 0.07: young and middle-aged users their interest's banner (mean click rate 0.57-0.73
    by segment), seniors the holiday in spring and summer and the garden banner in autumn and
    winter (0.55-0.62). With the default 5 banners the optimal policy clicks at rate 0.636, the
    best single banner at 0.318 and a uniformly random banner at 0.309 (see
    :meth:`optimal_value`). The extra banners 5-7 have bias -1.6 and milder preferences.

    **New banner** (``new_banner=True``): the last of the ``n_banners`` actions is replaced by a
    new banner clicked with probability ``new_banner_click_rate`` by every user. With the default
    0.7 it is the best banner for 89% of users; the optimal click rate becomes 0.703, against
    0.605 for the best policy without it. It is missing from :attr:`legacy_banners`, the banners
    an old logging policy used to show, so a learner that only imitates logged data never learns
    of it.

    **Info** (from ``reset`` and ``step``): ``"expected_rewards"``, the click probability of every
    banner for the current user (float64, shape ``(n_banners,)``), so that
    ``max(info["expected_rewards"])`` is the optimal expected reward.

    Args:
        n_banners: K, the number of banners (2 to 8).
        new_banner: make the last banner a new one, best for most users, unknown to logs.
        new_banner_click_rate: the new banner's click probability, in [0, 1].

    Raises:
        ConfigError: for an option out of its range, naming the option.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self, n_banners: int = 5, new_banner: bool = False, new_banner_click_rate: float = 0.7
    ) -> None:
        self.n_banners = check_int("n_banners", n_banners, 2, MAX_BANNERS)
        if not isinstance(new_banner, bool | np.bool_):
            raise ConfigError(f"new_banner must be true or false, not {new_banner!r}")
        self.new_banner = bool(new_banner)
        check_range("new_banner_click_rate", float(new_banner_click_rate), 0.0, 1.0)
        self.new_banner_click_rate = float(new_banner_click_rate)
        k = self.n_banners
        #: Banners an old (logging) policy showed: all but the new banner.
        self.legacy_banners: tuple[int, ...] = tuple(range(k - 1 if self.new_banner else k))
        names = list(BANNER_NAMES[:k])
        if self.new_banner:
            names[-1] = "new banner"
        self.banner_names: tuple[str, ...] = tuple(names)
        low = np.zeros(_N_FEATURES, dtype=np.float32)
        low[-1] = -1.0
        self.observation_space = gym.spaces.Box(low, np.ones(_N_FEATURES, dtype=np.float32), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(k)
        #: Number of user segments (age group x interest x season) for tabular bandits.
        self.n_contexts = _N_AGE * _N_INTEREST * _N_SEASON
        self._features = np.zeros(_N_FEATURES, dtype=np.float64)
        self._expected = self.click_probabilities(self._features)

    def click_probabilities(self, features: np.ndarray) -> np.ndarray:
        """The hidden model: every banner's click probability for user features.

        Args:
            features: an observation (or a 2-D array of them).

        Returns:
            The probabilities, shape ``features.shape[:-1] + (n_banners,)``.
        """
        k = self.n_banners
        probs = catalog_click_probabilities(features, k - 1 if self.new_banner else k)
        if self.new_banner:
            new = np.full((*probs.shape[:-1], 1), self.new_banner_click_rate)
            probs = np.concatenate([probs, new], axis=-1)
        return probs

    def optimal_value(self, n_trend: int = 2001) -> tuple[float, float, float]:
        """Exact expected click rates of the optimal, the best single and a uniformly random banner.

        Averages over all segments, integrating the trend with the midpoint rule on ``n_trend``
        points (error below 1e-6 for the default).

        Args:
            n_trend: number of trend points.

        Returns:
            ``(optimal, best single banner, uniform random)`` click rates.
        """
        trends = -1.0 + (np.arange(n_trend) + 0.5) * (2.0 / n_trend)
        rows = [
            _user_features(a, i, s, t)
            for a in range(_N_AGE)
            for i in range(_N_INTEREST)
            for s in range(_N_SEASON)
            for t in trends
        ]
        probs = self.click_probabilities(np.array(rows))
        return float(probs.max(axis=1).mean()), float(probs.mean(axis=0).max()), float(probs.mean())

    @staticmethod
    def context_of(observation: np.ndarray) -> int:
        """The user segment of an observation (age group x interest x season), in ``[0, 36)``."""
        obs = np.asarray(observation)
        age = int(np.argmax(obs[:_N_AGE]))
        interest = int(np.argmax(obs[_N_AGE : _N_AGE + _N_INTEREST]))
        season = int(np.argmax(obs[_N_AGE + _N_INTEREST : -1]))
        return (age * _N_INTEREST + interest) * _N_SEASON + season

    def _info(self) -> dict[str, Any]:
        return {"expected_rewards": self._expected.copy()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw a new user.

        Args:
            seed: seeds ``self.np_random`` (None: continue the current stream).
            options: unused.

        Returns:
            The user's features and the info with ``"expected_rewards"``.
        """
        super().reset(seed=seed)
        rng = self.np_random
        segment = int(rng.integers(self.n_contexts))  # age group, interest, season: uniform
        age, rest = divmod(segment, _N_INTEREST * _N_SEASON)
        interest, season = divmod(rest, _N_SEASON)
        trend = float(rng.uniform(-1.0, 1.0))
        self._features = _user_features(age, interest, season, trend)
        self._expected = self.click_probabilities(self._features)
        return self._features.astype(np.float32), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Show banner ``action`` to the current user.

        Args:
            action: the banner, in ``[0, n_banners)``.

        Returns:
            The user's features (unchanged), 1.0 for a click else 0.0, ``terminated=True``,
            ``truncated=False``, and the info with this user's ``"expected_rewards"``.
        """
        a = int(action)
        if not 0 <= a < self.n_banners:
            raise ValueError(f"action {action!r} is not a banner in [0, {self.n_banners})")
        info = self._info()
        click = bool(self.np_random.random() < info["expected_rewards"][a])
        return self._features.astype(np.float32), float(click), True, False, info


class BannerAdsRetentionEnv(gym.Env[np.ndarray, np.int64]):
    """Banner ads over repeated visits of one user: clickbait wins now and loses the user.

    Each episode is one user; each step is one visit, on which one banner is shown.

    **Observation** (``Box`` of 8 float32 in [0, 1]): the user's age group one-hot (young,
    middle-aged, senior; 0-2), main interest one-hot (sports, tech, fashion; 3-5), the user's
    trust (6) and the fraction of ``max_visits`` done so far (7). Age group and interest are
    uniform; trust starts at ``initial_trust``.

    **Actions** (``Discrete(n_banners)``): banners ``0 .. n_banners - 2`` are the first catalog
    banners of :class:`BannerAdsEnv` (running shoes, smartphone, handbag, beach holiday by
    default); the last banner is clickbait ("You won't believe what happened next...").

    **Reward**: 1.0 if the user clicks, else 0.0.

    **Dynamics**: on a visit with trust ``u``, an honest banner ``k`` is clicked with probability
    ``p_k * (0.25 + 0.75 u)``, where ``p_k`` is :class:`BannerAdsEnv`'s click model with the
    season and trend features at zero (for the best banner of a segment: 0.67 for the young, 0.62
    for the middle-aged, 0.43 for seniors); the clickbait banner with probability
    ``clickbait_click_rate * (0.25 + 0.75 u)``, by default (0.8) the highest of all in every
    state. A click on clickbait lowers the trust by ``trust_loss`` (0.1); a click on an honest
    banner raises it by ``trust_gain`` (0.05), within [0, 1]. After the visit the user leaves for
    good (``terminated``) with probability ``leave_prob + distrust_leave_prob * (1 - u)`` at the
    new trust (0.05 + 0.45 (1 - u) by default); a user still there after ``max_visits`` visits
    (50) ends the episode as ``truncated``.

    **Expected returns** (clicks per user with the default options, Monte Carlo over 20,000
    users): the myopic policy, which always shows the highest immediate click probability (the
    clickbait), earns 2.52 (standard error 0.01; 4.3 visits per user); always showing the best
    honest banner earns 7.57 (0.06; 13.6 visits), 3.0 times as much.

    **Info** (from ``reset`` and ``step``): ``"expected_rewards"``, the immediate click
    probability of every banner at the current visit (after a ``step``: at the next visit's
    state), float64 of shape ``(n_banners,)``; and ``"trust"``.

    Args:
        n_banners: K, the number of banners including the clickbait (2 to 8).
        clickbait_click_rate: the clickbait's click probability at full trust, in [0, 1].
        trust_loss: trust lost per clickbait click, in [0, 1].
        trust_gain: trust gained per honest click, in [0, 1].
        initial_trust: the trust of a new user, in [0, 1].
        leave_prob: probability of leaving after a visit at full trust, in [0, 1].
        distrust_leave_prob: extra probability of leaving at zero trust, in [0, 1 - leave_prob].
        max_visits: the time limit in visits, at least 1.

    Raises:
        ConfigError: for an option out of its range, naming the option.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        n_banners: int = 5,
        clickbait_click_rate: float = 0.8,
        trust_loss: float = 0.1,
        trust_gain: float = 0.05,
        initial_trust: float = 0.8,
        leave_prob: float = 0.05,
        distrust_leave_prob: float = 0.45,
        max_visits: int = 50,
    ) -> None:
        self.n_banners = check_int("n_banners", n_banners, 2, MAX_BANNERS)
        for name, value in [
            ("clickbait_click_rate", clickbait_click_rate),
            ("trust_loss", trust_loss),
            ("trust_gain", trust_gain),
            ("initial_trust", initial_trust),
            ("leave_prob", leave_prob),
        ]:
            check_range(name, float(value), 0.0, 1.0)
        check_range("distrust_leave_prob", float(distrust_leave_prob), 0.0, 1.0 - float(leave_prob))
        self.max_visits = check_int("max_visits", max_visits, 1)
        self.clickbait_click_rate = float(clickbait_click_rate)
        self.trust_loss = float(trust_loss)
        self.trust_gain = float(trust_gain)
        self.initial_trust = float(initial_trust)
        self.leave_prob = float(leave_prob)
        self.distrust_leave_prob = float(distrust_leave_prob)
        #: The clickbait banners (the last one).
        self.clickbait_banners: tuple[int, ...] = (self.n_banners - 1,)
        self.banner_names: tuple[str, ...] = (*BANNER_NAMES[: self.n_banners - 1], "clickbait")
        #: The episode's limit, which the env keeps itself (so that no other cap is put around it).
        self.own_step_limit = self.max_visits
        n_obs = _N_AGE + _N_INTEREST + 2
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(n_obs,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.n_banners)
        #: Number of user segments (age group x interest) for tabular bandits.
        self.n_contexts = _N_AGE * _N_INTEREST
        self._user = np.zeros(_N_AGE + _N_INTEREST, dtype=np.float64)
        self._honest = np.zeros(self.n_banners - 1, dtype=np.float64)
        self.trust = self.initial_trust
        self.visits = 0

    def click_probabilities(self) -> np.ndarray:
        """Every banner's click probability at the current visit (the clickbait last)."""
        scale = 0.25 + 0.75 * self.trust
        return np.append(self._honest, self.clickbait_click_rate) * scale

    def leave_probability(self) -> float:
        """Probability that the user leaves after a visit, at the current trust."""
        return self.leave_prob + self.distrust_leave_prob * (1.0 - self.trust)

    @staticmethod
    def context_of(observation: np.ndarray) -> int:
        """The user segment of an observation (age group x interest), in ``[0, 9)``."""
        obs = np.asarray(observation)
        age = int(np.argmax(obs[:_N_AGE]))
        interest = int(np.argmax(obs[_N_AGE : _N_AGE + _N_INTEREST]))
        return age * _N_INTEREST + interest

    def _observation(self) -> np.ndarray:
        extra = [self.trust, self.visits / self.max_visits]
        return np.concatenate([self._user, extra]).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        return {"expected_rewards": self.click_probabilities(), "trust": self.trust}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw a new user with the initial trust.

        Args:
            seed: seeds ``self.np_random`` (None: continue the current stream).
            options: unused.

        Returns:
            The first visit's observation and the info with ``"expected_rewards"``.
        """
        super().reset(seed=seed)
        age, interest = (int(v) for v in self.np_random.integers(0, [_N_AGE, _N_INTEREST]))
        features = _user_features(age, interest, 0, 0.0)
        features[_N_AGE + _N_INTEREST :] = 0.0  # season and trend play no part here
        self._user = features[: _N_AGE + _N_INTEREST].copy()
        self._honest = catalog_click_probabilities(features, self.n_banners - 1)
        self.trust = self.initial_trust
        self.visits = 0
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Show banner ``action`` on this visit; the user may click, then may leave.

        Args:
            action: the banner, in ``[0, n_banners)``.

        Returns:
            The next visit's observation, 1.0 for a click else 0.0, ``terminated`` (the user left),
            ``truncated`` (``max_visits`` reached), and the info of the next visit.
        """
        a = int(action)
        if not 0 <= a < self.n_banners:
            raise ValueError(f"action {action!r} is not a banner in [0, {self.n_banners})")
        u_click, u_leave = self.np_random.random(2)
        click = bool(u_click < self.click_probabilities()[a])
        if click and a in self.clickbait_banners:
            self.trust = max(0.0, self.trust - self.trust_loss)
        elif click:
            self.trust = min(1.0, self.trust + self.trust_gain)
        self.visits += 1
        terminated = bool(u_leave < self.leave_probability())
        truncated = not terminated and self.visits >= self.max_visits
        return self._observation(), float(click), terminated, truncated, self._info()
