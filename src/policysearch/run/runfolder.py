"""The run folder: atomic files, the checkpoint, metrics.jsonl and summary.json; one run per folder.

Every file is written to a temporary name in the same folder, flushed to disk and renamed over the
old one, so a run killed at any instant leaves the previous complete version readable. Checkpoints
are ``.npz`` archives read with ``allow_pickle=False``: loading one never executes code.

A folder belongs to one run (:class:`RunFolder`): ``run.json`` records the run's identity
(algorithm, env, policy, seed and a run id, which every checkpoint repeats), a lock held while the
run trains refuses a second writer (``fcntl.flock``: the kernel releases it when the process dies,
so a killed run resumes), ``--resume`` refuses a checkpoint that is not the folder's run's, and
``--force`` puts a new run in place of the old one only with its first checkpoint: until then the
old run is untouched. The swap itself is journaled, so that a run killed in the middle of it
leaves the old run or the new one, never a mix (the next writer finishes or undoes it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import itertools
import json
import os
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, RunFolderError
from .interrupts import deferred

CHECKPOINT = "checkpoint"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CURVE = "learning_curve.png"
IDENTITY = "run.json"
#: Files a run writes; ``--force`` replaces only these.
RUN_FILES = (CHECKPOINT, METRICS, SUMMARY, CURVE, IDENTITY)
#: The lock file, present while a run trains into the folder.
LOCK = ".lock"
#: While ``--force`` swaps runs, the old run's files wait in ``.replaced-<new run id>/``.
_ASIDE = ".replaced-"
_PLAN = "plan.json"
_TEMPORARY = re.compile(r"^\.(.+)\.tmp\d+$")
_FORMAT = "policysearch-checkpoint"
_VERSION = 1
_META_KEY = "__meta__"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a torn one.

    Raises:
        RunFolderError: if the OS refuses (no space left, read-only, ...); the old file stays
            and no temporary file is left behind.
    """
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunFolderError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def make_parents(path: Path) -> list[Path]:
    """Make the missing folders above ``path``; returns those made, innermost first.

    Raises:
        OSError: if one cannot be made (the ones made before it stay: see :func:`remove_empty`).
    """
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    return made


def remove_empty(folders: list[Path]) -> None:
    """Remove these folders (innermost first) where they are still empty: a failed output's."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _sync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries to disk, so that a rename into it outlasts a power cut.

    Best effort: the file is in place already, and a filesystem that cannot sync a folder (some
    network and FUSE ones) keeps the rename as it keeps its other writes.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON: NaN and infinity, which JSON has not, are a bug of the writer."""
    return json.dumps(obj, allow_nan=False, **kwargs)


