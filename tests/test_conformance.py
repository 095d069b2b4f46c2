"""Every registered algorithm x policy kind x check env meets the contract (policysearch.conformance).

This replaces the hand-written per-algorithm copies of the determinism, worker-invariance,
resume and state round-trip tests.
"""

import pytest

from policysearch import check_algorithm
from policysearch.algorithms.elite import EliteMemory
from policysearch.conformance import (
    ContractError,
    check_declarations,
    check_envs,
    check_runs,
    check_spaces_refused,
)
from policysearch.errors import CheckpointError
from policysearch.policies.normalizer import RunningNormalizer
from policysearch.registry import REGISTRY, implementations

CASES = [
    pytest.param(name, policy, env_id, id=f"{name}-{policy}-{env_id}")
    for name, policy, cls in implementations()
    for env_id in check_envs(cls, policy)
]
#: Features whose guarantees are checked on top of the plain runs above.
FEATURES = [
    ("cem", "tabular", "FrozenLake-v1", {"episodes_per_candidate": 5, "elite_memory": 3, "percentile": 80}),
    ("cem", "mlp", "Acrobot-v1", {}),
    ("cem", "mlp", "Pendulum-v1", {"start_groups": 4, "group_selection": "relative"}),
    ("cem", "mlp", "Pendulum-v1", {"start_groups": 4, "group_selection": "within", "alpha": 0.5}),
    ("cem", "mlp", "MountainCar-v0", {"param_noise": 0.5, "episodes_per_candidate": 2}),
    ("cem", "mlp", "Pendulum-v1", {"search": "actions", "elite_memory": 3, "episodes_per_candidate": 2}),
    ("cem", "mlp", "CartPole-v1", {"search": "weights", "elite_memory": 2, "alpha": 0.5}),
    ("cem", "gru", "Pendulum-v1", {"search": "weights", "episodes_per_candidate": 2, "start_groups": 2}),
    ("es", "linear", "CartPole-v1", {"sigma_schedule": "adaptive", "start_groups": 1}),
    ("cmaes", "mlp", "Pendulum-v1", {"episodes_per_candidate": 2}),
    ("cmaes", "linear", "CartPole-v1", {"population": 4}),  # below 6: pycma's selective mirrors
]
CLASSES = sorted({cls for _, _, cls in implementations()}, key=lambda c: c.__name__)


def test_every_registered_algorithm_and_policy_kind_is_checked() -> None:
    covered = {(name, policy) for name, policy, _ in implementations()}
    for name, entry in REGISTRY.items():
        assert entry.policies(), name
        assert {(name, p) for p in entry.policies()} <= covered


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_declarations(cls) -> None:
    check_declarations(cls)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_bad_spaces_are_refused_with_env_error(cls) -> None:
    for policy in cls.policies:
        check_spaces_refused(cls, policy)


@pytest.mark.parametrize(("name", "policy", "env_id"), CASES)
def test_contract(name: str, policy: str, env_id: str) -> None:
    check_runs(name, policy, env_id)


@pytest.mark.parametrize(("name", "policy", "env_id", "hyperparameters"), FEATURES, ids=str)
def test_contract_with_features(name: str, policy: str, env_id: str, hyperparameters: dict) -> None:
    check_runs(name, policy, env_id, hyperparameters=hyperparameters)


def test_check_algorithm_runs_every_check_of_a_class() -> None:
    check_algorithm(REGISTRY["cem"].classes()[0])  # tabular CEM: one env, quick


@pytest.mark.parametrize(
    ("broken", "case"),
    [
        pytest.param(
            (RunningNormalizer, "load"), ("es", "linear", "CartPole-v1"), id="normaliser not restored"
        ),
        pytest.param(
            (EliteMemory, "load"), ("cem", "tabular", "FrozenLake-v1"), id="elite memory not restored"
        ),
        pytest.param((RunningNormalizer, "arrays"), ("cem", "mlp", "Pendulum-v1"), id="normaliser not saved"),
    ],
)
def test_the_checks_catch_a_broken_shared_guarantee(broken, case, monkeypatch) -> None:
    owner, method = broken
    monkeypatch.setattr(owner, method, lambda self, *args: {} if method == "arrays" else None)
    with pytest.raises((ContractError, CheckpointError)):  # a missing array cannot even be loaded
        check_runs(*case)


def test_check_algorithm_needs_two_iterations_and_says_so() -> None:
    """One iteration leaves nothing to resume from: refused by the argument's own name."""
    from policysearch.algorithms.cem_tabular import TabularCEM
    from policysearch.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^iterations=1 is out of range"):
        check_algorithm(TabularCEM, iterations=1)
