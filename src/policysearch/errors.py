"""Exceptions that mean "bad input": the CLI turns them into a one-line message and exit status 2."""

from __future__ import annotations


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
