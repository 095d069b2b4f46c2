"""Sampling with worker processes on one machine.

Each worker builds its own environments from the env id (a live env is never pickled) and runs a
contiguous share of the sessions of every request. Every session has its own reset and noise
seeds, so the batch is identical whatever the number of workers (a test checks it). What crosses
the process boundary per request is the actor (numpy weights) and the seeds; sessions come back.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from ..errors import EnvError
from ..policies.base import Actor
from ..seeding import request_seeds
from .session import Sessions, concatenate


def _serve(conn: Connection, env_id: str, n_envs: int) -> None:
    """A worker's loop: build the runner, then run requests until told to stop."""
    from . import make_runner

    runner = make_runner(env_id, n_envs)
    try:
        while True:
            message = conn.recv()
            if message[0] == "close":
                break
            _, actor, reset_seeds, noise_seeds, first = message
            try:
                reply: tuple[str, Any] = ("ok", runner.run(actor, reset_seeds, noise_seeds, first))
            except EnvError as exc:
                reply = ("env-error", str(exc))
            except Exception as exc:  # reported to the parent, which raises it
                reply = ("error", f"{type(exc).__name__}: {exc}")
            conn.send(reply)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the parent is gone or stopping: leave quietly
    finally:
        runner.close()


class ProcessSampler:
    """Spreads the sessions of each request over ``workers`` processes.

    Args:
        env_id: the environment id, made afresh in each worker.
        n_envs: environments per worker.
        workers: worker processes (at least 2; one worker is the in-process runner).
    """

    def __init__(self, env_id: str, n_envs: int, workers: int) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, env_id, n_envs), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def sample(self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0) -> Sessions:
        """Run ``n`` sessions, split into contiguous shares, one per worker."""
        reset_seeds, noise_seeds = request_seeds(rng, n, common)
        shares = [s for s in np.array_split(np.arange(n), len(self.conns)) if s.size]
        for conn, share in zip(self.conns, shares, strict=False):
            conn.send(("run", actor, reset_seeds[share], noise_seeds[share], int(share[0])))
        parts = []
        for conn, _ in zip(self.conns, shares, strict=False):
            try:
                status, payload = conn.recv()
            except EOFError:
                raise RuntimeError("a sampling worker died") from None
            if status == "env-error":
                raise EnvError(payload)
            if status == "error":
                raise RuntimeError(f"a sampling worker failed: {payload}")
            parts.append(payload)
        return concatenate(parts)

    def close(self) -> None:
        """Stop the workers (they exit on their own; stragglers are terminated)."""
        for conn in self.conns:
            try:
                conn.send(("close",))
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        for conn in self.conns:
            conn.close()
