import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from policysearch.policies.tabular import StochasticTableActor, TableActor, new_policy, sample_tables


def test_rows_are_normalised_counts_and_unvisited_rows_uniform() -> None:
    states = np.array([0, 0, 0, 1])
    actions = np.array([1, 1, 2, 0])
    pi = new_policy(states, actions, n_states=3, n_actions=3, smoothing=0.0)
    np.testing.assert_allclose(pi[0], [0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(pi[1], [1, 0, 0])
    np.testing.assert_allclose(pi[2], [1 / 3] * 3)


def test_laplace_smoothing_formula() -> None:
    pi = new_policy(np.array([0, 0]), np.array([1, 1]), n_states=1, n_actions=4, smoothing=0.5)
    np.testing.assert_allclose(pi[0], [0.5 / 4, 2.5 / 4, 0.5 / 4, 0.5 / 4])


@given(
    hnp.arrays(np.int64, st.integers(0, 40), elements=st.integers(0, 4)),
    st.floats(0, 10),
    st.integers(1, 5),
)
def test_every_row_sums_to_one_for_any_lambda(states: np.ndarray, smoothing: float, n_actions: int) -> None:
    actions = (states * 7 + 3) % n_actions
    pi = new_policy(states, actions, n_states=5, n_actions=n_actions, smoothing=smoothing)
    assert np.isfinite(pi).all()
    assert (pi >= 0).all()
    np.testing.assert_allclose(pi.sum(axis=1), 1.0)


def test_stochastic_actor_samples_pi() -> None:
    pi = np.array([[0.2, 0.8], [1.0, 0.0]])
    actor = StochasticTableActor(pi)
    u = np.random.default_rng(0).random((20000, 1))
    a = actor.act(np.zeros(20000, dtype=np.int64), np.arange(20000), u)
    assert abs(a.mean() - 0.8) < 0.01
    assert (actor.act(np.ones(5, dtype=np.int64), np.arange(5), u[:5]) == 0).all()


def test_table_actor_plays_each_candidate_in_its_group() -> None:
    tables = np.array([[0, 1], [1, 0]])
    actor = TableActor(tables, group=3)
    obs = np.zeros(6, dtype=np.int64)
    assert actor.act(obs, np.arange(6), None).tolist() == [0, 0, 0, 1, 1, 1]


def test_sample_tables_draws_from_pi() -> None:
    pi = np.array([[0.0, 1.0], [0.5, 0.5]])
    tables = sample_tables(pi, 4000, np.random.default_rng(0))
    assert (tables[:, 0] == 1).all()
    assert abs(tables[:, 1].mean() - 0.5) < 0.03
