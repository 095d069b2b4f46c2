"""TensorBoard logging: every metric of metrics.jsonl as scalars, by env steps (as SB3 does).

metrics.jsonl stays the source of truth: the TensorBoard run of a run folder is always made from it.
On its first call the logger writes a new event file holding every record metrics.jsonl has at that
moment (none for a new run; on a resume, the records kept up to the checkpoint's iteration), removes
the run's older event files, and from then on appends each iteration as it comes. So a resumed run
continues the same curves without a duplicated step, even if it was cut back to an earlier
checkpoint, or if its first part ran without ``--tensorboard``. (SummaryWriter's ``purge_step`` would
instead leave the old points in the old file and count on every reader to drop them.)

Layout: ``DIR/<run folder name>/events.out.tfevents.*``, one TensorBoard run per run folder; the tag
of a metric is its metrics.jsonl key (``mean_return``, ``elite_threshold``, ...), its step is the
record's ``env_steps``, and its wall time is the run's start plus the record's ``wall_time_s``. At the
end, every number of summary.json is written as ``summary/<key>`` at the final env steps.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .runfolder import RUN_FILES, read_metrics

#: The file in a TensorBoard run folder that names the run folder whose curves it holds.
OWNER_FILE = ".policysearch-run"
#: Event files start with this (TensorBoard reads every file with "tfevents" in its name).
EVENTS_PREFIX = "events.out.tfevents."


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of a record (booleans as 0 or 1; strings, lists and None left out)."""
    return {key: float(value) for key, value in record.items() if isinstance(value, int | float)}


class TensorBoardLogger:
    """A training callback that writes metrics.jsonl as TensorBoard scalars.

    Args:
        log_dir: the TensorBoard folder (``tensorboard --logdir`` it); made if missing.
        run_folder: the run folder whose metrics.jsonl is logged; its name is the TensorBoard run.

    Raises:
        ConfigError: if ``log_dir`` cannot be made or written, or its run of that name holds the
            curves of another run folder, or event files another program wrote (they are never
            removed).
    """

    def __init__(self, log_dir: str | Path, run_folder: str | Path) -> None:
        self.run_folder = Path(run_folder)
        self.log_dir = Path(log_dir)
        if not str(log_dir).strip():
            raise ConfigError("--tensorboard is empty: give the TensorBoard folder")
        try:
            self._owner = str(self.run_folder.resolve())
            self.path = self.log_dir / Path(self._owner).name
            target = self.path.resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop (Python 3.11)
            raise self._error(str(exc)) from None
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise self._error("exists and is not a folder")
        if target == Path(self._owner) or any((target / name).exists() for name in RUN_FILES):
            raise self._error(
                f"its run {self.path.name!r} would be the policysearch run folder {str(target)!r}; "
                "choose a TensorBoard folder of its own"
            )
        existing = next(p for p in (self.path, *self.path.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise self._error(f"cannot write in {str(existing)!r}")
        owner_file = self.path / OWNER_FILE
        if owner_file.is_file() and (other := owner_file.read_text().strip()) != self._owner:
            raise self._error(
                f"its run {self.path.name!r} holds the curves of the run folder {other!r}; "
                "choose another --tensorboard folder"
            )
        if not owner_file.is_file() and self.path.is_dir() and any(self.path.glob("*tfevents*")):
            raise self._error(
                f"its run {self.path.name!r} holds event files that policysearch did not write; "
                "choose another --tensorboard folder"
            )
        self._writer: Any = None
        self._start = 0.0  # the run's start, in seconds since the epoch

    def _error(self, problem: str) -> ConfigError:
        return ConfigError(f"--tensorboard {str(self.log_dir)!r}: {problem}")

    def _open(self, wall_time_s: float) -> None:
        """Start a new event file with every record of metrics.jsonl, then drop the older files."""
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / OWNER_FILE).write_text(self._owner + "\n")
            older = sorted(self.path.glob(f"{EVENTS_PREFIX}*"))
            self._writer = EventFileWriter(str(self.path), flush_secs=30)
        except OSError as exc:
            raise self._error(exc.strerror or str(exc)) from None
        self._start = time.time() - wall_time_s
        for record in read_metrics(self.run_folder):
            self._add(record)
        self._writer.flush()
        for path in older:
            path.unlink(missing_ok=True)

    def _add(self, record: dict[str, Any], prefix: str = "") -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        values = [Summary.Value(tag=prefix + k, simple_value=v) for k, v in _scalars(record).items()]
        wall = self._start + float(record.get("wall_time_s", 0.0))
        self._writer.add_event(
            Event(wall_time=wall, step=int(record["env_steps"]), summary=Summary(value=values))
        )

    def on_iteration(self, iteration: int, metrics: dict[str, Any]) -> None:
        """Write the iteration's record (the first call writes every record before it too)."""
        if self._writer is None:
            self._open(float(metrics.get("wall_time_s", 0.0)))  # metrics.jsonl holds this record
        else:
            self._add(metrics)
        self._writer.flush()

    def on_end(self, summary: dict[str, Any]) -> None:
        """Write summary.json's numbers as ``summary/<key>`` at the final env steps, and close."""
        if self._writer is None:
            self._open(float(summary.get("wall_time_s", 0.0)))
        self._add(summary, prefix="summary/")
        self._writer.close()
        self._writer = None
