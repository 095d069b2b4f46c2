"""The trainer's checks of every iteration: the batch must fit in memory, the results be finite.

Both fail before anything is written: a batch that cannot fit is refused before it is sampled
(:class:`~policysearch.errors.ConfigError`, exit status 2, with the estimate), and non-finite
numbers stop the run before they reach metrics.jsonl or the checkpoint. Non-finite numbers that an
environment returned are caught where they are sampled (an
:class:`~policysearch.errors.EnvError` naming the env, the session and the step); any found here
come from our own computation (:class:`NumericalError`, exit status 1). Every check is one
vectorised pass over a batch.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ..config import LARGEST
from ..errors import ConfigError, EnvError, OutOfMemory
from ..optim.noise_table import NoiseTable
from ..sampling import InProcess, ModelSampler, ProcessTransport, Sessions, ShardedSampler, VectorRunner

#: Bytes a session step costs beyond its arrays when envs are stepped as Python objects (the
#: runner keeps each step's observation, action and reward in lists before padding them).
OBJECT_STEP_BYTES = 200


class NumericalError(RuntimeError):
    """Our own computation produced a non-finite number (a bug: the CLI exits with status 1)."""


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def short_of_memory(need: int) -> int | None:
    """The bytes available if ``need`` bytes exceed them; None if they fit (or it is unknown)."""
    have = available_memory()
    return have if have is not None and need > have else None


def _elements(space: gym.Space[Any]) -> int:
    """Numbers in one member of ``space`` (a Discrete index is one)."""
    return int(np.prod(space.shape or (), dtype=np.int64))


#: Bytes of a session's outcome when its steps are not kept: its return, length and ends.
OUTCOME_BYTES = 64


def step_bytes(observation_space: gym.Space[Any], action_space: gym.Space[Any], objects: bool) -> int:
    """Estimated bytes one kept step holds.

    Its observation in the env's own dtype (a uint8 frame stays uint8) and once more as float32
    (the copy an update computes on), its action and reward twice, plus the runner's per-step
    Python objects if ``objects``.
    """

    def itemsize(space: gym.Space[Any]) -> int:
        return 8 if isinstance(space, gym.spaces.Discrete) else np.dtype(space.dtype or np.float64).itemsize

    obs = _elements(observation_space) * (itemsize(observation_space) + 4)
    data = obs + 2 * (_elements(action_space) * max(itemsize(action_space), 4) + 8)
    return data + (OBJECT_STEP_BYTES if objects else 0)


def session_bytes(algorithm: Any, horizon: int, objects: bool, keep: str) -> int:
    """Estimated bytes the driver holds per session of a batch, for what ``keep`` keeps.

    Every step up to ``horizon`` when the steps are kept; else the session's outcome: its return
    and length, and with ``stats`` a mean and a sum of squares per observation number. Where
    the steps are not kept, nothing grows with the length of an episode, in a worker or here.
    """
    if keep == "steps":
        return horizon * step_bytes(algorithm.observation_space, algorithm.action_space, objects)
    return OUTCOME_BYTES + (16 * _elements(algorithm.observation_space) if keep == "stats" else 0)


def format_bytes(n: float) -> str:
    """``n`` bytes as the user reads them (``1.5 GB``)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000
    return f"{n:.3g} EB"  # pragma: no cover


