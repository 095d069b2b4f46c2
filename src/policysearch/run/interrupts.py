"""SIGINT and SIGTERM as an exception: the command line's handlers, and sections they must not cut.

The command line installs handlers that raise :class:`~policysearch.errors.Interrupted`, which it
maps to exit status 130 or 143 with a one-line message. Files are written atomically
(:func:`~policysearch.run.runfolder.atomic_write`), so a signal at any instant leaves the last complete
checkpoint; the few steps that must happen together (putting a new run in place of an old one) run
under :func:`deferred`, which holds a signal back until the section is done.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from ..errors import Interrupted

#: The signals the command line turns into :class:`Interrupted`.
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_deferring = 0
_pending: list[int] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    if _deferring:
        _pending.append(signum)
        return
    raise Interrupted(signum)


def install() -> Callable[[], None]:
    """Make SIGINT and SIGTERM raise :class:`Interrupted` in this process; returns a restorer.

    A signal the process inherited as ignored stays ignored (a background job started by a shell
    ignores SIGINT, so that Ctrl-C in the terminal does not stop it). Outside the main thread,
    where handlers cannot be set, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}
    for signum in SIGNALS:
        current = signal.getsignal(signum)
        if current is not signal.SIG_IGN:
            previous[signum] = current
            signal.signal(signum, _handler)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


@contextmanager
def kept_handlers() -> Iterator[None]:
    """Keep this process's SIGINT and SIGTERM handlers through the block.

    For libraries that set their own as they start: ``ray.init`` makes SIGTERM ``sys.exit(15)``,
    which would turn a SIGTERM into exit status 1 or 15 with no message instead of
    :class:`Interrupted`. A handler that was the default is left as the library set it (it
    replaced nothing of this process's).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in before.items():
            if handler is not signal.SIG_DFL and handler is not None:
                signal.signal(signum, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (as handled by :func:`install`) until the block is done.

    A signal that arrived meanwhile is raised as :class:`Interrupted` when the block ends. Under
    other handlers (a Python program's default KeyboardInterrupt), signals are not held back.
    """
    global _deferring
    _deferring += 1
    try:
        yield
    except BaseException:  # the block failed: that error ends the command, not the signal
        _deferring -= 1
        if not _deferring:
            _pending.clear()
        raise
    _deferring -= 1
    if not _deferring and _pending:
        signum = _pending[0]
        _pending.clear()
        raise Interrupted(signum)


@contextmanager
def blocked_in_children() -> Iterator[None]:
    """Start child processes inside this block with SIGINT blocked (they never see it).

    Ctrl-C in a terminal signals the whole process group: worker processes must leave it to the
    parent, which stops them in order, rather than each printing a traceback. A child inherits
    the signal mask of the thread that starts it; this thread receives a SIGINT that arrived
    meanwhile as soon as the block ends, so none is lost.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
