"""The Ray transport of the sampling core: shares played by Ray actors, on one machine or a cluster.

Each actor takes one CPU, builds its runner once from a
:class:`~policysearch.sampling.sharded.RunnerFactory` and checks that its node runs the driver's
versions of policysearch, numpy, gymnasium and mujoco (the same result needs the same code).
Per request the actor's common part (the weights, and an ES population's sigma) is put in the
object store once, so it crosses the network once per node; each task carries one share (its
seeds, and an ES share's noise offsets and signs), and returns its sessions, or only their
returns and observation statistics. The noise table is made on each node from its seed.

An actor that dies (its process, or its node) is seen by its tasks' errors: the core re-runs its
shares elsewhere and this transport starts a replacement, which is used once Ray has placed and
started it. Ray is imported only here, and only when asked for.

While they play, the actors report their counts of ended sessions and played steps to one more
actor of no CPU (:class:`RayCounts`), from which the driver reads how far a request is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import os
import pickle
import re
import shutil
import signal
import socket
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import ENV_FAULTS, BackendError, ConfigError, described
from ..run.interrupts import kept_handlers
from .pool import boot_id, main_thread_cpu_seconds, publish_counts
from .sharded import Reply, RunnerFactory, Share, Transport, load_common, serve

#: Packages whose versions must match between the driver and every node.
CHECKED_PACKAGES = ("policysearch", "numpy", "gymnasium", "mujoco")
#: Seconds to wait for the first actors to start (imports, envs) before giving up.
START_TIMEOUT = 120.0
#: Seconds to wait for a TCP connection to the head before calling it unreachable.
CONNECT_TIMEOUT = 5.0
#: Seconds the driver waits for the actors' counts (:meth:`RayTransport.counted`) before it
#: keeps the last ones it read.
COUNTS_WAIT = 1.0
#: Object store of a local Ray instance started for a run.
LOCAL_OBJECT_STORE = 256 * 1024**2
#: The runtime environment of a run's actors (the sampling ones and :class:`RayCounts`). Ray
#: makes each of its worker processes 15 nicer than its node's raylet (``RAY_worker_niceness``),
#: so that they never slow Ray's own daemons; the actors are a run's sampling workers, which as
#: worker processes run at their parent's niceness: beside other tests, actors at 15 got 3% of a
#: CPU, and the counts actor answered the progress lines' reads late. The increment is set to 0
#: for them (as Ray does for a job's supervisor); the rest of the runtime environment is the job's.
ACTOR_RUNTIME_ENV = {"env_vars": {"RAY_worker_niceness": "0"}}
_ADDRESS = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})$")


def check_ray_options(address: str | None) -> None:
    """Refuse a malformed address, or Ray not installed, before anything starts.

    Raises:
        ConfigError: if ``address`` is neither ``auto`` nor ``HOST:PORT``.
        BackendError: if Ray is not installed.
    """
    if address is not None and address != "auto":
        match = _ADDRESS.match(address)
        if match is None or not 0 < int(match["port"]) < 65536:
            raise ConfigError(f"address={address!r} is not HOST:PORT (e.g. 10.0.0.1:6379) or 'auto'")
    if importlib.util.find_spec("ray") is None:
        raise BackendError("backend 'ray' needs Ray, which is not installed: pip install 'policysearch[ray]'")


def versions() -> dict[str, str]:
    """This process's versions of :data:`CHECKED_PACKAGES` (``missing`` where one is absent)."""
    found = {}
    for name in CHECKED_PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def version_mismatch(expected: dict[str, str]) -> str | None:
    """What differs from ``expected`` in this process's versions, or None."""
    here = versions()
    diffs = [f"{k} {here.get(k)} (driver: {v})" for k, v in expected.items() if here.get(k) != v]
    return ", ".join(diffs) or None


def modules_to_ship(env_id: str) -> list[str]:
    """Local files of the module a ``module:Env-v0`` id imports, for Ray's ``py_modules``.

    A module installed in site-packages (or the standard library) is expected on every node,
    like policysearch itself; a module found elsewhere (a file beside the script, a folder on
    ``PYTHONPATH``) is shipped to the nodes with the job.
    """
    if ":" not in env_id:
        return []
    module = env_id.split(":", 1)[0]
    if module.split(".")[0] == "policysearch":
        return []
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return []
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return []
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    origin = Path(spec.origin).resolve()
    if any(origin.is_relative_to(Path(p).resolve()) for p in installed):
        return []
    return [str(origin.parent if spec.submodule_search_locations else origin)]


