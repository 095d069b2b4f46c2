"""The run folder: atomic files, the checkpoint, metrics.jsonl and summary.json.

Every file is written to a temporary name in the same folder, flushed to disk and renamed over the
old one, so a run killed at any instant leaves the previous complete version readable. Checkpoints
are ``.npz`` archives read with ``allow_pickle=False``: loading one never executes code.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CheckpointError, RunFolderError

CHECKPOINT = "checkpoint"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CURVE = "learning_curve.png"
#: Files a run writes; ``--force`` removes only these.
RUN_FILES = (CHECKPOINT, METRICS, SUMMARY, CURVE)
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
        meta = json.loads(arrays.pop(_META_KEY).tobytes().decode())
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{str(path)!r} is not a readable policysearch checkpoint") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a policysearch checkpoint")
    if meta.get("version") != _VERSION:
        raise CheckpointError(
            f"{str(path)!r} has checkpoint version {meta.get('version')!r}; "
            f"this policysearch reads version {_VERSION}"
        )
    return meta, arrays


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    """The records of metrics.jsonl (a torn last line, from a killed run, is ignored)."""
    path = Path(folder) / METRICS
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


class MetricsLog:
    """Append-only metrics.jsonl, cut back to the checkpoint's iteration when a run resumes."""

    def __init__(self, folder: Path, keep_until: int | None = None) -> None:
        self.path = Path(folder) / METRICS
        if keep_until is not None:
            kept = [r for r in read_metrics(folder) if r.get("iteration", 0) <= keep_until]
            atomic_write(self.path, "".join(_dumps(r) + "\n" for r in kept).encode())

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (strict JSON) and flush it."""
        line = _dumps(record) + "\n"
        try:
            with open(self.path, "a") as f:
                f.write(line)
                f.flush()
        except OSError as exc:
            raise RunFolderError(f"cannot write {str(self.path)!r}: {exc.strerror or exc}") from None
