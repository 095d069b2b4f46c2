"""The training loop: budgets, the evaluation protocol, checkpoints and callbacks.

    Trainer -> Algorithm.ask() -> Sampler.sample() -> Algorithm.tell() -> metrics, checkpoint

The trainer owns the run folder; algorithms never see files, samplers never see algorithms.
:func:`~policysearch.run.factory.make_run` builds what the trainer runs, for new and resumed runs
(:func:`~policysearch.run.factory.stored_run` reads and migrates a stored one).
The trainer computes the batch's ``mean_return`` and ``max_return`` itself from the sessions.
"""

from __future__ import annotations

import copy
import dataclasses
import shlex
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..algorithms import Algorithm
from ..config import as_dict
from ..errors import BackendError, EnvError
from ..presets import DEFAULT_MAX_ITERATIONS
from ..sampling import Sampler, closed_after, make_sampler
from ..seeding import SeedTree
from .callbacks import (
    Callback,
    EvaluationProgress,
    Heartbeat,
    ProgressBar,
    checked_callbacks,
    duration,
    running_line,
    say,
)
from .evaluation import Evaluation, evaluation_parts
from .factory import Resumed, make_run, resolved_hyperparameters, stored_run
from .guards import RunGuard
from .options import MIN_EVAL_EPISODES, TrainOptions
from .plots import plot_learning_curve
from .runfolder import (
    CHECKPOINT,
    CURVE,
    SUMMARY,
    MetricsLog,
    RunFolder,
    read_metrics,
    save_checkpoint,
    write_json,
)

__all__ = ["MIN_EVAL_EPISODES", "Resumed", "TrainOptions", "Trainer"]


