"""Sampling with worker processes on one machine: the process transport of the sampling core.

Each worker builds its own environments from a :class:`~policysearch.sampling.sharded.RunnerFactory`
(a live env is never pickled) and plays the shares it is sent. What crosses the process boundary
per request is the actor's common part once per worker (numpy weights) and per share its seeds
(and an ES share's noise offsets); sessions, or only their returns and observation statistics,
come back. Messages are pickled here, so the bytes each way are counted exactly. A worker that
dies is seen as a closed pipe: the core re-runs its shares and this transport starts another.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal

from ..errors import ENV_FAULTS, EnvError, described, warnings_on_one_line
from ..run.interrupts import blocked_in_children
from .runner import SeededRunner
from .sharded import Reply, RunnerFactory, Share, Transport, load_common, serve


def main_thread_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user and system) that the main thread of process ``pid`` has used.

    A worker plays its shares in its main thread (a Ray actor runs its tasks there too), and its
    other threads' background work (Ray's, 0.4% of a CPU measured while its task slept) is left
    out. Read from ``/proc/PID/task/PID/stat``; None where that cannot be read (not Linux, the
    process gone).
    """
    try:
        with open(f"/proc/{pid}/task/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # after the command's name
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def boot_id() -> str | None:
    """This machine's kernel boot id (``/proc/sys/kernel/random/boot_id``), None if unreadable.

    Two processes that read the same one run on the same kernel, so one can read the other's
    ``/proc`` entries by its process id.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _build(
    factory: RunnerFactory,
) -> tuple[SeededRunner | None, tuple[Literal["env-error", "error"], str] | None]:
    """The worker's runner, or why it cannot be built (the env fails in this process)."""
    try:
        with warnings.catch_warnings():
            # the driver made the same env before the workers and showed what making it warns
            warnings.simplefilter("ignore")
            return factory(), None
    except EnvError as exc:
        hint = UNREGISTERED_HINT if "unknown environment" in str(exc) else ""
        return None, ("env-error", str(exc) + hint)
    except ENV_FAULTS as exc:
        return None, ("error", described(exc))


#: Why a worker process does not know an env id the driver made: it starts afresh (spawn) and
#: imports the script as a module, without running what its ``__main__`` guard holds.
UNREGISTERED_HINT = (
    " (in a worker process: the driver made it, but worker processes start afresh and import your "
    'script without running its `if __name__ == "__main__":` block; register a custom env where '
    "the script is imported, or name it as module:EnvName-v0)"
)


#: Seconds between two copies of a worker's counts of sessions and steps for the driver.
PUBLISH_EVERY = 0.5


def _copy_counts(runner: SeededRunner, counts: Any, lock: threading.Lock) -> None:
    """Copy the runner's counts of ended sessions and played steps where the driver reads them.

    ``lock``: one copy at a time, so that an older copy never lands after a newer one.
    """
    with lock:
        counts[0], counts[1] = runner.finished, runner.stepped


def publish_counts(publish: Callable[[], None]) -> None:
    """A worker's daemon thread: ``publish`` its counts every :data:`PUBLISH_EVERY` seconds.

    While the main thread plays, so that progress lines show a worker's sessions as they end
    (:meth:`ProcessTransport.counted`, :meth:`~.raycluster.RayTransport.counted`). The main
    thread publishes them too before it answers a share, so that the next request starts from
    exact counts.
    """
    # signals are the main thread's to take (as the driver's heartbeat thread does)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    while True:
        publish()
        time.sleep(PUBLISH_EVERY)


def _serve(conn: Connection, factory: RunnerFactory, worker: int, counts: Any = None) -> None:
    """A worker's loop: play shares until told to stop, the runner built once the first has come.

    The first share is read before the envs are made, so that the driver's send of the common
    part (megabytes of a network's weights, more than a pipe holds) never waits for them: an env
    that hangs as it is made costs a deadline, not the driver. A runner that cannot be built
    answers every share with the error, which the driver raises (a worker that died instead
    would only be restarted). ``counts``: shared memory of two integers, where a thread copies
    the runner's counts of sessions and steps (:func:`publish_counts`).
    """
    warnings_on_one_line()
    lock = threading.Lock()  # the counts' copies (:func:`_copy_counts`)
    runner: SeededRunner | None = None
    failure: tuple[Literal["env-error", "error"], str] | None = None
    common: Any = None
    try:
        while True:
            message = pickle.loads(conn.recv_bytes())
            if message[0] == "close":
                break
            _, blob, share = message
            if blob is not None:
                common = load_common(blob)
            if runner is None and failure is None:  # the first share: now the envs
                runner, failure = _build(factory)
                if runner is not None and counts is not None:
                    publish = functools.partial(_copy_counts, runner, counts, lock)
                    threading.Thread(target=publish_counts, args=(publish,), daemon=True).start()
            if runner is None:
                assert failure is not None
                reply = Reply(worker, failure[0], failure[1], share.request, share.index)
            else:
                reply = serve(runner, common, share, worker)
                if counts is not None:  # up to date before the driver hears the share is done
                    _copy_counts(runner, counts, lock)
            conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the parent is gone or stopping: leave quietly
    finally:
        if runner is not None:
            runner.close()


class ProcessTransport(Transport):
    """``workers`` local processes, each with its own runner.

    Args:
        factory: builds each worker's runner.
        workers: how many processes.
    """

    kind = "worker process"
    patience = 120.0

    def __init__(self, factory: RunnerFactory, workers: int) -> None:
        super().__init__()
        self.factory, self.size = factory, workers
        self._ctx = mp.get_context("spawn")
        self.conns: list[Connection | None] = [None] * workers
        self.procs: list[Any] = [None] * workers
        self._holds: list[int] = [-1] * workers  # request whose common part each worker holds
        self._lost: list[int] = []
        self._blob: tuple[int, bytes] = (-1, b"")  # the latest request's common part, pickled
        self._unanswered = [0] * workers  # shares sent to each worker and not answered yet
        self._counts: list[Any] = [None] * workers  # each worker's sessions and steps (shared)
        self._gone = (0, 0)  # the counts of the workers stopped so far
        self._answered = False  # whether any worker has answered a share
        self._exit_codes: list[int | None] = []  # of the workers that died
        for worker in range(workers):
            self._start(worker)

    def _start(self, worker: int) -> None:
        parent, child = self._ctx.Pipe()
        counts = self._counts[worker] = self._ctx.RawArray("q", 2)
        proc = self._ctx.Process(target=_serve, args=(child, self.factory, worker, counts), daemon=True)
        with blocked_in_children():  # Ctrl-C signals the whole group: it is the driver's to handle
            proc.start()
        child.close()
        self.conns[worker], self.procs[worker], self._holds[worker] = parent, proc, -1
        self._unanswered[worker] = 0

    def pids(self) -> list[int | None]:
        """Process ids of the workers (None where a worker was given up)."""
        return [None if p is None else p.pid for p in self.procs]

    def cpu_seconds(self, worker: int) -> float | None:
        """CPU seconds the worker has used playing (:func:`main_thread_cpu_seconds`)."""
        proc = self.procs[worker]
        return None if proc is None or proc.pid is None else main_thread_cpu_seconds(proc.pid)

    def counted(self) -> tuple[int, int]:
        """Sessions the workers have played to their end and env steps played, all of them so far.

        As each worker's thread last copied them (every :data:`PUBLISH_EVERY` seconds); a
        stopped worker's stay counted.
        """
        live = [tuple(c) for c in self._counts if c is not None]
        return self._gone[0] + sum(c[0] for c in live), self._gone[1] + sum(c[1] for c in live)

    def ready(self) -> list[int]:
        """Workers with an open pipe (a new process queues shares while it starts)."""
        return [w for w, conn in enumerate(self.conns) if conn is not None and w not in self._lost]

    def submit(self, worker: int, common: Any, share: Share) -> None:
        """Pickle and send; the common part only if the worker lacks this request's."""
        conn = self.conns[worker]
        assert conn is not None
        blob = None
        if self._holds[worker] != share.request:
            if self._blob[0] != share.request:
                self._blob = (share.request, pickle.dumps(common, protocol=pickle.HIGHEST_PROTOCOL))
            blob = self._blob[1]
        data = pickle.dumps(("run", blob, share), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            conn.send_bytes(data)
        except (BrokenPipeError, ConnectionError, OSError):
            if worker not in self._lost:  # one loss, however many shares it was sent
                self._lost.append(worker)
            return
        self._holds[worker] = share.request
        self._unanswered[worker] += 1
        self.common_bytes += len(blob or b"")
        self.share_bytes += len(data) - len(blob or b"")

    def collect(self, timeout: float) -> list[Reply]:
        """Replies from the pipes that have one; a closed pipe is a lost worker."""
        replies = [Reply(w, "lost", f"{self.kind} {w} could not be reached") for w in self._lost]
        self._lost = []
        lost = {r.worker for r in replies}
        conns = {id(c): w for w, c in enumerate(self.conns) if c is not None and w not in lost}
        live = [c for c in self.conns if c is not None and id(c) in conns]
        if not live:
            return replies
        for conn in wait(live, timeout=0 if replies else timeout):
            assert isinstance(conn, Connection)
            worker = conns[id(conn)]
            try:
                data = conn.recv_bytes()
            except (EOFError, ConnectionError, OSError):
                proc = self.procs[worker]
                if proc is not None:
                    proc.join(timeout=0.1)  # reaped, so that its exit code is known
                code = proc.exitcode if proc is not None else None
                self._exit_codes.append(code)
                replies.append(Reply(worker, "lost", f"{self.kind} {worker} died (exit code {code})"))
                continue
            self.reply_bytes += len(data)
            self._unanswered[worker] -= 1
            self._answered = True
            replies.append(pickle.loads(data))
        return replies

    def _stop(self, worker: int) -> None:
        counts = self._counts[worker]
        if counts is not None:
            self._gone = (self._gone[0] + counts[0], self._gone[1] + counts[1])
            self._counts[worker] = None
        conn, proc = self.conns[worker], self.procs[worker]
        if conn is not None:
            conn.close()
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=5)
        self.conns[worker] = self.procs[worker] = None

    def lost_hint(self) -> str:
        """Why every worker may be lost, if none ever answered and none was killed by a signal.

        Said when the driver runs a script. Worker processes start with ``spawn``, which
        imports the script again in each of them: a script that trains at its top level, not
        under ``if __name__ == "__main__":``, starts training again there, and multiprocessing
        stops each such worker as it starts (status 1, where it is known when the worker is
        found gone; a worker killed by a signal has a negative status).
        """
        main = sys.modules.get("__main__")
        killed = any(code is not None and code < 0 for code in self._exit_codes)
        script, spec = getattr(main, "__file__", None), getattr(main, "__spec__", None)
        # the command line (the console script, or python -m policysearch) is no script of theirs
        ours = Path(script or "").name == "policysearch" or (
            spec is not None and spec.name.startswith("policysearch")
        )
        if self._answered or killed or script is None or ours:
            return ""
        return (
            "; no worker process ever answered: if this runs from a script, put the code that "
            'trains under `if __name__ == "__main__":` (worker processes import the script again)'
        )

    def replace(self, worker: int) -> None:
        """Start a new process in the lost one's place."""
        self._stop(worker)
        self._start(worker)

    def retire(self, worker: int) -> None:
        """Give up the lost worker's place."""
        self._stop(worker)

    def close(self) -> None:
        """Stop the workers (they exit on their own; stragglers are killed).

        Workers still playing shares of a request that was given up (interrupted, or stopped by
        another worker's error) are killed at once rather than waited for.
        """
        for worker, proc in enumerate(self.procs):
            if proc is not None and self._unanswered[worker] > 0 and proc.is_alive():
                proc.kill()
        for conn in self.conns:
            if conn is not None:
                try:
                    conn.send_bytes(pickle.dumps(("close",)))
                except (BrokenPipeError, ConnectionError, OSError):
                    pass
        for proc in self.procs:
            if proc is not None:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
                    proc.join(timeout=5)
        for conn in self.conns:
            if conn is not None:
                conn.close()
        self.conns = [None] * self.size
        self.procs = [None] * self.size
