"""A Ray-backed command runs in a child process, so that an abrupt end still gives one line.

When the Ray head goes away, Ray ends the driver's process from its C++ core (exit status 1,
nothing printed, no Python handler run): no ``except`` in the command could turn that into the
one-line error and exit status 2 that every failure gets. So ``train`` and ``evaluate`` with
``--backend ray`` (or resuming a run stored with it) re-run themselves as a child and wait. The
child reports its own exit status through a pipe just before it exits; a child that ends without
reporting was ended from outside, and the parent says so in one line (exit 2). The run folder is
as the last checkpoint left it (files are written atomically), so ``train --resume`` continues it.

Signals: the child runs in a process group of its own, so that a signal reaches it once, from the
parent: SIGINT (Ctrl-C in the terminal, or ``kill -INT`` of the parent) and SIGTERM sent to the
parent are passed on (the child starts with both blocked and takes them once its own handlers
are set, so that one sent while it starts stops it as any other), and the parent waits for the
child's exit status (a SIGINT the parent
inherited as ignored, as a background job does, stays ignored in both). If the parent itself is
killed, the child gets SIGTERM (``PR_SET_PDEATHSIG``) and stops as after a SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from ..run.interrupts import SIGNALS  # the signals passed on to the child

#: The environment variable that names the pipe a supervised child reports its status on.
STATUS_FD = "POLICYSEARCH_STATUS_FD"


def wanted(argv: list[str]) -> bool:
    """Whether ``argv`` is a ``train`` or ``evaluate`` that samples on Ray (and is not a child).

    Ray is asked for by ``--backend ray``, a ``--config`` file's ``backend: ray`` (unless
    ``--backend`` says otherwise), or a run to resume that was stored with it.
    """
    if STATUS_FD in os.environ or not argv or argv[0] not in ("train", "evaluate"):
        return False
    backend = _option(argv, "--backend")
    if backend is not None:
        return backend == "ray"
    config = _option(argv, "--config")
    if argv[0] == "train" and config is not None and _config_backend(Path(config)) == "ray":
        return True
    folder = _option(argv, "--resume")
    if argv[0] == "train" and folder is not None:
        return _stored_backend(Path(folder)) == "ray"
    return False


def run(argv: list[str]) -> int:
    """Run ``policysearch ARGV`` as a supervised child; its exit status, or 2 if it ended abruptly."""
    read, write = os.pipe()
    env = {**os.environ, STATUS_FD: str(write)}
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    started: list[subprocess.Popen[bytes]] = []
    forwarded: list[int] = []  # every signal passed on
    early: list[int] = []  # those that came before the child existed: passed on once it does

    def forward(signum: int, frame: FrameType | None) -> None:
        # Python runs a handler between bytecodes, so one for a signal that came just before the
        # mask below can run while the child is being started
        forwarded.append(signum)
        if not started:
            early.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            started[0].send_signal(signum)

    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, forward)
    try:
        # Blocked while the child starts: here a signal waits until it can be passed on, and the
        # child inherits the mask, so that one passed on waits there until its own handlers are
        # set (child_ready), instead of a traceback from its imports.
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "policysearch", *argv], env=env, pass_fds=(write,), process_group=0
            )
            started.append(child)
            for pending in early:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(pending)
        finally:
            os.close(write)
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        with os.fdopen(read, "rb") as pipe:
            reported = pipe.read()
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if reported.strip():
        return int(reported)
    folder = _option(argv, "--resume") or _option(argv, "--out")
    if forwarded:  # stopped by the signal passed on before its own handlers were set
        from ..errors import Interrupted

        interrupted = Interrupted(forwarded[0])
        if argv[0] == "train" and folder and (Path(folder) / "checkpoint").is_file():
            interrupted.hint = f"resume with: policysearch train --resume {folder}"
        print(interrupted.line(), file=sys.stderr)
        return interrupted.exit_status
    how = f"signal {-code}" if code < 0 else f"exit status {code}"
    resume = (
        f"resume with: policysearch train --resume {folder}"
        if argv[0] == "train" and folder
        else "resume a train run with: policysearch train --resume DIR"
    )
    print(
        f"error: the Ray driver ended abruptly ({how}): the cluster's head is unreachable or "
        f"gone; the last checkpoint is kept; {resume}",
        file=sys.stderr,
    )
    return 2


def child_ready() -> None:
    """In a supervised child, once its handlers are set: take the signals the parent passes on."""
    if STATUS_FD in os.environ:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def child_started() -> None:
    """In a supervised child: stop with SIGTERM if the parent dies (Linux; elsewhere nothing)."""
    if STATUS_FD not in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def report(status: int) -> None:
    """In a supervised child: tell the parent the exit status this process is about to end with."""
    fd = os.environ.get(STATUS_FD)
    if fd is None:
        return
    with contextlib.suppress(OSError, ValueError):
        os.write(int(fd), str(status).encode())
        os.close(int(fd))


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _config_backend(path: Path) -> str | None:
    """The backend a ``--config`` file names, if it can be read (else None: the command says why)."""
    from ..config import load_yaml

    try:
        backend = load_yaml(path).get("backend")
    except Exception:
        return None
    return backend if isinstance(backend, str) else None


def _stored_backend(folder: Path) -> str | None:
    """The backend stored in a run folder's checkpoint, if it can be read (else None: not Ray)."""
    from ..run.runfolder import read_checkpoint_meta

    try:
        backend = read_checkpoint_meta(folder)["options"]["backend"]
    except Exception:  # an unreadable folder: the command itself will say what is wrong
        return None
    return backend if isinstance(backend, str) else None
