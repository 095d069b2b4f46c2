"""The Python API, as short as the command line.

>>> from policysearch import CEM
>>> agent = CEM("Taxi-v4", seed=0)                         # doctest: +SKIP
>>> summary = agent.train(target=7.5, max_seconds=30)      # doctest: +SKIP
>>> agent.evaluate(episodes=1000)["mean_return"] >= 7.5    # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .evaluation import evaluate_actor
from .logging import Callback
from .registry import REGISTRY, Entry
from .runfolder import load_checkpoint
from .trainer import Trainer, TrainOptions


class Agent:
    """A policy search run held in memory, with its run folder on disk.

    Args:
        env: a Gymnasium id.
        policy: policy kind (tabular, linear, mlp, gru); default as on the command line.
        seed: root seed.
        out: run folder; default a new temporary folder (use :meth:`save` to keep the result).
        eval_episodes: episodes of the evaluation at the end of :meth:`train`.
        callbacks: watchers called after every iteration and at the end.
        workers: parallel sampling workers (as ``--workers``).
        n_envs: environments each worker steps side by side (as ``--n-envs``).
        backend: where the workers live (as ``--backend``).
        address: the cluster's address with ``backend="ray"`` (as ``--address``).
        **hyperparameters: the algorithm's hyperparameters (e.g. ``percentile=70``).

    The wall clock of the budgets starts in :meth:`train`, not here.

    Raises:
        PolicySearchError: for any invalid input, before anything runs.
    """

    algorithm: ClassVar[str] = ""

    def __init__(
        self,
        env: str,
        policy: str | None = None,
        seed: int = 0,
        out: str | Path | None = None,
        eval_episodes: int | None = None,
        callbacks: list[Callback] | None = None,
        workers: int = 1,
        n_envs: int = 16,
        backend: str = "local",
        address: str | None = None,
        **hyperparameters: Any,
    ) -> None:
        folder = str(out) if out is not None else tempfile.mkdtemp(prefix="policysearch-")
        options = TrainOptions(
            algorithm=self.algorithm,
            env_id=env,
            policy=policy,
            seed=seed,
            out=folder,
            eval_episodes=eval_episodes,
            backend=backend,  # type: ignore[arg-type]
            address=address,
            workers=workers,
            n_envs=n_envs,
            hyperparameters=hyperparameters,
        )
        self._trainer = Trainer(options, callbacks or [])
        self.summary: dict[str, Any] | None = None

    @property
    def folder(self) -> Path:
        """The run folder."""
        return self._trainer.folder

    def train(
        self,
        target: float | None = None,
        max_seconds: float | None = None,
        max_iterations: int | None = None,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Train until ``target`` is confirmed or a budget is spent; call again to train more.

        Budgets count from the start of the run (a second call needs larger ones).

        Returns:
            The content of summary.json.
        """
        trainer = self._trainer
        trainer.options = dataclasses.replace(
            trainer.options, target=target, max_seconds=max_seconds, max_iterations=max_iterations
        )
        trainer.progress = progress
        self.summary = trainer.train()
        return self.summary

    def evaluate(self, episodes: int = 100, seed: int = 0) -> dict[str, float | int]:
        """The deterministic policy over fresh held-out episodes: mean_return, std_return, episodes."""
        actor = self._trainer.algorithm.greedy_actor()
        return evaluate_actor(actor, self._trainer.options.env_id, episodes, seed).as_dict()

    def act(self, observation: Any) -> Any:
        """The deterministic policy's action for one observation."""
        batch = np.asarray(observation)[None]
        action = self._trainer.algorithm.greedy_actor().act(batch, np.zeros(1, np.int64), None)[0]
        return action.item() if np.ndim(action) == 0 else action

    def save(self, path: str | Path) -> Path:
        """Write the current state as a run folder at ``path``.

        The folder is readable by ``evaluate`` and :meth:`load`, and resumable with
        ``train --resume``.
        """
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        self._trainer.save(target)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Agent:
        """Load a run folder written by ``train`` or :meth:`save`; training continues there."""
        meta, _ = load_checkpoint(Path(path))
        agent = cls.__new__(AGENTS.get(meta.get("algorithm", ""), cls))
        agent._trainer = Trainer.resume(path)
        agent.summary = None
        return agent


def _agent_class(entry: Entry) -> type[Agent]:
    """The Python API class of a registered algorithm (``policysearch.CEM``, ...)."""
    doc = f"""{entry.summary[0].upper()}{entry.summary[1:]}.

    ``{entry.api_name}(env, ...)`` is :class:`Agent` with ``algorithm="{entry.name}"``, as
    ``policysearch train {entry.name}`` on the command line.
    """
    return type(entry.api_name, (Agent,), {"algorithm": entry.name, "__doc__": doc, "__module__": __name__})


#: The Python API class of every registered algorithm, by command-line name.
AGENTS: dict[str, type[Agent]] = {name: _agent_class(e) for name, e in REGISTRY.items()}
globals().update({cls.__name__: cls for cls in AGENTS.values()})
#: The public names of this module: the agent classes of the registry, and Agent.
__all__ = ["AGENTS", "Agent", *(cls.__name__ for cls in AGENTS.values())]
