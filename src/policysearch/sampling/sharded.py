"""One sampling core, several transports.

:class:`ShardedSampler` is the whole of sampling's logic: it draws every session's seeds, splits a
request into contiguous shares, hands them to a :class:`Transport`, gathers the answers in
session order, raises a worker's error, and re-runs the shares of a worker that died on another
one (a share is named by its seeds, so it comes out the same wherever it runs). A transport only
moves a share to where it runs and its answer back: this process (:class:`InProcess`), local
worker processes (:class:`~policysearch.sampling.pool.ProcessTransport`) or Ray actors
(:class:`~policysearch.sampling.raycluster.RayTransport`). The three give identical sessions.

A worker is built once from a picklable :class:`RunnerFactory` (env id and envs per worker) and
reused. Per request a worker receives the actor's part common to every share once (the weights)
and per share its seeds and the actor's part for its own sessions (an ES population sends only
its candidates' noise offsets: see ``split`` and ``join`` below).
"""

from __future__ import annotations

import itertools
import pickle
import time
import warnings
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..envs.make import EnvOptions
from ..errors import BackendError, EnvError, WorkerStallWarning, described
from ..policies.base import Actor
from ..seeding import request_seeds
from .runner import SeededRunner
from .session import Keep, Sessions, concatenate

Status = Literal["ok", "env-error", "memory-error", "error", "lost"]


@dataclass(frozen=True)
class RunnerFactory:
    """Makes a worker's runner: ``n_envs`` environments of ``env_id`` (picklable, built where it runs)."""

    env_id: str
    n_envs: int
    #: The env's own keyword arguments and the preprocessing switch (None: the defaults).
    env_options: EnvOptions | None = None

    def __call__(self) -> SeededRunner:
        """The fastest exact runner of the env in this process."""
        from ..sampling import make_runner

        return make_runner(self.env_id, self.n_envs, env_options=self.env_options)


@dataclass(frozen=True)
class Share:
    """A contiguous part of a request, everything a worker needs to play it besides the common part.

    Attributes:
        request: the request's number (a worker keeps the common part of the latest one).
        index: the share's place in its request.
        first: index of its first session in the request (the index the actor sees).
        reset_seeds: one reset seed per session.
        noise_seeds: one action-noise seed per session (None: a deterministic actor).
        part: the actor's part for these sessions (None: the common part plays them as it is).
        keep: what to send back of each session (:data:`~.session.Keep`).
    """

    request: int
    index: int
    first: int
    reset_seeds: np.ndarray
    noise_seeds: np.ndarray | None
    part: Any
    keep: Keep

    @property
    def single(self) -> bool:
        """Whether it holds one session (messages name it in the singular)."""
        return len(self.reset_seeds) == 1

    def sessions(self) -> str:
        """Its sessions as messages name them: ``sessions 4-7``, or ``session 5`` for one."""
        last = self.first + len(self.reset_seeds) - 1
        return f"session {self.first}" if self.single else f"sessions {self.first}-{last}"

    def seeds(self) -> str:
        """Its reset seeds as messages name them: ``reset seeds 104...107``, or ``reset seed 105``."""
        first, last = int(self.reset_seeds[0]), int(self.reset_seeds[-1])
        return f"reset seed {first}" if self.single else f"reset seeds {first}...{last}"


@dataclass(frozen=True)
class Reply:
    """A worker's answer: ``ok`` with sessions, an error message, or ``lost`` (the worker is gone)."""

    worker: int
    status: Status
    payload: Any = None
    request: int = -1
    index: int = -1
    #: Seconds the worker spent playing the share (what the deadline is derived from).
    seconds: float = 0.0
    #: CPU seconds the worker's main thread used playing it (the deadline on the CPU clock's).
    cpu: float = 0.0


def split_actor(actor: Actor, bounds: list[tuple[int, int]]) -> tuple[Any, list[Any]]:
    """The part of ``actor`` common to every share, and each share's own part.

    An actor that can name a share's part (``split(bounds)`` returning the common part and one
    part per share, and ``join(part)`` on the common part) sends it; any other actor is common
    to every share as it is.
    """
    split: Callable[[list[tuple[int, int]]], tuple[Any, list[Any]]] | None = getattr(actor, "split", None)
    if split is None or len(bounds) < 2:
        return actor, [None] * len(bounds)
    return split(bounds)


