"""The algorithm contract, checked: :func:`check_algorithm`, as Gymnasium's ``check_env`` is for envs.

Every registered algorithm must, for each policy kind it offers, on the check envs its spaces
accept (:data:`CHECK_ENVS`: a discrete-action and a continuous-action env for the vector kinds,
FrozenLake for the tabular kind, the small pixel env Catch for the cnn):

- give identical metrics and final state for the same seed (SB3's ``test_deterministic``);
- give the same run with one sampling worker and with two;
- give, when stopped and resumed from its checkpoint, the run it gives uninterrupted;
- round-trip its ``state_arrays`` into a freshly built algorithm;
- act deterministically with its greedy actor;
- refuse spaces it cannot handle with :class:`~policysearch.errors.EnvError`;
- follow the ask/tell contract (``tell`` takes the request ``ask`` returned; the trainer's
  metrics are the trainer's).

The conformance test (``tests/test_conformance.py``) runs these over the whole registry.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from .algorithms.base import Algorithm
from .config import check_int
from .envs import probe_env
from .errors import ConfigError, EnvError
from .policies.bodies import BODIES
from .registry import POLICY_KINDS, REGISTRY
from .run.factory import make_run
from .run.options import TrainOptions

#: Environments of the checks, per policy kind: for the vector kinds one with discrete and one
#: with continuous actions; tabular policies need Discrete observations; the cnn is checked on
#: 8x8 pixels with discrete actions only (no small pixel env with continuous actions ships).
CHECK_ENVS = {
    "tabular": ("FrozenLake-v1",),
    "neural": ("CartPole-v1", "Pendulum-v1"),
    "cnn": ("policysearch/Catch-v0",),  # 8x8 pixels: a convolutional policy in well under a second
}
#: Metrics that measure time, left out of the comparisons.
TIMING_METRICS = frozenset({"wall_time_s", "steps_per_s", "worker_restarts", "worker_stalls"})


class ContractError(AssertionError):
    """An algorithm breaks the contract; the message names the check and what differed."""


def check_envs(cls: type[Algorithm], policy: str) -> tuple[str, ...]:
    """The check environments of ``policy`` whose spaces ``cls`` accepts.

    The tabular kind's, the cnn's, or the vector kinds' (:data:`CHECK_ENVS`).
    """
    envs = CHECK_ENVS[policy if policy in CHECK_ENVS else "neural"]
    return tuple(env_id for env_id in envs if _accepts(cls, policy, env_id))


def _accepts(cls: type[Algorithm], policy: str, env_id: str) -> bool:
    try:
        with probe_env(env_id) as env:
            cls.check_spaces(env.observation_space, env.action_space, policy)
    except EnvError:
        return False
    return True


def _smoke(cls: type[Algorithm], policy: str) -> dict[str, Any]:
    """The class's ``smoke_hyperparameters`` that ``policy``'s body reads (the others would warn)."""
    ignores = BODIES[policy].ignores if policy in BODIES else {}
    return {k: v for k, v in cls.smoke_hyperparameters.items() if k not in ignores}


def check_algorithm(cls: type[Algorithm], iterations: int = 3) -> None:
    """Check every guarantee of the contract for every policy kind of ``cls``.

    Args:
        cls: an algorithm class, registered in :mod:`policysearch.registry`.
        iterations: iterations of each check run (at least 2: one is resumed from the first).

    Raises:
        ConfigError: if ``iterations`` is below 2, or ``cls`` is not an algorithm's class (the
            API's agents, ``policysearch.ES``, are not).
        ContractError: naming the first guarantee that does not hold.
    """
    check_int("iterations", iterations, 2)
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise ConfigError(
            f"check_algorithm takes an algorithm's class (an Algorithm subclass, such as "
            f"policysearch.algorithms.ES), not {cls!r}"
        )
    check_declarations(cls)
    for policy in cls.policies:
        check_spaces_refused(cls, policy)
        for env_id in check_envs(cls, policy):
            check_runs(cls.name, policy, env_id, iterations)


def check_declarations(cls: type[Algorithm]) -> None:
    """The class is registered under its name and declares what the contract needs.

    Raises:
        ContractError: for a missing or inconsistent declaration.
    """
    name = getattr(cls, "name", None)
    if name not in REGISTRY or cls not in REGISTRY[name].classes():
        raise ContractError(f"{cls.__name__} is not registered under its name {name!r}")
    policies = getattr(cls, "policies", ())
    if not policies or not set(policies) <= set(POLICY_KINDS):
        raise ContractError(f"{cls.__name__}.policies must be a non-empty subset of {POLICY_KINDS}")
    config_class: Any = getattr(cls, "config_class", None)
    if not isinstance(config_class, type) or not dataclasses.is_dataclass(config_class):
        raise ContractError(f"{cls.__name__}.config_class must be a dataclass")
    try:
        config_class(**dict(cls.smoke_hyperparameters))
    except Exception as exc:
        raise ContractError(f"{cls.__name__}.smoke_hyperparameters are invalid: {exc}") from None
    if config_class.__doc__ is None or config_class.__doc__.startswith(config_class.__name__ + "("):
        raise ContractError(f"{config_class.__name__} needs a docstring (the docs' table heading)")


def check_spaces_refused(cls: type[Algorithm], policy: str) -> None:
    """Spaces no policy kind handles are refused with EnvError.

    Raises:
        ContractError: if ``check_spaces`` accepts them, or fails otherwise.
    """
    box = gym.spaces.Box(-1.0, 1.0, (2,))
    bad = [
        (gym.spaces.Dict({"a": box}), gym.spaces.Discrete(2)),
        (box, gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(2)))),
    ]
    for obs_space, act_space in bad:
        try:
            cls.check_spaces(obs_space, act_space, policy)
        except EnvError:
            continue
        except Exception as exc:
            raise ContractError(
                f"{cls.__name__} --policy {policy}: check_spaces({obs_space}, {act_space}) raised "
                f"{type(exc).__name__}, not EnvError"
            ) from None
        raise ContractError(f"{cls.__name__} --policy {policy} accepts {obs_space} -> {act_space}")


def _options(
    name: str,
    policy: str,
    env_id: str,
    out: Path,
    iterations: int,
    hyperparameters: dict[str, Any] | None = None,
    **kw: Any,
) -> TrainOptions:
    cls = next(c for c in REGISTRY[name].classes() if policy in c.policies)
    return TrainOptions(
        algorithm=name,
        env_id=env_id,
        policy=policy,
        seed=7,
        max_iterations=iterations,
        out=str(out),
        hyperparameters={**_smoke(cls, policy), **(hyperparameters or {})},
        **kw,
    )


def _metrics(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_METRICS} for line in lines]


def _same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> str | None:
    """None if equal, else what differs."""
    if sorted(a) != sorted(b):
        return f"array names differ: {sorted(set(a) ^ set(b))}"
    for key in a:
        if not np.array_equal(np.asarray(a[key]), np.asarray(b[key])):
            return f"array {key!r} differs"
    return None


def check_runs(
    name: str,
    policy: str,
    env_id: str,
    iterations: int = 3,
    hyperparameters: dict[str, Any] | None = None,
) -> None:
    """Same seed, 1 and 2 workers, stop and resume, state round trip, greedy determinism, ask/tell.

    Args:
        name: the registered algorithm.
        policy: the policy kind.
        env_id: the environment.
        iterations: iterations of each run (at least 2).
        hyperparameters: options over the class's ``smoke_hyperparameters`` (to check a feature).

    Raises:
        ContractError: naming the first guarantee that does not hold.
    """
    from .run.trainer import Trainer

    label = f"{name} --policy {policy} on {env_id}" + (f" with {hyperparameters}" if hyperparameters else "")

    def options(folder: str, runs: int = iterations, **kw: Any) -> TrainOptions:
        return _options(name, policy, env_id, root / folder, runs, hyperparameters, **kw)

    with tempfile.TemporaryDirectory(prefix="policysearch-check-") as tmp:
        root = Path(tmp)
        first = Trainer(options("a"))
        first.train()
        again = Trainer(options("b"))
        again.train()
        reference = _metrics(root / "a")
        final = first.algorithm.state_arrays()
        if len(reference) != iterations:
            raise ContractError(f"{label}: {len(reference)} metrics records for {iterations} iterations")
        if _metrics(root / "b") != reference:
            raise ContractError(f"{label}: the same seed gave other metrics")
        if (diff := _same_arrays(final, again.algorithm.state_arrays())) is not None:
            raise ContractError(f"{label}: the same seed gave another final state ({diff})")

        parallel = Trainer(options("w", workers=2, n_envs=3))
        parallel.train()
        if _metrics(root / "w") != reference:
            raise ContractError(f"{label}: 2 workers gave other metrics than 1")

        Trainer(options("r", iterations - 1)).train()
        resumed = Trainer.resume(root / "r", max_iterations=iterations)
        resumed.train()
        if _metrics(root / "r") != reference:
            raise ContractError(f"{label}: a run stopped and resumed gave other metrics")
        if (diff := _same_arrays(final, resumed.algorithm.state_arrays())) is not None:
            raise ContractError(f"{label}: a run stopped and resumed ended in another state ({diff})")

        fresh = make_run(options("f")).algorithm
        fresh.load_state_arrays(final)
        if (diff := _same_arrays(final, fresh.state_arrays())) is not None:
            raise ContractError(f"{label}: state_arrays do not round-trip ({diff})")
        _check_greedy(label, first.algorithm, fresh, env_id)
        _check_tell_takes_the_request(label, fresh)


def _observations(env_id: str, n: int = 32) -> np.ndarray:
    from .envs import make_env

    env = make_env(env_id)
    try:
        env.observation_space.seed(0)
        return np.stack([np.asarray(env.observation_space.sample()) for _ in range(n)])
    finally:
        env.close()


def _check_greedy(label: str, trained: Algorithm, restored: Algorithm, env_id: str) -> None:
    from .policies.base import start_sessions

    obs = _observations(env_id)
    index = np.arange(len(obs))
    actions = []
    for algorithm in (trained, trained, restored):
        actor = algorithm.greedy_actor()
        if getattr(actor, "noise_dim", 0):
            raise ContractError(f"{label}: the greedy actor asks for noise (it must be deterministic)")
        start_sessions(actor, index)
        actions.append(np.asarray(actor.act(obs, index, None)))
    if not np.array_equal(actions[0], actions[1]):
        raise ContractError(f"{label}: the greedy actor gave other actions for the same observations")
    if not np.array_equal(actions[0], actions[2]):
        raise ContractError(f"{label}: the restored algorithm's greedy actor acts otherwise")


def _check_tell_takes_the_request(label: str, algorithm: Algorithm) -> None:
    from .sampling.session import Sessions

    request = algorithm.ask(np.random.default_rng(0))
    n = request.n_sessions + 1
    obs_shape = np.asarray(_observations_like(algorithm)).shape
    wrong = Sessions(
        np.zeros((1, n, *obs_shape)),
        np.zeros((1, n)),
        np.zeros((1, n)),
        np.ones(n, dtype=np.int64),
        np.zeros(n, dtype=bool),
        np.ones(n, dtype=bool),
    )
    try:
        algorithm.tell(request, wrong, np.random.default_rng(0))
    except ValueError:
        return
    raise ContractError(f"{label}: tell accepted sessions that do not answer its request")


def _observations_like(algorithm: Algorithm) -> Any:
    space = algorithm.observation_space
    return space.sample() if not isinstance(space, gym.spaces.Discrete) else 0
