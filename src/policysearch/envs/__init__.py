"""Environments: making them by id (with clear errors), and the project's own registered envs."""

from __future__ import annotations

from .make import DEFAULT_MAX_EPISODE_STEPS, make_env, resolve_env_id

__all__ = ["DEFAULT_MAX_EPISODE_STEPS", "make_env", "resolve_env_id"]