class Trainer:
    """Trains one run into its run folder.

    All input is validated on construction, before any file is touched.

    Args:
        options: what to train and how.
        callbacks: extra watchers (see :class:`~policysearch.run.callbacks.Callback`).
        progress: show a progress bar on stderr.
        force: replace an existing run in the folder instead of refusing.
        resumed: what a stored run's checkpoint restores (:meth:`resume` passes it; None: a new
            run).
    """

    def __init__(
        self,
        options: TrainOptions,
        callbacks: Sequence[Callback] = (),
        progress: bool = False,
        force: bool = False,
        resumed: Resumed | None = None,
    ) -> None:
        self.options = options
        self.callbacks = checked_callbacks(callbacks)
        self.progress, self.force = progress, force
        self.run = make_run(options, resumed)
        self.folder = options.run_folder()
        self.iteration = self.env_steps = self.episodes = self.eval_env_steps = 0
        self.prior_wall = 0.0
        self.last_returns: np.ndarray | None = None
        #: The final evaluation of the policy of iteration ``evaluated[0]``, once played (the
        #: target's confirmation or the evaluation after the budget): kept in the checkpoint, so
        #: that a run stopped before its summary was written resumes to that summary instead of
        #: training past its target or playing the evaluation again.
        self.evaluated: tuple[int, Evaluation] | None = None
        self.resumed = resumed is not None
        #: The run id of a resumed run's checkpoint, written again by :meth:`save` before the
        #: folder is held (an agent saved as it was loaded).
        self._resumed_run_id = resumed.run_id if resumed is not None else ""
        if resumed is not None:
            self.iteration, self.env_steps = resumed.iteration, resumed.env_steps
            self.episodes, self.eval_env_steps = resumed.episodes, resumed.eval_env_steps
            self.prior_wall = resumed.wall_time_s
            self.last_returns = resumed.arrays.get("trainer.last_returns")
            self.evaluated = resumed.evaluated
        self._started: float | None = None
        #: What the loop is doing (``"iteration 5"``), since when (``time.monotonic()``), and how
        #: far it was before the sampler's request in play: the heartbeat's line (:meth:`_status`).
        self._doing: tuple[str, float, str] | None = None
        self._last_iteration_s: float | None = None
        #: The run folder while this trainer holds it (from the first train() call on).
        self._held: RunFolder | None = None

    @property
    def algorithm(self) -> Algorithm:
        """The run's algorithm."""
        return self.run.algorithm

    @property
    def policy(self) -> str:
        """The resolved policy kind."""
        return self.run.policy

    @property
    def config(self) -> Any:
        """The validated hyperparameters."""
        return self.run.config

    @property
    def eval_episodes(self) -> int:
        """Episodes of the final evaluation."""
        return self.run.eval_episodes

    @property
    def seeds(self) -> SeedTree:
        """The run's seed tree."""
        return self.run.seeds

    @property
    def held(self) -> RunFolder | None:
        """The run folder as this trainer holds it (None before the first :meth:`train`)."""
        return self._held

    @classmethod
    def resume(
        cls,
        folder: str | Path,
        max_seconds: float | None = None,
        max_iterations: int | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = False,
        **changes: Any,
    ) -> Trainer:
        """Continue the run in ``folder`` from its checkpoint; budgets may be given again.

        Args:
            folder: the run folder.
            max_seconds: a new wall-time budget (of the whole run).
            max_iterations: a new iteration budget (of the whole run).
            callbacks: watchers.
            progress: show a progress bar.
            **changes: other options of :data:`~policysearch.run.factory.RESUMABLE` to change
                (``target``, ``workers``, ...); None keeps the stored value. The same seed gives
                the same run wherever it samples.

        Raises:
            CheckpointError: if the folder has no readable checkpoint.
            ConfigError: for an option that cannot change on resume.
        """
        changes = {"max_seconds": max_seconds, "max_iterations": max_iterations, **changes}
        options, resumed = stored_run(folder, changes)
        return cls(options, callbacks, progress, resumed=resumed)

    # -- the run folder -------------------------------------------------------------------------

    @property
    def _has_checkpoint(self) -> bool:
        """Whether the folder holds a checkpoint of this run (resumed, or one written since)."""
        return self.resumed or (self._held is not None and self._held.committed)

    def _open_run(self) -> RunFolder:
        """Hold the run folder: a new run's (written at its first checkpoint), or reopen this one's."""
        if self._has_checkpoint:
            return RunFolder.reopen(self.folder, self.iteration, self.episodes)
        opts = self.options
        return RunFolder.create(
            self.folder, opts.algorithm, opts.env_id, self.policy, opts.seed, force=self.force
        )

    def _wall(self) -> float:
        """Wall time of the run: what earlier sessions spent, plus this :meth:`train` call's so far."""
        running = 0.0 if self._started is None else time.perf_counter() - self._started
        return self.prior_wall + running

    def save(self, folder: Path | None = None, arrays: dict[str, np.ndarray] | None = None) -> None:
        """Write the checkpoint (to the run folder, or to ``folder``).

        Args:
            folder: where to write it instead of the run folder.
            arrays: the algorithm's :meth:`~policysearch.algorithms.base.Algorithm.state_arrays`
                if already taken (the loop takes them once per iteration, for the guard too).
        """
        meta = {
            "policysearch_version": __version__,
            "algorithm": self.options.algorithm,
            "policy": self.policy,
            "env_id": self.options.env_id,
            "options": {k: v for k, v in dataclasses.asdict(self.options).items() if k != "hyperparameters"},
            "hyperparameters": as_dict(self.config),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "eval_env_steps": self.eval_env_steps,
            "wall_time_s": self._wall(),
        }
        if self.evaluated is not None:
            at, result = self.evaluated
            meta["evaluated"] = {"iteration": at, **result.counts()}
        arrays = dict(self.algorithm.state_arrays() if arrays is None else arrays)
        if self.last_returns is not None:
            arrays["trainer.last_returns"] = self.last_returns
        if folder is None and self._held is not None and self._held.is_open:
            self._held.save_checkpoint(meta, arrays)
        else:
            if self._held is not None:
                meta["run_id"] = self._held.identity.run_id
            elif self._resumed_run_id:
                meta["run_id"] = self._resumed_run_id
            save_checkpoint(self.folder if folder is None else folder, meta, arrays)

    # -- the loop ------------------------------------------------------------------------------

    def _budget_spent(self) -> str | None:
        opts = self.options
        limit = opts.max_iterations
        if limit is None and opts.max_seconds is None:
            limit = DEFAULT_MAX_ITERATIONS
        if limit is not None and self.iteration >= limit:
            return "max_iterations"
        if opts.max_seconds is not None and self._wall() >= opts.max_seconds:
            return "max_seconds"
        return None

    def _known_evaluation(self) -> Evaluation | None:
        """The final evaluation of the current policy, if it was played (and with today's episodes)."""
        if self.evaluated is None:
            return None
        at, result = self.evaluated
        return result if at == self.iteration and result.episodes == self.eval_episodes else None

    def _evaluate(self, sampler: Sampler) -> Evaluation:
        """The evaluation protocol's episodes (a long one in parts, with progress lines).

        Played once per policy: recorded in :attr:`evaluated`, and read from there when the
        run resumes at the iteration it evaluated.
        """
        known = self._known_evaluation()
        if known is not None:
            return known
        actor, episodes = self.algorithm.greedy_actor(), self.eval_episodes
        progress = EvaluationProgress(episodes, "final evaluation: ") if self.progress else None
        result = None
        opts = self.options
        parts = evaluation_parts(
            actor, opts.env_id, episodes, seed=0, sampler=sampler, env_options=opts.env_options
        )
        self._begin(f"final evaluation of {episodes:,} episodes")
        for result in parts:
            if progress is not None:
                progress.update(result.episodes, result.mean)
            if self._doing is not None:
                self._doing = (*self._doing[:2], f"{result.episodes:,} played")
        assert result is not None
        self.eval_env_steps += result.env_steps
        self.evaluated = (self.iteration, result)
        return result

    def _check_target(self, sampler: Sampler, metrics: dict[str, Any], rng: Any) -> Evaluation | None:
        """Confirm the target once a session reached it.

        First a quick check of the deterministic policy on training episodes (1000 on a tabular
        model, where they are nearly free, else 20), then the protocol's evaluation.
        """
        target = self.options.target
        if target is None or metrics["max_return"] < target:
            return None
        episodes = min(self.eval_episodes, 1000 if sampler.cheap else 20)
        check = sampler.sample(self.algorithm.greedy_actor(), episodes, rng, keep="returns")
        self.env_steps += check.env_steps  # training steps (training seeds): in the record too
        metrics["env_steps"] = self.env_steps
        metrics["greedy_return"] = float(check.returns.mean())
        if metrics["greedy_return"] < target:
            return None
        result = self._evaluate(sampler)
        metrics["eval_mean_return"] = result.mean
        return result if result.mean >= target else None

    def train(self, clock_start: float | None = None) -> dict[str, Any]:
        """Run until the target is confirmed or a budget is spent; returns summary.json's content.

        The run folder is locked while the run trains (a second writer is refused).

        Args:
            clock_start: when this session of the run began (``time.perf_counter()``); default
                now. The command line passes its own start, so that ``wall_time_s`` counts from
                the command; the Python API's clock starts here, not when the agent was made.
        """
        self._started = time.perf_counter() if clock_start is None else clock_start
        opts = self.options
        try:
            # Before the run folder is touched: a backend that cannot start is bad input.
            sampler = make_sampler(
                opts.env_id,
                opts.n_envs,
                opts.workers,
                backend=opts.backend,
                address=opts.address,
                env_options=opts.env_options,
            )
            with closed_after(sampler):
                try:
                    return self._train(sampler)
                except BackendError as exc:
                    if not self._has_checkpoint:  # nothing to continue from
                        raise BackendError(f"{exc}; the run had no checkpoint yet") from None
                    raise BackendError(
                        f"{exc}; the last checkpoint is kept: continue with policysearch train --resume "
                        f"{self.folder}"
                    ) from None
        finally:
            self.prior_wall, self._started = self._wall(), None

    def _train(self, sampler: Sampler) -> dict[str, Any]:
        self._held = held = self._open_run()
        try:
            with Heartbeat(lambda: self._status(sampler)) if self.progress else nullcontext():
                return self._loop(sampler, held.metrics)
        finally:
            self._doing = None
            held.close()

    def _begin(self, what: str) -> None:
        """Say (to the heartbeat) that the loop now does ``what``."""
        self._doing = (what, time.monotonic(), "")

    def _status(self, sampler: Sampler) -> str | None:
        """The heartbeat's line: what runs, for how long, how far its request is (another thread)."""
        doing = self._doing
        if doing is None:
            return None
        what, since, detail = doing
        opts = self.options
        line = running_line(f"{opts.algorithm} {opts.env_id}: {what}", since, detail, sampler.progress())
        last = self._last_iteration_s
        if what.startswith("iteration") and last is not None:
            line += f"; the last iteration took {duration(last)}"
        return line

    def _loop(self, sampler: Sampler, metrics_log: MetricsLog) -> dict[str, Any]:
        opts = self.options
        watchers = list(self.callbacks)
        if self.progress:
            total = opts.max_iterations or (None if opts.max_seconds else DEFAULT_MAX_ITERATIONS)
            label = f"{opts.algorithm} {opts.env_id}"
            watchers.insert(0, ProgressBar(total, label, self.iteration))
        guard = RunGuard(sampler, self.algorithm, self.run.episode_limit, self.run.arrays)
        solved_by = self._known_evaluation()  # a resumed run that had confirmed its target
        if solved_by is not None and (opts.target is None or solved_by.mean < opts.target):
            solved_by = None
        stop = "target" if solved_by is not None else self._budget_spent()
        try:
            while stop is None:
                tick = time.perf_counter()
                self._begin(f"iteration {self.iteration + 1}")
                restarts, stalls = sampler.restarts, sampler.stalls
                rng = self.seeds.iteration(self.iteration)
                request = self.algorithm.ask(rng)
                guard.check_request(self.iteration + 1, request)
                sessions = sampler.sample(
                    request.actor, request.n_sessions, rng, request.start_period, self.algorithm.keep
                )
                guard.check_sessions(sessions)
                status = self.algorithm.tell(request, sessions, rng)
                guard.check_update()
                self.iteration += 1
                self.env_steps += sessions.env_steps
                self.episodes += sessions.n
                returns = self.last_returns = sessions.returns
                metrics: dict[str, Any] = {
                    "iteration": self.iteration,
                    "env_steps": self.env_steps,
                    "episodes": self.episodes,
                    "mean_return": float(returns.mean()),
                    "max_return": float(returns.max()),
                    **status,
                }
                solved_by = self._check_target(sampler, metrics, rng)
                elapsed = self._last_iteration_s = time.perf_counter() - tick
                metrics["steps_per_s"] = sessions.env_steps / max(elapsed, 1e-9)
                metrics["wall_time_s"] = self._wall()
                metrics["worker_restarts"] = sampler.restarts - restarts
                metrics["worker_stalls"] = sampler.stalls - stalls
                state = self.algorithm.state_arrays()
                guard.check_iteration(metrics, state)
                metrics_log.append(metrics)
                self.save(arrays=state)
                for watcher in watchers:
                    watcher.on_iteration(self.iteration, metrics)
                stop = "target" if solved_by is not None else self._budget_spent()
        except EnvError as exc:
            raise guard.in_iteration(exc) from None
        except MemoryError as exc:
            raise guard.out_of_memory(exc) from None
        if self.progress and self.iteration == 0 and stop == "max_seconds":
            say(
                f"{opts.algorithm} {opts.env_id}: the time budget ({opts.max_seconds:g} s) was spent "
                f"before the first iteration ({duration(self._wall())} since the start): evaluating "
                "the policy as it was made"
            )
        try:
            final = solved_by or self._evaluate(sampler)
        except EnvError as exc:
            raise self._evaluation_failed(exc) from None
        self._doing = None  # the summary and the plot: nothing long to say
        summary = self._summary(final, stop or "max_iterations")
        self.save()
        write_json(self.folder / SUMMARY, summary)
        plot_learning_curve(
            self.folder / CURVE,
            read_metrics(self.folder),
            self.last_returns,
            f"{opts.algorithm} ({self.policy}) on {opts.env_id}, seed {opts.seed}",
            opts.target,
            summary=summary,
            episodes_per_candidate=int(summary["hyperparameters"].get("episodes_per_candidate", 1)),
        )
        for watcher in watchers:
            watcher.on_end(copy.deepcopy(summary))  # its own: what it changes is not the result
        return summary

    def _evaluation_failed(self, exc: EnvError) -> EnvError:
        """The env's error in the final evaluation, saying that the trained run is kept and how to go on.

        Every iteration's checkpoint is written before the evaluation: ``evaluate DIR`` retries
        it, and ``train --resume DIR`` (its budget spent) runs it again and writes the summary.
        """
        folder = shlex.quote(str(self.folder))
        return EnvError(
            f"the final evaluation failed: {exc}; the trained run is kept (checkpoint of iteration "
            f"{self.iteration} in {self.folder}): retry with policysearch evaluate {folder}, or "
            f"write its summary with policysearch train --resume {folder}"
        )

    def _summary(self, final: Evaluation, stop: str) -> dict[str, Any]:
        target = self.options.target
        hyperparameters, auto = resolved_hyperparameters(self.run)
        return {
            "algorithm": self.options.algorithm,
            "env_id": self.options.env_id,
            "policy": self.policy,
            "seed": self.options.seed,
            "solved": bool(target is not None and final.mean >= target),
            "target": target,
            "stop_reason": stop,
            "iterations": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "wall_time_s": self._wall(),
            "eval_mean_return": final.mean,
            "eval_std_return": final.std,
            "eval_episodes": final.episodes,
            "eval_env_steps": self.eval_env_steps,
            "hyperparameters": hyperparameters,
            "auto_hyperparameters": auto,
            "checkpoint": str(self.folder / CHECKPOINT),
            "policysearch_version": __version__,
        }