class RayCounts:
    """A Ray actor's body, of no CPU: the sampling actors' counts of ended sessions and played steps.

    Each actor reports its own under its key as it plays (:meth:`RayWorker.report`); the driver
    reads the totals (:meth:`RayTransport.counted`). A count only grows, so a report that comes
    late never takes one back, and a stopped actor's sessions stay counted.
    """

    def __init__(self) -> None:
        self.counts: dict[str, tuple[int, int]] = {}

    def report(self, key: str, finished: int, stepped: int) -> None:
        """An actor's counts so far."""
        old = self.counts.get(key, (0, 0))
        self.counts[key] = (max(old[0], finished), max(old[1], stepped))

    def totals(self) -> tuple[int, int]:
        """Sessions ended and env steps played by every actor so far."""
        return sum(c[0] for c in self.counts.values()), sum(c[1] for c in self.counts.values())

    def pid(self) -> int:
        """Its process id."""
        return os.getpid()


class RayWorker:
    """A Ray actor's body: one runner, built once, playing shares (see the module doc).

    Args:
        factory: builds the runner.
        expected: the driver's :func:`versions`.
        counts: the :class:`RayCounts` actor to report to (None: no reports). A daemon thread
            reports every :data:`~.pool.PUBLISH_EVERY` seconds while the actor plays
            (:func:`~.pool.publish_counts`), and the
            actor once more before it answers a share, so that the next request starts from
            exact counts. Shares are played on the actor's main thread, whose CPU clock the
            driver reads (:meth:`RayTransport.cpu_seconds`).
    """

    def __init__(self, factory: RunnerFactory, expected: dict[str, str], counts: Any = None) -> None:
        self.problem = version_mismatch(expected)
        if self.problem:
            self.problem = f"versions differ from the driver's: {self.problem}"
        self.runner: Any = None
        if self.problem is None:
            try:
                self.runner = factory()
            except ENV_FAULTS as exc:
                self.problem = (
                    f"cannot make {factory.env_id!r} there ({described(exc)}); a custom "
                    "env's module must be importable on every node (PYTHONPATH, or installed)"
                )
        self._common: tuple[int, Any] = (-1, None)
        self._stopping = False
        self._note_sigterm()
        self._counts, self._key, self._lock = counts, uuid.uuid4().hex, threading.Lock()
        self._reported, self._sent = (0, 0), None  # the last counts sent, and the reference of the send
        if self.runner is not None and counts is not None:
            threading.Thread(
                target=publish_counts, args=(self.report,), name="policysearch-counts", daemon=True
            ).start()

    def _note_sigterm(self) -> None:
        """Note Ray's SIGTERM (a node drained or stopped) before Ray's own handler runs.

        That handler raises ``SystemExit`` wherever the main thread is, in an env's ``step`` too,
        where the runner would take it for the env's own ``sys.exit`` (an env error that ends the
        run): :meth:`run` exits instead, and the driver replaces a lost actor.
        """
        previous = signal.getsignal(signal.SIGTERM)

        def noted(signum: int, frame: Any) -> None:
            self._stopping = True
            if callable(previous):
                previous(signum, frame)
            else:
                raise SystemExit(128 + signum)

        with contextlib.suppress(ValueError):  # not the main thread: Ray's handler stays alone
            signal.signal(signal.SIGTERM, noted)

    def ready(self) -> tuple[str, int, str | None, str | None]:
        """This actor's node id, process id, why it cannot work (None if it can) and kernel boot id."""
        import ray

        return ray.get_runtime_context().get_node_id(), os.getpid(), self.problem, boot_id()

    def run(self, common: bytes, share: bytes) -> bytes:
        """Play a pickled share with the request's pickled common part; the reply pickled."""
        task: Share = pickle.loads(share)
        if self._common[0] != task.request:
            self._common = (task.request, load_common(common))
        reply = pickle.dumps(serve(self.runner, self._common[1], task), protocol=pickle.HIGHEST_PROTOCOL)
        if self._stopping:  # Ray's SIGTERM came during the share: this actor is lost, not the env wrong
            raise SystemExit(1)
        self.report(wait=True)
        return reply

    def report(self, wait: bool = False) -> None:
        """Send the runner's counts to :class:`RayCounts` if they changed; ``wait``: until taken.

        A lost counts actor loses only the progress lines, never a share.
        """
        if self._counts is None or self.runner is None:
            return
        import ray

        with self._lock:  # one report at a time, each with the counts of its moment
            try:
                counts = (self.runner.finished, self.runner.stepped)
                if counts != self._reported:
                    self._reported, self._sent = counts, self._counts.report.remote(self._key, *counts)
                if wait and self._sent is not None:  # taken, whichever thread sent it
                    ray.get(self._sent, timeout=COUNTS_WAIT)
            except Exception:  # the counts are for progress lines only
                pass