def write_json(path: Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented (strict) JSON."""
    atomic_write(path, (_dumps(obj, indent=2) + "\n").encode())


def save_checkpoint(folder: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Atomically write the checkpoint: JSON metadata and named arrays in one ``.npz``."""
    buffer = io.BytesIO()
    header = {"format": _FORMAT, "version": _VERSION, **meta}
    payload = {_META_KEY: np.frombuffer(_dumps(header).encode(), dtype=np.uint8)}
    payload.update({k: np.asarray(v) for k, v in arrays.items()})
    np.savez(buffer, **payload)  # type: ignore[arg-type]
    atomic_write(folder / CHECKPOINT, buffer.getvalue())


def load_checkpoint(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a checkpoint without unpickling anything.

    Raises:
        CheckpointError: if the file is missing, unreadable, or not a policysearch checkpoint.
    """
    path = Path(folder) / CHECKPOINT
    if not path.is_file():
        raise CheckpointError(f"no checkpoint in {str(folder)!r} (expected the file {str(path)!r})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        raise CheckpointError(f"{str(path)!r} is not a readable policysearch checkpoint") from None
    if _META_KEY not in arrays:
        raise CheckpointError(f"{str(path)!r} is not a policysearch checkpoint")
    try:
        meta = _strict_json(arrays.pop(_META_KEY).tobytes().decode())
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{str(path)!r} is not a readable policysearch checkpoint") from None
    meta = _checked_meta(meta, path)
    if meta.get("version") != _VERSION:
        raise CheckpointError(
            f"{str(path)!r} has checkpoint version {meta.get('version')!r}; "
            f"this policysearch reads version {_VERSION}"
        )
    return meta, arrays


def _not_a_number(token: str) -> Any:
    raise ValueError(f"{token} is not a number of strict JSON")


def _strict_json(text: str) -> Any:
    """``text`` as strict JSON, as policysearch writes it: ``NaN`` and ``Infinity`` are refused."""
    return json.loads(text, parse_constant=_not_a_number)


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    """The records of metrics.jsonl (a torn last line, from a killed run, is ignored).

    Raises:
        CheckpointError: if a line other than the last is not a record policysearch wrote (the
            file was damaged: reading on as if it ended there would drop the records after it).
    """
    path = Path(folder) / METRICS
    if not path.is_file():
        return []
    records = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        try:
            record = _strict_json(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):  # not a record policysearch wrote
            if any(rest.strip() for rest in lines[number:]):
                raise CheckpointError(
                    f"{str(path)!r}: line {number} is not a record policysearch wrote, and records "
                    "follow it: the file was damaged"
                )
            break  # the last line, torn by a killed run
        records.append(record)
    return records


def read_checkpoint_meta(folder: Path) -> dict[str, Any]:
    """The checkpoint's metadata alone (its arrays are not read).

    Raises:
        CheckpointError: as :func:`load_checkpoint` does.
    """
    path = Path(folder) / CHECKPOINT
    if not path.is_file():
        raise CheckpointError(f"no checkpoint in {str(folder)!r} (expected the file {str(path)!r})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = _strict_json(archive[_META_KEY].tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, UnicodeDecodeError):
        raise CheckpointError(f"{str(path)!r} is not a readable policysearch checkpoint") from None
    return _checked_meta(meta, path)


#: The types of the metadata's fields that readers use (integers are never booleans).
_META_TYPES: dict[str, type | tuple[type, ...]] = {
    "algorithm": str,
    "env_id": str,
    "policy": str,
    "run_id": str,
    "options": dict,
    "hyperparameters": dict,
    "iteration": int,
    "episodes": int,
    "env_steps": int,
    "eval_env_steps": int,
    "wall_time_s": (int, float),
}


def _checked_meta(meta: Any, path: Path) -> dict[str, Any]:
    """A checkpoint's decoded metadata, if it is policysearch's and its fields have their types.

    Raises:
        CheckpointError: naming the first field of another type (an edited or damaged file),
            which readers would otherwise fail on as a ``ValueError`` deep inside.
    """
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a policysearch checkpoint")
    if meta.get("version") != _VERSION:  # another version's fields: its readers say so
        return meta
    for key, kind in _META_TYPES.items():
        value = meta.get(key)
        counts = key in ("iteration", "episodes", "env_steps", "eval_env_steps")
        negative = counts and isinstance(value, int) and value < 0
        wrong = value is not None and (not isinstance(value, kind) or isinstance(value, bool) or negative)
        if wrong:
            raise CheckpointError(
                f"{str(path)!r} is damaged: its {key!r} is {value!r}, not "
                f"{'a count' if counts else 'a ' + getattr(kind, '__name__', 'number')}"
            )
    seed = (meta.get("options") or {}).get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise CheckpointError(f"{str(path)!r} is damaged: its 'seed' is {seed!r}, not an integer")
    return meta


class MetricsLog:
    """Append-only metrics.jsonl, cut back to the checkpoint's iteration when a run resumes.

    Args:
        folder: the run folder.
        keep_until: keep the records up to this iteration (a resumed run), dropping later ones.
        buffered: hold the records in memory until :meth:`flush` (a new run, before its first
            checkpoint, writes nothing).
    """

    def __init__(self, folder: Path, keep_until: int | None = None, buffered: bool = False) -> None:
        self.path = Path(folder) / METRICS
        self.pending: list[str] | None = [] if buffered else None
        if keep_until is not None:
            kept = [r for r in read_metrics(folder) if r.get("iteration", 0) <= keep_until]
            atomic_write(self.path, "".join(_dumps(r) + "\n" for r in kept).encode())

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (strict JSON) and flush it to disk.

        To disk, not only to the OS: the trainer writes the iteration's checkpoint next, and a
        power cut must not keep the checkpoint of an iteration whose record it lost (a resume
        refuses such a folder).
        """
        line = _dumps(record) + "\n"
        if self.pending is not None:
            self.pending.append(line)
            return
        try:
            with open(self.path, "a") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise RunFolderError(f"cannot write {str(self.path)!r}: {exc.strerror or exc}") from None

    def flush(self) -> None:
        """Write the records held in memory (replacing the file) and append from now on."""
        if self.pending is not None:
            atomic_write(self.path, "".join(self.pending).encode())
            self.pending = None


@dataclass(frozen=True)
class Identity:
    """Which run a folder holds (``run.json``); every checkpoint of the run repeats ``run_id``."""

    algorithm: str
    env_id: str
    policy: str
    seed: int
    run_id: str

    def describe(self) -> str:
        """``cem (tabular) on Taxi-v4, seed 0``."""
        return f"{self.algorithm} ({self.policy}) on {self.env_id}, seed {self.seed}"

    def same_run_as(self, other: Identity) -> bool:
        """The same algorithm, env, policy and seed (the run id aside)."""
        return (self.algorithm, self.env_id, self.policy, self.seed) == (
            other.algorithm,
            other.env_id,
            other.policy,
            other.seed,
        )

    @classmethod
    def of_checkpoint(cls, meta: dict[str, Any]) -> Identity:
        """The identity a checkpoint's metadata records (run id "" if it has none)."""
        options = meta.get("options") or {}
        return cls(
            algorithm=str(meta.get("algorithm")),
            env_id=str(meta.get("env_id")),
            policy=str(meta.get("policy")),
            seed=int(options.get("seed", meta.get("seed", -1))),
            run_id=str(meta.get("run_id", "")),
        )


def new_run_id() -> str:
    """A run id: when the run began, and random digits (``20250101T120000-1a2b3c4d``)."""
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"


def read_identity(folder: Path) -> Identity | None:
    """The identity recorded in ``run.json`` (None for a folder without one: older releases).

    Raises:
        CheckpointError: if ``run.json`` is unreadable.
    """
    path = Path(folder) / IDENTITY
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return Identity(
            str(data["algorithm"]),
            str(data["env_id"]),
            str(data["policy"]),
            int(data["seed"]),
            str(data["run_id"]),
        )
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise CheckpointError(f"{str(path)!r} is not a readable run identity") from None


class RunFolder:
    """A run folder held by the run that trains into it (use :meth:`create` or :meth:`reopen`).

    Attributes:
        path: the folder.
        identity: the run's identity.
        committed: the folder holds this run (a new run's first checkpoint is written).
        metrics: the run's metrics.jsonl.
        replaces: the files of an older run that this new run replaces (with ``force``).
    """

    def __init__(self, path: Path, identity: Identity, lock: _Lock, metrics: MetricsLog) -> None:
        self.path, self.identity, self.metrics = path, identity, metrics
        self.committed = metrics.pending is None
        self._lock: _Lock | None = lock
        self.replaces: list[str] = []
        self._created: list[Path] = []
        self._identity_written = (path / IDENTITY).is_file()

    @classmethod
    def create(
        cls, path: str | Path, algorithm: str, env_id: str, policy: str, seed: int, force: bool = False
    ) -> RunFolder:
        """Hold ``path`` for a new run; nothing is written there before its first checkpoint.

        Args:
            path: the run folder (made if missing).
            algorithm: the run's algorithm.
            env_id: its env.
            policy: its policy kind.
            seed: its root seed.
            force: replace a run already in the folder (at the new run's first checkpoint).

        Raises:
            RunFolderError: if the folder cannot be made or written, is in use, or holds a run
                (without ``force``).
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"run folder {str(path)!r} exists and is not a folder")
        created = [p for p in (path, *path.parents) if not p.exists()]
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"cannot make run folder {str(path)!r}: {exc.strerror or exc}") from None
        lock = _Lock(path)
        try:
            _recover(path)
            existing = [name for name in RUN_FILES if (path / name).exists()]
            if existing and not force:
                raise RunFolderError(
                    f"run folder {str(path)!r} already holds a run; continue it with "
                    f"--resume {path}, replace it with --force, or choose another --out"
                )
        except BaseException:
            lock.release()
            _remove_empty(created)
            raise
        identity = Identity(algorithm, env_id, policy, int(seed), new_run_id())
        run = cls(path, identity, lock, MetricsLog(path, buffered=True))
        run.replaces, run._created = existing, created
        return run

    @classmethod
    def reopen(cls, path: str | Path, iteration: int, episodes: int) -> RunFolder:
        """Hold ``path`` to continue its run from the checkpoint a trainer loaded.

        Args:
            path: the run folder.
            iteration: the loaded checkpoint's iteration (to check it is still the one there).
            episodes: its episode count.

        Raises:
            RunFolderError: if the folder is in use or not writable.
            CheckpointError: if the checkpoint is not the folder's run's: another run's identity,
                or counts that metrics.jsonl or summary.json do not have.
        """
        path = Path(path)
        if not path.is_dir():
            raise CheckpointError(f"no run folder {str(path)!r}")
        lock = _Lock(path)
        try:
            _recover(path)
            meta = read_checkpoint_meta(path)
            if (meta.get("iteration"), meta.get("episodes")) != (iteration, episodes):
                raise RunFolderError(
                    f"the checkpoint in {str(path)!r} changed while it was being read (is another "
                    f"process writing there?)"
                )
            identity = _verify(path, meta)
            if iteration and not (path / METRICS).is_file():
                raise CheckpointError(
                    f"{str(path / METRICS)!r} is missing: going on would lose the history of the run's "
                    f"first {iteration} iterations; put it back (evaluate and record do not need it)"
                )
            metrics = MetricsLog(path, keep_until=iteration)
        except BaseException:
            lock.release()
            raise
        return cls(path, identity, lock, metrics)

    @property
    def is_open(self) -> bool:
        """The folder is held (between :meth:`create` or :meth:`reopen` and :meth:`close`)."""
        return self._lock is not None

    def save_checkpoint(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Write the checkpoint (with the run id); a new run's first one puts the run in place."""
        meta = {**meta, "run_id": self.identity.run_id}
        if not self.committed:
            self._commit(meta, arrays)
            return
        save_checkpoint(self.path, meta, arrays)
        if not self._identity_written:  # a folder of an older release, resumed: adopt it
            self._write_identity()

    def _commit(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Put this run in the folder: the old run's files aside, the new ones in, the old ones gone.

        Journaled (:func:`_recover` finishes or undoes a swap that a kill cut short) and shielded
        from SIGINT and SIGTERM.
        """
        aside = self.path / f"{_ASIDE}{self.identity.run_id}"
        with deferred():
            try:
                aside.mkdir(exist_ok=True)
                atomic_write(aside / _PLAN, _dumps(self.replaces).encode())
                for name in self.replaces:
                    os.replace(self.path / name, aside / name)
                self.metrics.flush()
                save_checkpoint(self.path, meta, arrays)
                self._write_identity()
            except OSError as exc:
                _recover(self.path)
                raise RunFolderError(f"cannot write to {str(self.path)!r}: {exc.strerror or exc}") from None
            except BaseException:
                _recover(self.path)  # the old run back (or, if its checkpoint is written, the new)
                raise
            self.committed = True
            shutil.rmtree(aside, ignore_errors=True)

    def _write_identity(self) -> None:
        write_json(self.path / IDENTITY, asdict(self.identity))
        self._identity_written = True

    def close(self) -> None:
        """Release the folder; a new run that wrote no checkpoint leaves no trace."""
        if self._lock is None:
            return
        self._lock.release()
        self._lock = None
        if not self.committed:
            _remove_empty(self._created)


def recover(folder: str | Path) -> None:
    """Make ``folder`` ready to be read for ``--resume``: finish or undo a swap a kill cut short.

    Raises:
        RunFolderError: if a run is training into the folder now.
    """
    folder = Path(folder)
    if folder.is_dir() and os.access(folder, os.W_OK):
        lock = _Lock(folder)
        try:
            _recover(folder)
        finally:
            lock.release()


def recover_if_free(folder: str | Path) -> None:
    """:func:`recover` for a reader (``evaluate``, ``Agent.load``): a folder in use is left as it is.

    Its training run keeps it consistent; a swap that a kill cut short is finished or undone
    before the reader loads the checkpoint, as ``train --resume`` does.
    """
    with contextlib.suppress(RunFolderError):
        recover(folder)


def verify_checkpoint(folder: str | Path, meta: dict[str, Any]) -> None:
    """Check that the checkpoint ``meta`` read from ``folder`` is the folder's run's.

    What ``train --resume`` checks before it goes on, for every reader (``evaluate``, ``record``,
    ``Agent.load``): a checkpoint copied from another run would be scored as this one.

    Raises:
        CheckpointError: if it belongs to another run than the folder's ``run.json``,
            ``summary.json`` or ``metrics.jsonl``.
    """
    _verify(Path(folder), meta)


def _verify(path: Path, meta: dict[str, Any]) -> Identity:
    """The identity of the folder's run, after checking that its checkpoint belongs to it."""
    found = Identity.of_checkpoint(meta)
    where = f"the checkpoint in {str(path)!r}"
    recorded = read_identity(path)
    if recorded is not None:
        if not recorded.same_run_as(found) or recorded.run_id != found.run_id:
            raise CheckpointError(
                f"{where} belongs to another run ({found.describe()}, run {found.run_id or 'unknown'}) "
                f"than the folder's ({recorded.describe()}, run {recorded.run_id})"
            )
    summary_path = path / SUMMARY
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
            finished = Identity.of_checkpoint({**summary, "options": {"seed": summary["seed"]}})
            iterations = int(summary["iterations"])
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise CheckpointError(
                f"{str(summary_path)!r} is not a readable summary, so the checkpoint cannot be checked "
                "against it; if the checkpoint is the run's, remove summary.json (the next train writes it)"
            ) from None
        # a checkpoint of this run id may be an earlier one of the same run (put back by hand)
        later = not found.run_id and iterations > int(meta.get("iteration", 0))
        if not finished.same_run_as(found) or later:
            raise CheckpointError(
                f"{where} ({found.describe()}, iteration {meta.get('iteration')}) does not match the "
                f"run that summary.json reports ({finished.describe()}, {iterations} iterations)"
            )
    if (path / METRICS).is_file():
        _verify_metrics(path, meta, where)
    run_id = found.run_id or (recorded.run_id if recorded else "") or new_run_id()
    return Identity(found.algorithm, found.env_id, found.policy, found.seed, run_id)


def _verify_metrics(path: Path, meta: dict[str, Any], where: str) -> None:
    """The checkpoint's counts must be those metrics.jsonl has at its iteration."""
    records = read_metrics(path)
    if any(not isinstance(r.get("iteration"), int) for r in records):
        raise CheckpointError(f"{str(path / METRICS)!r} does not hold one record per iteration in order")
    iterations = [int(r["iteration"]) for r in records]
    if any(b <= a for a, b in itertools.pairwise(iterations)):
        raise CheckpointError(f"{str(path / METRICS)!r} does not hold one record per iteration in order")
    iteration = int(meta.get("iteration", 0))
    if iteration == 0:
        return
    at = {r["iteration"]: r for r in records}
    record, after = at.get(iteration), at.get(iteration + 1)
    if record is None:
        last = iterations[-1] if iterations else 0
        raise CheckpointError(
            f"{where} is at iteration {iteration}, but metrics.jsonl has no record of it "
            f"(its last is iteration {last}): it is not this folder's run's checkpoint"
        )
    episodes, env_steps = meta.get("episodes"), meta.get("env_steps", 0)
    consistent = record.get("episodes") == episodes and record.get("env_steps", 0) <= env_steps
    if after is not None:
        consistent = consistent and after.get("env_steps", 0) >= env_steps
    if not consistent:
        raise CheckpointError(
            f"{where} ({episodes} episodes, {env_steps} env steps at iteration {iteration}) does "
            f"not match metrics.jsonl ({record.get('episodes')} episodes, {record.get('env_steps')} "
            f"env steps): it is not this folder's run's checkpoint"
        )


def _recover(path: Path) -> None:
    """Finish or undo a swap of runs that a kill cut short, and drop torn temporary files.

    Called with the folder's lock held. The new run is in place once its checkpoint (with its run
    id) is; otherwise the old run's files go back and the new run's are removed.
    """
    for aside in sorted(path.glob(f"{_ASIDE}*")):
        run_id = aside.name[len(_ASIDE) :]
        try:
            meta = read_checkpoint_meta(path) if (path / CHECKPOINT).is_file() else {}
        except CheckpointError:
            meta = {}
        if meta.get("run_id") != run_id:
            try:
                plan = json.loads((aside / _PLAN).read_text())
            except (OSError, ValueError):
                plan = None  # cut before any file moved
            if isinstance(plan, list):
                for name in RUN_FILES:
                    if name in plan:
                        if (aside / name).exists():
                            os.replace(aside / name, path / name)
                    else:
                        (path / name).unlink(missing_ok=True)
        elif not (path / IDENTITY).is_file():
            write_json(path / IDENTITY, asdict(Identity.of_checkpoint(meta)))
        shutil.rmtree(aside, ignore_errors=True)
    for tmp in path.iterdir():
        match = _TEMPORARY.match(tmp.name)
        if match and match.group(1) in RUN_FILES and tmp.is_file():
            tmp.unlink(missing_ok=True)


def _remove_empty(created: list[Path]) -> None:
    """Remove folders made for a run that wrote nothing (innermost first), if they are empty."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return


class _Lock:
    """An exclusive ``flock`` on ``DIR/.lock``, which exists while the lock is held.

    The kernel releases the lock when the holder dies, so a stale file of a killed run is simply
    taken over. Raises :class:`RunFolderError` if another process holds it, or the folder is not
    writable.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise RunFolderError(
                    f"run folder {str(folder)!r} is not writable: {exc.strerror or exc}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _lock_holder(fd)
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise RunFolderError(f"cannot lock {str(self.path)!r}: {exc.strerror}") from None
                by = f" (process {holder})" if holder else ""
                raise RunFolderError(
                    f"run folder {str(folder)!r} is in use by another run{by}; wait for it to end "
                    f"or choose another --out"
                ) from None
            try:  # the file may have been removed by its last holder meanwhile: lock the new one
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd: int | None = fd
                return
            os.close(fd)
        raise RunFolderError(f"cannot lock {str(self.path)!r}: it keeps changing")  # pragma: no cover

    def release(self) -> None:
        """Remove the lock file and release the lock."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def _lock_holder(fd: int) -> int | None:
    """The process holding a ``flock`` on this file, from ``/proc/locks`` (None if unknown)."""
    st = os.fstat(fd)
    key = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    try:
        with open("/proc/locks") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK":
                    major, minor, inode = fields[5].split(":")
                    if (int(major, 16), int(minor, 16), int(inode)) == key:
                        return int(fields[4])
    except (OSError, ValueError):
        pass
    return None
