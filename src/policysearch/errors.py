"""Exceptions that mean "bad input": the CLI turns them into a one-line message and exit status 2.

:class:`Interrupted` is apart: a signal (SIGINT, SIGTERM) stopped the command, and the CLI exits
with 128 plus the signal's number.
"""

from __future__ import annotations

import signal


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