def local_cpus() -> int:
    """The CPUs of a run's own Ray instance: this machine's."""
    return os.cpu_count() or 1


def _refuse_cpus(workers: int, cpus: float, address: str | None) -> None:
    """Raise BackendError if ``workers`` actors of one CPU each do not fit in ``cpus``."""
    if workers > cpus:
        where = "the local Ray instance" if address is None else f"the Ray cluster at {address}"
        raise BackendError(f"--workers {workers} needs {workers} CPUs, but {where} has {cpus:g}")


def _probe(address: str) -> None:
    """Raise BackendError unless a TCP connection to ``HOST:PORT`` opens within CONNECT_TIMEOUT."""
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise BackendError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc})") from None


class RayTransport(Transport):
    """``workers`` Ray actors of one CPU each.

    Args:
        factory: builds each actor's runner.
        workers: how many actors.
        address: ``HOST:PORT`` of a running cluster's head, ``auto`` (the cluster this machine
            belongs to), or None: a local Ray instance is started for the run and stopped after
            it (all its sockets on 127.0.0.1). If this process already called ``ray.init``, that
            connection is used (and left open) instead.

    Raises:
        BackendError: if Ray is missing, the cluster unreachable, or has fewer CPUs than
            ``workers``, or an actor cannot work on its node.
    """

    kind = "Ray actor"

    def __init__(self, factory: RunnerFactory, workers: int, address: str | None = None) -> None:
        super().__init__()
        check_ray_options(address)
        ray = sys.modules.get("ray")
        if address is None and not (ray is not None and ray.is_initialized()):
            _refuse_cpus(workers, float(local_cpus()), address)  # before the instance starts
        self.factory, self.size, self.address = factory, workers, address
        self._temp: str | None = None
        self._owned = False
        self._set_env: list[str] = []  # Ray's variables this transport set (:meth:`_connect`)
        self.ray = self._connect()
        try:
            # the driver's node and kernel: an actor on both has /proc entries the driver can read
            self._here = (self.ray.get_runtime_context().get_node_id(), boot_id())
            _refuse_cpus(workers, float(self.ray.cluster_resources().get("CPU", 0)), address)
            self._expected = versions()
            self._counter = self._start_counter()
            self._totals: tuple[int, int] | None = None
            self._actor_class = self.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(RayWorker)
            self.actors: list[Any] = [None] * workers
            self.nodes: list[str | None] = [None] * workers
            self.pids: list[int | None] = [None] * workers
            self._local = [False] * workers  # on the driver's node and kernel (its CPU clock read)
            self._starting: dict[int, Any] = {}
            self._tasks: dict[Any, int] = {}
            self._lost: list[Reply] = []
            self._put: tuple[int, Any, int] = (-1, None, 0)  # request, its object ref, its bytes
            self._holds = [-1] * workers
            #: Sessions played on each node (by node id).
            self.sessions_by_node: dict[str, int] = {}
            for worker in range(workers):
                self._start(worker)
            self._wait_started()
            pids = ", ".join(str(p) for p in self.pids)
            print(f"ray: sampling on {self.describe()} (actor pids {pids})", file=sys.stderr, flush=True)
        except BaseException:
            for worker in range(len(getattr(self, "actors", ()))):  # on the caller's cluster, they stay
                self._drop(worker)
            self._kill_counter()
            self._shutdown()
            raise

    # -- connecting -----------------------------------------------------------------------------

    def _connect(self) -> Any:
        # A run's own instance: every socket on 127.0.0.1, no usage report, a temp dir of its own.
        # The variables are Ray's settings for this process; those the caller had not set are
        # removed again when the transport closes (_shutdown).
        settings = {"RAY_USAGE_STATS_ENABLED": "0"}
        if self.address is None:
            settings |= {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
        self._set_env = [key for key in settings if key not in os.environ]
        for key in self._set_env:
            os.environ[key] = settings[key]
        import ray

        if ray.is_initialized():  # the caller's own connection: used as it is, and left open
            self._owned = False
            return ray
        self._owned = True
        runtime_env: dict[str, Any] = {}
        shipped = modules_to_ship(self.factory.env_id)
        if shipped:
            runtime_env["py_modules"] = shipped
        common: dict[str, Any] = {
            "runtime_env": runtime_env or None,
            "logging_level": "ERROR",
            "log_to_driver": False,
            "configure_logging": True,
        }
        try:
            with kept_handlers():  # ray.init makes SIGTERM sys.exit: the command line's stays
                self._init(ray, common)
        except BackendError:
            self._restore_env()
            raise
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            self._remove_temp()
            self._restore_env()
            where = "start a local Ray instance" if self.address is None else f"connect to {self.address}"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(f"cannot {where}: {first}") from None
        except BaseException:  # interrupted while Ray starts: nothing of it left behind
            self._remove_temp()
            self._restore_env()
            raise
        return ray

    def _restore_env(self) -> None:
        """Remove the Ray variables that :meth:`_connect` set: the caller's environment as it was."""
        for key in self._set_env:
            os.environ.pop(key, None)
        self._set_env = []

    def _remove_temp(self) -> None:
        """Remove the local instance's temp dir, if one was made."""
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def _init(self, ray: Any, common: dict[str, Any]) -> None:
        """``ray.init``: a local instance of the run's own, or the cluster at the address."""
        if self.address is None:
            self._temp = tempfile.mkdtemp(prefix="ps-ray-", dir="/tmp")
            ray.init(
                address="local",
                num_cpus=local_cpus(),
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE,
                _temp_dir=self._temp,
                **common,
            )
        else:
            if self.address != "auto":
                _probe(self.address)
            ray.init(address=self.address, **common)

    def _shutdown(self) -> None:
        if self._owned and self.ray.is_initialized():
            self.ray.shutdown()
        self._remove_temp()
        self._restore_env()

    # -- actors ---------------------------------------------------------------------------------

    def _start_counter(self) -> Any:
        """The :class:`RayCounts` actor, on the driver's node where Ray can place it there."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(node_id=self._here[0], soft=True)
        counts = self.ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(RayCounts)
        return counts.options(scheduling_strategy=here, runtime_env=ACTOR_RUNTIME_ENV).remote()

    def _kill_counter(self) -> None:
        counter, self._counter = getattr(self, "_counter", None), None
        if counter is not None:
            try:
                self.ray.kill(counter, no_restart=True)
            except Exception:  # already gone with its node
                pass

    def counted(self) -> tuple[int, int] | None:
        """Sessions the actors have played to their end and env steps played, all of them so far.

        As the actors last reported them (every :data:`~.pool.PUBLISH_EVERY` seconds, and
        before each answer), read from :class:`RayCounts` within :data:`COUNTS_WAIT` seconds;
        else the last totals read (None before the first).
        """
        if self._counter is None:
            return self._totals
        try:
            ref = self._counter.totals.remote()
            done, _ = self.ray.wait([ref], timeout=COUNTS_WAIT)
            if done:
                finished, stepped = self.ray.get(done[0])
                read = (int(finished), int(stepped))
                # the heartbeat's thread reads too: an older answer never takes back a newer one
                last = self._totals or (0, 0)
                self._totals = (max(last[0], read[0]), max(last[1], read[1]))
                return read
        except Exception:  # a lost counts actor loses the progress lines only
            pass
        return self._totals

    def _start(self, worker: int) -> None:
        actor = self._actor_class.options(scheduling_strategy="SPREAD", runtime_env=ACTOR_RUNTIME_ENV).remote(
            self.factory, self._expected, self._counter
        )
        self.actors[worker], self._holds[worker] = actor, -1
        self._starting[worker] = actor.ready.remote()

    def _wait_started(self) -> None:
        """Wait for the first actors; refuse with the reason when one cannot work."""
        refs = {ref: w for w, ref in self._starting.items()}
        done, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=START_TIMEOUT)
        if len(done) < len(refs):
            raise BackendError(
                f"{len(refs) - len(done)} of {len(refs)} Ray actors did not start within "
                f"{START_TIMEOUT:.0f} s (each takes 1 CPU; are the cluster's CPUs busy?)"
            )
        for ref in done:
            self._started(refs[ref], ref, strict=True)

    def _started(self, worker: int, ref: Any, strict: bool = False) -> None:
        del self._starting[worker]
        try:
            node, pid, problem, boot = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            if strict:
                raise BackendError(f"a Ray actor failed to start: {_first_line(exc)}") from None
            self._lost.append(Reply(worker, "lost", f"replacement failed to start: {_first_line(exc)}"))
            return
        if problem is not None:
            raise BackendError(f"the Ray actor on node {node[:12]} cannot sample: {problem}")
        self.nodes[worker], self.pids[worker] = node, pid
        self._local[worker] = boot is not None and (node, boot) == self._here

    def ready(self) -> list[int]:
        """Actors that started and are not lost."""
        lost = {r.worker for r in self._lost}
        return [
            w
            for w in range(self.size)
            if self.actors[w] is not None and w not in self._starting and w not in lost
        ]

    def starting(self) -> bool:
        """Whether a replacement is being placed or started."""
        return bool(self._starting)

    def cpu_seconds(self, worker: int) -> float | None:
        """CPU seconds an actor on the driver's own node has used playing; None on another node.

        Its main thread's, where it runs its tasks (:func:`~.pool.main_thread_cpu_seconds`). The
        node is the driver's when both its Ray node id and its kernel's boot id are (a driver
        connected through Ray Client has the head's node id but not its kernel).
        """
        pid = self.pids[worker]
        return main_thread_cpu_seconds(pid) if pid is not None and self._local[worker] else None

    def submit(self, worker: int, common: Any, share: Share) -> None:
        """Put the request's common part in the object store (once) and start a task."""
        if self._put[0] != share.request:
            blob = pickle.dumps(common, protocol=pickle.HIGHEST_PROTOCOL)
            self._put = (share.request, self.ray.put(blob), len(blob))
        if self._holds[worker] != share.request:
            self._holds[worker] = share.request
            self.common_bytes += self._put[2]
        data = pickle.dumps(share, protocol=pickle.HIGHEST_PROTOCOL)
        self.share_bytes += len(data)
        self._tasks[self.actors[worker].run.remote(self._put[1], data)] = worker

    def collect(self, timeout: float) -> list[Reply]:
        """Replies of finished tasks; an actor whose task failed is lost."""
        for worker, ref in list(self._starting.items()):
            if self.ray.wait([ref], timeout=0)[0]:
                self._started(worker, ref)
        replies, self._lost = self._lost, []
        if not self._tasks:
            if not replies:
                time.sleep(min(timeout, 0.05))
            return replies
        refs = list(self._tasks)
        done, _ = self.ray.wait(refs, num_returns=1, timeout=0 if replies else timeout)
        if done:
            done, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        lost = {r.worker for r in replies}
        for ref in done:
            worker = self._tasks.pop(ref)
            if worker in lost:
                continue
            try:
                data = self.ray.get(ref)
            except self.ray.exceptions.RayError as exc:
                lost.add(worker)
                replies.append(Reply(worker, "lost", f"Ray actor {worker} lost: {_first_line(exc)}"))
                continue
            self.reply_bytes += len(data)
            reply: Reply = pickle.loads(data)
            if reply.status == "ok" and self.nodes[worker] is not None:
                node = str(self.nodes[worker])
                self.sessions_by_node[node] = self.sessions_by_node.get(node, 0) + reply.payload.n
            replies.append(dataclasses.replace(reply, worker=worker))  # its seconds too: the deadline's
        return replies

    def _drop(self, worker: int) -> None:
        for ref in [r for r, w in self._tasks.items() if w == worker]:
            del self._tasks[ref]
        self._starting.pop(worker, None)
        actor, self.actors[worker] = self.actors[worker], None
        self.nodes[worker] = self.pids[worker] = None
        self._local[worker] = False
        if actor is not None:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # already gone with its node
                pass

    def replace(self, worker: int) -> None:
        """Start a new actor in the lost one's place (used once Ray has started it)."""
        self._drop(worker)
        self._start(worker)

    def retire(self, worker: int) -> None:
        """Give up the lost actor's place."""
        self._drop(worker)

    def describe(self) -> str:
        """How many actors on how many nodes."""
        nodes = {n for n in self.nodes if n is not None}
        return f"{self.size} Ray actors on {len(nodes)} node{'s' if len(nodes) != 1 else ''}"

    def close(self) -> None:
        """Kill the actors; stop the local instance (or leave the cluster)."""
        if not self.ray.is_initialized():
            return
        if self.sessions_by_node:
            played = ", ".join(f"{n} on node {node[:8]}" for node, n in sorted(self.sessions_by_node.items()))
            print(f"ray: sessions played: {played}", file=sys.stderr, flush=True)
        for worker in range(self.size):
            self._drop(worker)
        self._kill_counter()
        self._shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
