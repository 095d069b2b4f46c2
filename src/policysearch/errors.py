"""Exceptions that mean "bad input": the CLI turns them into a one-line message and exit status 2.

:class:`Interrupted` is apart: a signal (SIGINT, SIGTERM) stopped the command, and the CLI exits
with 128 plus the signal's number. Warnings are shown the same way, one line each
(:func:`warnings_on_one_line`).
"""

from __future__ import annotations

import re
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol, TypeVar


class PolicySearchError(Exception):
    """Base class of every error caused by the user's input rather than by a bug."""


class ConfigError(PolicySearchError, ValueError):
    """An option or hyperparameter is unknown, of the wrong type, or out of its range."""


class EnvError(PolicySearchError):
    """The environment cannot be made, has spaces the algorithm cannot handle, or misbehaves."""


class CheckpointError(PolicySearchError):
    """A checkpoint or run folder is missing, unreadable, or was not written by policysearch."""


class BackendError(PolicySearchError):
    """The sampling backend cannot run: Ray missing or unreachable, too few CPUs, every worker lost."""


class RunFolderError(PolicySearchError):
    """The run folder cannot be used: not writable, in use by another run, or holding another run."""


class OutOfMemory(PolicySearchError, MemoryError):
    """A training iteration ran out of memory; the message names it and what to ask for instead."""


class WorkerStallWarning(RuntimeWarning):
    """A sampling worker ran past its share's deadline and was replaced, or given up.

    Given up: a replacement that had not finished a share yet. The message says which deadline.
    The share is played again elsewhere with the same seeds, so the run's numbers do not change.
    """


class Interrupted(BaseException):
    """A signal stopped the command (raised by the CLI's handlers of SIGINT and SIGTERM).

    Like :class:`KeyboardInterrupt` it is not an :class:`Exception`, so that no ``except
    Exception`` on the way (an env's error handling, say) mistakes it for a failure.

    Attributes:
        signum: the signal's number.
        hint: what the user can do next (set by the command that was interrupted), or None.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.hint: str | None = None

    @property
    def exit_status(self) -> int:
        """The shell's convention: 128 plus the signal's number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum

    def line(self) -> str:
        """What the command line prints: ``interrupted; HINT`` (``interrupted (SIGTERM); ...``)."""
        name = "" if self.signum == signal.SIGINT else f" ({signal.Signals(self.signum).name})"
        return f"interrupted{name}; {self.hint}" if self.hint else f"interrupted{name}"


#: What an env's own code raises when it fails: any :class:`Exception`, and :class:`SystemExit`
#: (an env that calls ``sys.exit``), which would otherwise end the command with the env's exit
#: status and no message. :class:`KeyboardInterrupt` and :class:`Interrupted`, the user's, are not.
ENV_FAULTS: tuple[type[BaseException], ...] = (Exception, SystemExit)


def described(exc: BaseException) -> str:
    """``Type: message`` of an exception raised by others' code (an env's), whatever its ``__str__`` does.

    >>> described(ValueError("bad seed")), described(SystemExit(3)), described(KeyError())
    ('ValueError: bad seed', 'SystemExit: 3', 'KeyError')

    """
    try:
        text = str(exc)
    except Exception as failure:  # an exception whose message itself raises
        text = f"(its message could not be read: {type(failure).__name__})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


#: ANSI colour and style sequences (``ESC [ ... m``).
_COLOURS = re.compile(r"\x1b\[[0-9;]*m")
#: The simulated time at the end of MuJoCo's warnings, left out when warnings are compared.
_SIM_TIME = re.compile(r" Time = [-+0-9.eE]+\.?$")
#: The warnings this process has shown.
_shown: set[str] = set()


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    text = " ".join(_COLOURS.sub("", str(message)).split()).removeprefix("WARN: ")
    key = _SIM_TIME.sub("", text)  # an unstable MuJoCo simulation says when, each time
    if key not in _shown:
        _shown.add(key)
        print(f"warning: {text}", file=sys.stderr)


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


@contextmanager
def closed_after(resource: C, close: Callable[[], None] | None = None) -> Iterator[C]:
    """Close ``resource`` (a sampler, a runner, an env) on leaving the block.

    ``close``: how (default ``resource.close``). While an error leaves the block, a failure to
    close (an env that raises in ``close``, left broken by the error) does not replace it: the
    error the user needs to see is the first.
    """
    close = resource.close if close is None else close
    try:
        yield resource
    except BaseException:
        try:
            close()
        except Exception:  # secondary to the error on its way out
            pass
        raise
    close()


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn about what the caller gave, attributed to the caller's own line.

    The warning names the first frame outside this package (the user's script or notebook
    cell, however deep inside policysearch the value was read), so that Python's location and
    its filters (``-W``, ``warnings.filterwarnings(module=...)``) are the user's, not the library's.
    Frames of code generated for this package's classes (a dataclass's ``__init__``) count as
    the package's.
    """
    frame: FrameType | None = sys._getframe(1)
    level = 2  # the caller's frame: warnings.warn's stacklevel 2 from here
    while frame is not None and str(frame.f_globals.get("__name__", "")).partition(".")[0] == __package__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def warnings_on_one_line() -> None:
    """Show this process's warnings as errors are shown: ``warning: ...`` on one line of stderr.

    Each distinct warning once per process from this call on (an env made for every sampling
    slot warns once, not once per env; MuJoCo's unstable simulation once, whatever its time), on
    one line, without the terminal colours some libraries put in their messages and the
    ``WARN:`` that Gymnasium puts before its own. The command line sets it, and so does each
    sampling worker process (:mod:`policysearch.sampling.pool`), which leaves out what making
    its envs warns: the driver made the same env first and showed it.
    """
    _shown.clear()  # a command run again in the same process (tests, notebooks) warns again
    warnings.showwarning = _one_line_warning