def play(runner: SeededRunner, common: Any, share: Share) -> Sessions:
    """Play a share on ``runner``: where a share runs, on every transport."""
    actor = common if share.part is None else common.join(share.part)
    return runner.run(actor, share.reset_seeds, share.noise_seeds, share.first, keep=share.keep)


def played(runner: SeededRunner, common: Any, share: Share, worker: int = 0) -> Reply:
    """Play a share: an ``ok`` reply with its sessions and the seconds (and CPU seconds) it took."""
    tick, cpu = time.perf_counter(), time.thread_time()
    sessions = play(runner, common, share)
    seconds = time.perf_counter() - tick
    return Reply(worker, "ok", sessions, share.request, share.index, seconds, time.thread_time() - cpu)


@dataclass(frozen=True)
class Unloadable:
    """A request's common part that could not be rebuilt where it runs (what :func:`load_common` gives)."""

    message: str


def load_common(blob: bytes) -> Any:
    """The request's common part from its pickle, or :class:`Unloadable` naming why not.

    A worker that cannot rebuild it (a class not importable there, a failing ``__setstate__``)
    answers each share with the error (:func:`serve`), rather than dying and being replaced by
    workers that would fail the same way.
    """
    try:
        return pickle.loads(blob)
    except Exception as exc:
        return Unloadable(f"cannot rebuild the request's policy here: {described(exc)}")


def serve(runner: SeededRunner, common: Any, share: Share, worker: int = -1) -> Reply:
    """Play a share and turn an error into a reply (what remote workers send back)."""
    if isinstance(common, Unloadable):
        return Reply(worker, "error", common.message, share.request, share.index)
    try:
        return played(runner, common, share, worker)
    except EnvError as exc:
        return Reply(worker, "env-error", str(exc), share.request, share.index)
    except MemoryError as exc:  # raised as itself by the driver: the command line's "out of memory"
        return Reply(worker, "memory-error", str(exc) or "MemoryError", share.request, share.index)
    except Exception as exc:  # reported to the driver, which raises it
        return Reply(worker, "error", described(exc), share.request, share.index)


class Transport(ABC):
    """Moves shares to where they run, and their replies back.

    Workers are numbered from 0 to ``size - 1``; a lost worker's number is reused by its
    replacement.
    """

    #: What a worker is, for messages ("worker process", "Ray actor").
    kind = "worker"
    #: How many workers it holds.
    size = 1
    #: Seconds to wait for a worker to become ready when none is (a replacement starting).
    patience = 60.0

    def __init__(self) -> None:
        #: Bytes of the common parts sent (one per worker and request).
        self.common_bytes = 0
        #: Bytes of the shares sent (seeds and per-share parts).
        self.share_bytes = 0
        #: Bytes of the replies received.
        self.reply_bytes = 0

    @abstractmethod
    def ready(self) -> list[int]:
        """Workers that can take shares now."""

    def starting(self) -> bool:
        """Whether a worker is being started (and may become ready)."""
        return False

    def cpu_seconds(self, worker: int) -> float | None:
        """CPU seconds the worker's playing thread has used since it started, or None if unreadable.

        A difference of two readings is the CPU a share took.

        Where they can be read, a share's deadline is kept on the worker's CPU time (see
        :meth:`ShardedSampler._overran`), so that a worker that waits for a busy machine's CPUs is
        not taken for a stuck one.
        """
        return None

    def counted(self) -> tuple[int, int] | None:
        """Sessions played to their end and env steps played by the workers so far, as they go.

        None where the driver does not see them as they go: it hears of a worker's sessions when
        their share returns. In this process they are the runner's counts
        (:attr:`~.runner.SeededRunner.finished`); worker processes copy theirs to shared memory,
        Ray actors report theirs to an actor of their own.
        """
        return None

    @abstractmethod
    def submit(self, worker: int, common: Any, share: Share) -> None:
        """Send a share (and, if ``worker`` lacks it, the request's common part)."""

    @abstractmethod
    def collect(self, timeout: float) -> list[Reply]:
        """Replies that arrived within ``timeout`` seconds (a lost worker is a ``lost`` reply)."""

    @abstractmethod
    def replace(self, worker: int) -> None:
        """Start a new worker in place of a lost one."""

    @abstractmethod
    def retire(self, worker: int) -> None:
        """Give up a lost worker's place."""

    @abstractmethod
    def close(self) -> None:
        """Stop every worker."""

    @property
    def kinds(self) -> str:
        """:attr:`kind` in the plural."""
        return f"{self.kind}{'es' if self.kind.endswith('s') else 's'}"

    def lost_hint(self) -> str:
        """What may explain that every worker was lost, to add to the error (or "")."""
        return ""

    def describe(self) -> str:
        """Where the workers are, for the log."""
        return f"{self.size} {self.kinds}"