class RunGuard:
    """The checks of one training run.

    Args:
        sampler: the run's sampler (its kind decides the memory estimate).
        algorithm: the run's algorithm (its spaces decide the size of a step).
        horizon: the env's episode time limit (a session is at most this long).
        arrays: the env is stepped as numpy arrays (:func:`~policysearch.sampling.array_dynamics`),
            whose runners hold every step of the sessions they play.
    """

    def __init__(self, sampler: Any, algorithm: Any, horizon: int, arrays: bool = False) -> None:
        # envs stepped as objects, unless this process steps them as arrays (workers may too)
        transport = sampler.transport if isinstance(sampler, ShardedSampler) else None
        here = isinstance(transport, InProcess)
        objects = transport is not None and not (
            isinstance(transport, InProcess) and isinstance(transport.runner, VectorRunner)
        )
        if isinstance(sampler, ModelSampler):
            horizon = sampler.model.max_steps
        # a runner of numpy dynamics holds every step of its sessions until they all end,
        # whatever is kept of them: in this process, or in workers beside the driver
        held = 0
        if arrays and not isinstance(sampler, ModelSampler):
            held = session_bytes(algorithm, horizon, False, "steps")
        kept = session_bytes(algorithm, horizon, objects, algorithm.keep)
        #: What a session of a batch takes here (:func:`session_bytes`): what the driver keeps,
        #: and what runners of numpy dynamics hold while they play.
        self.session_bytes = max(kept, held) if here else kept + held
        self.horizon = horizon
        # offered beside fewer sessions when refusing, if a batch that keeps no steps would fit
        # (each session counted as a candidate of its own weights: the most it can need)
        self.keeps_less = algorithm.keeps_less
        policy = sum(a.nbytes for _, a in _arrays_of(algorithm.greedy_actor()))
        self.lighter_bytes = session_bytes(algorithm, horizon, objects, "stats") + policy + held
        self.algorithm = algorithm
        #: The iteration being run (1-based), as the last :meth:`check_request` said.
        self.iteration = 0
        self._fits: set[int] = set()
        self._check_plan(algorithm)
        self._check_tables(algorithm, transport)

    def _check_plan(self, algorithm: Any) -> None:
        """Refuse, before the first ``ask``, a batch that the hyperparameters make too large.

        An algorithm's ``ask`` may allocate per candidate (its weights, a sampled table) before
        the request can be checked: an ES population of 10**9 filled 20 GB before failing. The
        planned batch is its candidates (``n_sessions`` or ``population``) times the episodes
        of each, each candidate costing about the size of one policy.
        """
        cfg = algorithm.config
        candidates = getattr(cfg, "n_sessions", None) or getattr(cfg, "population", None)
        if not candidates:
            return
        # the algorithm's config, with any ``auto`` already resolved (CEM's resolve_auto)
        per = getattr(cfg, "episodes_per_candidate", None) or 1
        # one candidate's policy: what the deterministic actor holds (its weights or table)
        policy = sum(a.nbytes for _, a in _arrays_of(algorithm.greedy_actor()))
        self._refuse_beyond_memory(
            int(candidates) * int(per), int(candidates) * (int(per) * self.session_bytes + policy)
        )

    @staticmethod
    def _check_tables(algorithm: Any, transport: Any) -> None:
        """Refuse a noise table whose copies on this machine cannot fit in its memory.

        The driver and each local worker process make their own copy of the table
        (:class:`~policysearch.optim.noise_table.NoiseTable`), 4 bytes a number; the algorithm
        checked one copy when it was built. Ray actors make theirs where they run. A driver that
        holds its copy already (a second ``train`` of an agent) counts only the workers'.
        """
        if algorithm.table is None:
            return
        size = algorithm.table[1]
        workers = transport.size if isinstance(transport, ProcessTransport) else 0
        copies = workers + (0 if NoiseTable.held(*algorithm.table) else 1)
        need = copies * 4 * size
        if workers and (have := short_of_memory(need)) is not None:
            raise ConfigError(
                f"noise_table_size={size:,}: the driver and each of the {workers} worker processes "
                f"make their own copy of the noise table, {copies} x {format_bytes(4 * size)} = "
                f"{format_bytes(need)}, but {format_bytes(have)} is available: use a smaller table "
                f"(the default: 10,000,000) or fewer workers"
            )

    def check_request(self, iteration: int, request: Any) -> None:
        """Refuse a batch that cannot fit in the memory available now, or a policy not finite.

        Called at the start of each iteration, before the batch is sampled. Each batch size is
        checked once per run (a run keeps its batch size); the arrays the request's actor holds
        (the candidates' weights) every time.

        Args:
            iteration: the iteration (1-based) about to be sampled.
            request: what the algorithm asked for (an ``n_sessions`` and an ``actor``).

        Raises:
            ConfigError: with the estimate and the memory available.
            NumericalError: if the actor's weights are not finite.
        """
        self.iteration = iteration
        for name, array in _arrays_of(request.actor):
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                raise NumericalError(
                    f"iteration {iteration}: the policy to sample holds non-finite weights ({name!r})"
                )
        n_sessions = int(request.n_sessions)
        if n_sessions in self._fits:
            return
        self._refuse_beyond_memory(n_sessions, n_sessions * self.session_bytes)
        self._fits.add(n_sessions)

    def _refuse_beyond_memory(self, sessions: int, need: int) -> None:
        """Raise ConfigError if ``need`` bytes for a batch of ``sessions`` exceed the memory available."""
        have = short_of_memory(need)
        if have is not None:
            lighter = self.keeps_less and sessions * self.lighter_bytes <= have
            raise ConfigError(
                f"a batch of {sessions:,} sessions of up to {self.horizon:,} steps needs about "
                f"{format_bytes(need)} of memory, but {format_bytes(have)} is available; "
                f"ask for fewer sessions" + (f", or for {self.keeps_less}" if lighter else "")
            )

    def in_iteration(self, exc: EnvError) -> EnvError:
        """The env's error, naming the iteration it happened in (raise it ``from None``)."""
        return EnvError(f"iteration {self.iteration}: {exc}")

    def out_of_memory(self, exc: MemoryError) -> OutOfMemory:
        """The process ran out of memory in the iteration, where the estimate let the batch pass.

        Names the iteration and says what to ask for, with the algorithm's way to keep less
        (:attr:`~policysearch.algorithms.base.Algorithm.keeps_less`) as the refusal up front
        does (raise it ``from None``).
        """
        detail = f" ({exc})" if str(exc) else ""
        lighter = f", or for {self.keeps_less}" if self.keeps_less else ""
        return OutOfMemory(
            f"iteration {self.iteration}: out of memory{detail}; ask for fewer sessions or episodes{lighter}"
        )

    def check_sessions(self, sessions: Sessions) -> None:
        """Stop the run if a sampled session's return is not finite (before the update sees it).

        Raises:
            EnvError: if an env's finite rewards add up to a non-finite return.
            NumericalError: for a non-finite reward of our own sampling (envs stepped as arrays).
        """
        with np.errstate(over="ignore", invalid="ignore"):
            returns = sessions.returns
        finite = np.isfinite(returns)
        if finite.all():
            return
        i = int(np.flatnonzero(~finite)[0])
        if not sessions.has_steps or np.isfinite(sessions.rewards[:, i]).all():
            # an env's rewards were each checked where it was stepped (sampling/runner.py)
            raise EnvError(  # the trainer adds the iteration, as to every env error
                f"the rewards of session {i} add up to {returns[i]}: the environment's rewards are too large"
            )
        raise NumericalError(
            f"iteration {self.iteration}: session {i} of the batch has a non-finite reward "
            f"({returns[i]}), produced by policysearch's own sampling of the environment"
        )

    def check_iteration(self, metrics: dict[str, Any], state: dict[str, np.ndarray]) -> None:
        """Stop the run if the iteration's update produced a non-finite metric or state array.

        Called after the update, before the iteration's metrics and checkpoint are written.

        Args:
            metrics: the iteration's metrics record.
            state: the algorithm's state arrays after the update (what the checkpoint stores).

        Raises:
            NumericalError: naming the metric or array.
        """
        for key, value in metrics.items():
            if isinstance(value, float) and not np.isfinite(value):
                raise NumericalError(f"iteration {self.iteration}: the metric {key!r} is {value}")
        for key, array in state.items():
            array = np.asarray(array)
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                bad = int((~np.isfinite(array)).sum())
                raise NumericalError(
                    f"iteration {self.iteration}: the algorithm's state {key!r} holds {bad} "
                    f"non-finite value(s) after the update"
                )

    def check_update(self) -> None:
        """Stop the run if the update took the policy's weights beyond float32's range.

        Called right after the update, before the policy is played for the target or saved:
        its weights are float32 where it is played, evaluated or saved as the run's policy, and
        a search that keeps its own numbers in float64 can go beyond them (a step size of 1e38).

        Raises:
            ConfigError: naming the weights (the search diverged: the checkpoint, if any, keeps
                the iteration before).
        """
        with np.errstate(over="ignore"):  # the cast to float32 overflowing is what is checked
            arrays = _arrays_of(self.algorithm.greedy_actor())
        for name, array in arrays:
            weight = name.startswith("params")  # not the normaliser's statistics
            if weight and array.dtype.kind in "fc" and not np.isfinite(array).all():
                kept = (
                    f"the run's checkpoint keeps iteration {self.iteration - 1}"
                    if self.iteration > 1
                    else "no checkpoint was written"
                )
                raise ConfigError(
                    f"iteration {self.iteration}: the search diverged: its update took the policy's "
                    f"weights ({name!r}) beyond the float32 numbers policies compute with (at most "
                    f"{LARGEST:.3g}); use a smaller step size ({kept})"
                )


def _arrays_of(actor: Any) -> list[tuple[str, np.ndarray]]:
    """The numpy arrays an actor holds, directly or in a dict (its weights), by attribute name."""
    found = []
    for key, value in getattr(actor, "__dict__", {}).items():
        if isinstance(value, np.ndarray):
            found.append((key, value))
        elif isinstance(value, dict):
            found.extend((f"{key}.{k}", v) for k, v in value.items() if isinstance(v, np.ndarray))
    return found
