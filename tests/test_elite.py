import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from policysearch.algorithms import elite_quota, select_elite, select_elite_by_group
from policysearch.sampling import Sessions

# The lecture's worked example: three sessions and their total rewards.
STATES = [[1, 2, 3], [4, 2, 0, 2], [3, 1]]
ACTIONS = [[0, 2, 4], [3, 2, 0, 1], [3, 3]]
REWARDS = [3.0, 4.0, 5.0]


def lecture_sessions() -> Sessions:
    n, horizon = len(STATES), max(map(len, STATES))
    obs = np.zeros((horizon, n), dtype=np.int64)
    act = np.zeros((horizon, n), dtype=np.int64)
    rew = np.zeros((horizon, n))
    for i, (s, a, r) in enumerate(zip(STATES, ACTIONS, REWARDS, strict=True)):
        obs[: len(s), i], act[: len(a), i] = s, a
        rew[len(s) - 1, i] = r
    lengths = np.array([len(s) for s in STATES])
    done = np.ones(n, dtype=bool)
    return Sessions(obs, act, rew, lengths, done, ~done)


@pytest.mark.parametrize(
    ("percentile", "kept"),
    [(0, [0, 1, 2]), (30, [1, 2]), (90, [2]), (100, [2])],
)
def test_lecture_example(percentile: float, kept: list[int]) -> None:
    sessions = lecture_sessions()
    mask, _ = select_elite(sessions.returns, percentile)
    assert np.flatnonzero(mask).tolist() == kept
    states, actions = sessions.pairs(mask)
    expected = [(s, a) for i in kept for s, a in zip(STATES[i], ACTIONS[i], strict=True)]
    assert sorted(zip(states.tolist(), actions.tolist(), strict=True)) == sorted(expected)
    if percentile == 0:
        assert len(states) == 9


def test_ties_at_the_threshold_still_make_progress() -> None:
    # 90% of sessions tie at the worst reward (MountainCar): the elite must prefer the others.
    scores = np.array([-200.0] * 90 + [-150.0] * 5 + [-120.0] * 5)
    mask, threshold = select_elite(scores, 70, np.random.default_rng(0))
    assert threshold == -200.0
    assert mask.sum() == elite_quota(100, 70) == 30
    assert mask[90:].all()  # every better session is in the elite


def test_all_tied_gives_quota() -> None:
    mask, _ = select_elite(np.zeros(10), 50, np.random.default_rng(1))
    assert mask.sum() == 5


@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=60),
    st.floats(0, 100),
)
def test_elite_is_never_worse_than_the_rest(scores: list[int], percentile: float) -> None:
    arr = np.array(scores, dtype=float)
    mask, threshold = select_elite(arr, percentile, np.random.default_rng(0))
    assert mask.any()
    assert (arr[mask] >= threshold).all()
    assert mask.sum() <= max(elite_quota(arr.size, percentile), (arr > threshold).sum())
    if (~mask).any():
        assert arr[mask].min() >= arr[~mask].max()


def test_the_elite_is_chosen_within_each_start_group() -> None:
    # Group 0 (candidates 0, 2, 4) started badly, group 1 (1, 3, 5) well: a pooled threshold would
    # keep only group 1; by group, each keeps its own best.
    scores = np.array([-900.0, -100.0, -800.0, -150.0, -850.0, -120.0])
    mask, threshold = select_elite_by_group(scores, 2, 60)
    assert np.flatnonzero(mask).tolist() == [1, 2]
    assert threshold == pytest.approx(
        (np.percentile([-900, -800, -850], 60) + np.percentile([-100, -150, -120], 60)) / 2
    )
    pooled, _ = select_elite(scores, 60)
    assert np.flatnonzero(pooled).tolist() == [1, 3, 5]


def test_relative_selection_gives_the_elite_to_the_groups_where_the_actions_mattered() -> None:
    # Group 0 (candidates 0, 2, 4, 6) all balanced about as well as each other; group 1 (1, 3, 5, 7)
    # started hanging still, and two of its candidates swung up far sooner than the other two.
    scores = np.array([-10.0, -900.0, -11.0, -400.0, -10.5, -420.0, -10.2, -890.0])
    within, _ = select_elite_by_group(scores, 2, 75)
    assert np.flatnonzero(within).tolist() == [0, 3]
    mask, threshold = select_elite_by_group(scores, 2, 75, relative=True)
    assert np.flatnonzero(mask).tolist() == [3, 5]
    # Margins over the group means -10.425 and -652.5: 252.5 and 232.5 lead, 0.425 is next.
    assert 0.425 < threshold - (-10.425 - 652.5) / 2 < 232.5
    mask, _ = select_elite_by_group(scores, 2, 50, relative=True)
    assert np.flatnonzero(mask).tolist() == [0, 3, 5, 6]
    # A group's difficulty (a constant added to all its scores) does not change the choice.
    shifted = scores + np.where(np.arange(8) % 2 == 0, -300.0, 200.0)
    again, _ = select_elite_by_group(shifted, 2, 50, relative=True)
    assert again.tolist() == mask.tolist()


def test_ties_at_the_worst_score_need_not_fill_the_quota() -> None:
    scores = np.array([-500.0] * 9 + [-400.0])
    mask, _ = select_elite(scores, 70, np.random.default_rng(0), fill_with_worst=False)
    assert mask.tolist() == [False] * 9 + [True]  # the one session that reached the goal
    mask, _ = select_elite(scores, 70, np.random.default_rng(0))
    assert mask.sum() == 3 and mask[-1]  # the quota, filled with failures
    mask, _ = select_elite(np.full(10, -500.0), 70, np.random.default_rng(0), fill_with_worst=False)
    assert mask.sum() == 3  # nobody did better: the quota as before
    ties_above_worst = np.array([-500.0, -300.0, -300.0, -300.0, -300.0, -100.0])
    mask, _ = select_elite(ties_above_worst, 50, np.random.default_rng(0), fill_with_worst=False)
    assert mask.sum() == 3 and mask[-1] and not mask[0]