class InProcess(Transport):
    """Plays shares in this process, on one runner (errors propagate as they are)."""

    kind = "in-process runner"

    def __init__(self, runner: SeededRunner) -> None:
        super().__init__()
        self.runner = runner
        self._queue: list[tuple[Any, Share]] = []

    def ready(self) -> list[int]:
        """The one worker: this process."""
        return [0]

    def counted(self) -> tuple[int, int]:
        """The runner's sessions played to their end and env steps played."""
        return self.runner.finished, self.runner.stepped

    def submit(self, worker: int, common: Any, share: Share) -> None:
        """Queue the share (played on :meth:`collect`)."""
        self._queue.append((common, share))

    def collect(self, timeout: float) -> list[Reply]:
        """Play the queued shares."""
        queue, self._queue = self._queue, []
        return [played(self.runner, common, share) for common, share in queue]

    def replace(self, worker: int) -> None:
        """Never lost."""

    def retire(self, worker: int) -> None:
        """Never lost."""

    def close(self) -> None:
        """Close the runner's environments."""
        self.runner.close()


#: A share is given up on a worker once it has run this many times the time that the request's
#: finished shares took per session (times its own sessions), plus :data:`DEADLINE_SLACK`; see
#: :meth:`ShardedSampler.deadline`.
DEADLINE_FACTOR = 5.0
#: How much more room a share gets while no share of its request has finished, when the
#: reference is earlier requests' shares: their episodes may have been shorter (a policy that
#: has learnt to stay up, an evaluation's greedy episodes after training's short ones).
DEADLINE_GROWTH = 4.0
#: Seconds added to every derived deadline (an env's first steps, a busy machine).
DEADLINE_SLACK = 5.0
#: Workers a share may overrun its deadline on before it is taken for the env's fault, not the
#: workers' (:meth:`ShardedSampler._replace_overrun`).
OVERRUNS = 2
#: Seconds more for a worker that has not answered since it started (spawning a process and
#: importing the env take seconds on a busy machine).
START_SLACK = 30.0
#: Seconds the driver waits for replies in each round of :meth:`ShardedSampler._gather`.
COLLECT_WAIT = 0.5
#: Seconds beyond :data:`COLLECT_WAIT` and the driver's own work (its CPU time) that a round may
#: take before the driver counts the excess as a pause of its own (the run stopped with Ctrl-Z
#: and continued with ``fg``, a paused VM, a machine that stalled): no share's deadline runs
#: while the driver does not.
PAUSE_GAP = 2.0
#: Fraction of one CPU under which a worker whose CPU time the driver reads counts as stuck, when
#: it has used no more than that over a whole deadline (:meth:`Watch.idle`): a worker that waits
#: for a busy machine's CPUs still gets its turns (a tenth of a CPU at ten processes a core), one
#: hung in a call that waits gets none.
IDLE_CPU = 0.01
#: A worker watched on its CPU clock is still given up once its share has run this many times
#: its wall-time deadline: a hang that keeps using a little CPU (a loop that polls, 2-3% of a
#: CPU) is found in that time, and a machine must slow a worker this much more than its
#: request's other shares before the worker is taken for stuck.
CPU_CLOCK_WALL_CAP = 10.0


class Pace:
    """Seconds per session of finished shares, on one clock: what a share's deadline follows."""

    def __init__(self) -> None:
        #: The last 64 shares' seconds per session, of this request and earlier ones.
        self.recent: deque[float] = deque(maxlen=64)
        #: This request's finished shares' seconds per session.
        self.request: list[float] = []

    def add(self, seconds: float, sessions: int) -> None:
        """A share of ``sessions`` finished in ``seconds``."""
        per_session = seconds / max(1, sessions)
        self.recent.append(per_session)
        self.request.append(per_session)

    def limit(self, sessions: int) -> float | None:
        """The deadline of a share of ``sessions``, None if no share has finished.

        :data:`DEADLINE_FACTOR` times the typical seconds per session, times ``sessions``, plus
        :data:`DEADLINE_SLACK`: the typical is the median of this request's finished shares, else
        :data:`DEADLINE_GROWTH` times the median of the recent ones.
        """
        if self.request:
            typical = float(np.median(np.asarray(self.request)))
        elif self.recent:
            typical = DEADLINE_GROWTH * float(np.median(np.asarray(self.recent)))
        else:
            return None
        return DEADLINE_FACTOR * typical * max(1, sessions) + DEADLINE_SLACK


@dataclass
class Watch:
    """The share a worker plays now, as the driver watches it.

    Attributes:
        started: when it began (monotonic seconds; moved on by the driver's pauses).
        cpu: the worker's CPU seconds then (None: the transport cannot read them).
        samples: ``(time, CPU seconds)`` of the worker at the driver's rounds since (the CPU
            clock's only), the oldest kept as far back as the last deadline asked about.
    """

    started: float
    cpu: float | None
    samples: deque[tuple[float, float]]

    @classmethod
    def begin(cls, transport: Transport, worker: int) -> Watch:
        """A share begins on ``worker`` now."""
        now, cpu = time.monotonic(), transport.cpu_seconds(worker)
        return cls(now, cpu, deque() if cpu is None else deque([(now, cpu)]))

    def paused(self, seconds: float, now: float) -> None:
        """The driver did not run for ``seconds``: nor does this share's deadline.

        (A share begun during the pause keeps its start.)
        """
        self.started = min(self.started + seconds, now)
        self.samples = deque((min(t + seconds, now), cpu) for t, cpu in self.samples)

    def idle(self, cpu: float, now: float, window: float) -> bool:
        """Whether the worker, at ``cpu`` CPU seconds now, has waited for a ``window`` of seconds.

        That is, it used less than :data:`IDLE_CPU` of a CPU over the last ``window`` seconds
        (False until the share has run that long).
        """
        self.samples.append((now, cpu))
        while len(self.samples) > 1 and self.samples[1][0] <= now - window:
            self.samples.popleft()  # the newest sample at least a window old stays
        then, cpu_then = self.samples[0]
        return then <= now - window and cpu - cpu_then < IDLE_CPU * (now - then)


class ShardedSampler:
    """Runs each request as contiguous shares on a transport's workers (see the module doc).

    A worker that stops answering does not hold the run: a share that overruns its deadline
    (:meth:`deadline`, :meth:`_overran`) is played again elsewhere with the same seeds (so the
    sessions are the same), and its worker is replaced, as a lost one is. The same serves
    stragglers on a cluster. Where the driver reads a worker's CPU time (worker processes and Ray
    actors on its own machine) the deadline is kept on that clock, so that a busy machine, which
    slows every worker alike, is not taken for stuck ones.
    In this process (:class:`InProcess`) nothing can be taken back from a hung env: the deadline
    needs worker processes or Ray actors.

    Args:
        transport: where shares run.
        shares_per_worker: shares a request is split into per worker (more balance the load
            between unequal workers; fewer keep the per-share overhead small).
        min_share: fewest sessions in a share (a runner steps many envs side by side).
        in_flight: shares queued per worker, so that a worker never waits for the driver.
        deadline: seconds a share may run before it is played elsewhere; None derives it from
            the other shares' times (:meth:`deadline`). On a worker watched on its CPU clock it
            is the CPU seconds it may use and the wall seconds it may wait (:meth:`_overran`).
    """

    #: Sessions cost real environment steps (a tabular model's are nearly free).
    cheap = False

    def __init__(
        self,
        transport: Transport,
        shares_per_worker: int = 1,
        min_share: int = 1,
        in_flight: int = 2,
        deadline: float | None = None,
    ) -> None:
        self.transport = transport
        self.shares_per_worker, self.min_share, self.in_flight = shares_per_worker, min_share, in_flight
        self.fixed_deadline = deadline
        #: Workers lost and replaced (or given up) since the sampler started.
        self.restarts = 0
        #: Of those, workers replaced because a share overran its deadline.
        self.stalls = 0
        self._request = 0
        self._fresh: set[int] = set()  # replacements that have not finished a share yet
        # workers that have not answered since they started (their first share waits for that)
        self._unproven: set[int] = set(range(transport.size))
        self._wall = Pace()  # finished shares' seconds per session, as the workers timed them
        self._cpu = Pace()  # and their CPU seconds per session
        # the request in play, for progress(): sessions asked and returned, and the transport's
        # counts of ended sessions and env steps when it began
        self._asked = self._returned = 0
        self._mark = (0, 0)

    def deadline(self, sessions: int, clock: Literal["wall", "cpu"] = "wall") -> float | None:
        """Seconds a share of ``sessions`` may run on a worker before it is played elsewhere.

        The one given to the sampler, else :data:`DEADLINE_FACTOR` times the median time per
        session of the request's shares finished so far, times ``sessions``, plus
        :data:`DEADLINE_SLACK` (:meth:`Pace.limit`). The shares of a request play the same kind
        of episodes, so that follows episodes that grow over a run. Until one has finished, the
        median over the last 64 shares of earlier requests stands in, with
        :data:`DEADLINE_GROWTH` times more room; None (no deadline) before any share has
        finished. ``clock="cpu"``: the same in the workers' CPU seconds.
        """
        if self.fixed_deadline is not None:
            return self.fixed_deadline
        return (self._cpu if clock == "cpu" else self._wall).limit(sessions)

    def progress(self) -> str:
        """How far the request in play is, for progress lines; empty between requests.

        Read from another thread while :meth:`run` plays. Sessions are counted as they end
        (:meth:`Transport.counted`); where a transport cannot count them so, as their shares
        return.
        """
        asked = self._asked
        if not asked:
            return ""
        now, mark = self.transport.counted(), self._mark
        if now is not None:  # a share played again after a lost worker may count twice
            done, steps = min(now[0] - mark[0], asked), now[1] - mark[1]
            return f"{done:,} of {asked:,} sessions done, {steps:,} env steps"
        return f"{self._returned:,} of {asked:,} sessions returned by {self.transport.describe()}"

    def sample(
        self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0, keep: Keep = "steps"
    ) -> Sessions:
        """Run ``n`` sessions, their seeds drawn from ``rng`` (:func:`~policysearch.seeding.request_seeds`).

        With ``common`` > 0, session ``i`` starts like session ``i % common`` (common random
        numbers). ``keep``: what the workers send back of each session (:data:`~.session.Keep`).
        """
        return self.run(actor, *request_seeds(rng, n, common), keep=keep)

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        keep: Keep = "steps",
    ) -> Sessions:
        """One session per reset seed (evaluation gives its own seeds), in order."""
        n = len(reset_seeds)
        pieces = max(1, min(self.transport.size * self.shares_per_worker, n // max(1, self.min_share)))
        cuts = np.linspace(0, n, pieces + 1).astype(np.int64)
        bounds = [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a or n == 0]
        common, parts = split_actor(actor, bounds)
        self._request += 1
        self._asked = 0  # progress() is read from another thread: the new counts, then the size
        self._mark, self._returned = self.transport.counted() or (0, 0), 0
        self._asked = n
        shares = [
            Share(
                self._request,
                k,
                lo,
                reset_seeds[lo:hi],
                None if noise_seeds is None else noise_seeds[lo:hi],
                part,
                keep,
            )
            for k, ((lo, hi), part) in enumerate(zip(bounds, parts, strict=True))
        ]
        try:
            return concatenate(self._gather(common, shares))
        finally:
            self._asked = 0  # played: progress() says nothing until the next request

    def _gather(self, common: Any, shares: list[Share]) -> list[Sessions]:
        """Every share's sessions, re-running the shares of lost workers elsewhere."""
        transport = self.transport
        pending = deque(range(len(shares)))
        busy: dict[int, list[int]] = {}
        watch: dict[int, Watch] = {}  # the first share of each worker's queue, since it began
        done: dict[int, Sessions] = {}
        overran: dict[int, int] = {}  # how many workers each share overran its deadline on
        idle_since: float | None = None
        self._wall.request, self._cpu.request = [], []
        last_check, last_cpu = time.monotonic(), time.process_time()
        while len(done) < len(shares):
            ready = transport.ready()
            for depth in range(1, self.in_flight + 1):  # one share per worker, then a second...
                for worker in ready:
                    queue = busy.setdefault(worker, [])
                    if pending and len(queue) < depth:
                        k = pending.popleft()
                        if not queue:
                            watch[worker] = Watch.begin(transport, worker)
                        queue.append(k)
                        transport.submit(worker, common, shares[k])
            if any(busy.values()):
                idle_since = None
            elif not transport.starting():
                raise BackendError(
                    f"every sampling {transport.kind} is gone ({self.restarts} lost){transport.lost_hint()}"
                )
            else:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > transport.patience:
                    raise BackendError(
                        f"no sampling {transport.kind} became ready within {transport.patience:.0f} s "
                        f"({self.restarts} lost)"
                    )
            for reply in transport.collect(timeout=COLLECT_WAIT):
                worker = reply.worker
                if reply.status == "lost":
                    self._take_back(worker, busy, pending)
                    continue
                queue = busy.get(worker, [])
                if reply.request != self._request or reply.index not in queue:
                    continue  # an answer to a share already played elsewhere
                queue.remove(reply.index)
                if reply.status == "env-error":
                    raise EnvError(reply.payload)
                if reply.status == "memory-error":
                    raise MemoryError(f"in a sampling {transport.kind}: {reply.payload}")
                if reply.status == "error":
                    raise RuntimeError(f"a sampling {transport.kind} failed: {reply.payload}")
                sessions = len(shares[reply.index].reset_seeds)
                self._wall.add(reply.seconds, sessions)
                self._cpu.add(reply.cpu, sessions)
                watch[worker] = Watch.begin(transport, worker)  # the next share of its queue starts now
                self._fresh.discard(worker)
                self._unproven.discard(worker)
                done[reply.index] = reply.payload
                self._returned += sessions
            now, cpu = time.monotonic(), time.process_time()
            # a round is one wait and the driver's own work (replies to read, shares to send)
            paused = (now - last_check) - (cpu - last_cpu) - COLLECT_WAIT
            if paused > PAUSE_GAP:  # the driver did not run: nor do the deadlines it watches
                for watched in watch.values():
                    watched.paused(paused, now)
                if idle_since is not None:
                    idle_since = min(idle_since + paused, now)
            last_check, last_cpu = now, cpu
            self._replace_overrun(shares, busy, watch, pending, overran)
        return [done[k] for k in range(len(shares))]

    def _replace_overrun(
        self,
        shares: list[Share],
        busy: dict[int, list[int]],
        watch: dict[int, Watch],
        pending: deque[int],
        overran: dict[int, int],
    ) -> None:
        """Take back the shares of a worker whose current share overran its deadline, and replace it.

        Its shares go back to the front of the queue, to be played with the same seeds by the
        next worker free, and a warning says which deadline was overrun; a replacement that
        overruns before finishing anything is given up. A share that overruns on
        :data:`OVERRUNS` workers is the share's, not the workers' (an env that hangs on those
        seeds): an :class:`~policysearch.errors.EnvError` naming them, before it takes every
        worker with it.
        """
        for worker, queue in list(busy.items()):
            if not queue or worker not in watch:
                continue
            deadline = self._overran(worker, len(shares[queue[0]].reset_seeds), watch[worker])
            if deadline is None:
                continue
            share = shares[queue[0]]
            overran[queue[0]] = overran.get(queue[0], 0) + 1
            if overran[queue[0]] >= OVERRUNS:
                one = share.single
                raise EnvError(
                    f"{share.sessions()} of the request ({share.seeds()}) ran past "
                    f"{'its' if one else 'their'} deadline ({deadline}) on {OVERRUNS} "
                    f"{self.transport.kinds} in turn: the env hangs in "
                    f"{'that episode, or it lasts' if one else 'those episodes, or they last'} far "
                    "longer than the request's others"
                )
            self.stalls += 1
            if self._take_back(worker, busy, pending):
                fate = "was replaced"
            else:
                fate = "was given up (a replacement that had not finished a share yet)"
            warnings.warn(
                f"a sampling {self.transport.kind} {fate}: it ran past the deadline of "
                f"{share.sessions()} ({deadline}), which "
                f"{'is' if share.single else 'are'} played again elsewhere with the "
                "same seeds",
                WorkerStallWarning,
                stacklevel=2,
            )

    def _take_back(self, worker: int, busy: dict[int, list[int]], pending: deque[int]) -> bool:
        """Replace ``worker`` (lost, or past a deadline); its shares go back to the front of the queue.

        They are played with the same seeds by the next worker free. True if it was replaced;
        False if it was given up instead, a replacement that had not finished a share yet.
        """
        pending.extendleft(reversed(busy.pop(worker, [])))
        self.restarts += 1
        if worker in self._fresh:
            self._fresh.discard(worker)
            self.transport.retire(worker)
            return False
        self._fresh.add(worker)
        self._unproven.add(worker)
        self.transport.replace(worker)
        return True

    def _overran(self, worker: int, sessions: int, watched: Watch) -> str | None:
        """The deadline that the share ``watched`` on ``worker`` has overrun (``"49.5 s"``), or None.

        In wall time: the share has run longer than :meth:`deadline`. On the worker's CPU clock
        (where :meth:`Transport.cpu_seconds` reads it): the worker has used more CPU seconds on
        the share than the deadline in CPU seconds (a loop that never ends: found in about a
        deadline when it has a CPU to itself), or over the last wall-time deadline less than
        :data:`IDLE_CPU` of a CPU (a call that waits forever: found in one deadline), or the
        share has run :data:`CPU_CLOCK_WALL_CAP` times its wall-time deadline (anything else,
        such as a loop that polls). A worker that gets its turns on a busy machine overruns none
        of them unless it is that much slower than its request's other shares. A worker that
        has not answered since it started has :data:`START_SLACK` more on each.
        """
        limit = self.deadline(sessions)
        if limit is None:
            return None
        slack = START_SLACK if worker in self._unproven else 0.0
        now = time.monotonic()
        elapsed = now - watched.started
        spin = None if watched.cpu is None else self.deadline(sessions, "cpu")
        if spin is not None and elapsed <= min(limit, spin) + slack:
            return None  # a thread's CPU seconds do not outrun the wall clock: no rule can hold yet
        cpu = None if watched.cpu is None else self.transport.cpu_seconds(worker)
        if cpu is None or watched.cpu is None:
            return f"{limit + slack:.1f} s" if elapsed > limit + slack else None
        if spin is not None and cpu - watched.cpu > spin + slack:
            return f"{spin + slack:.1f} s of CPU"
        if watched.idle(cpu, now, limit + slack):
            return f"{limit + slack:.1f} s, using no CPU"
        cap = CPU_CLOCK_WALL_CAP * limit + slack
        return f"{cap:.1f} s, {CPU_CLOCK_WALL_CAP:g} times its deadline" if elapsed > cap else None

    def close(self) -> None:
        """Stop the transport's workers."""
        self.transport.close()
