"""Faults cost only time: a lost sampling worker's shares are re-run, the numbers stay the same."""

import dataclasses
import json
import os
import signal
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import metrics_without_timings, run_cli
from policysearch import Trainer, TrainOptions
from policysearch.errors import BackendError, EnvError, WorkerStallWarning
from policysearch.run.runfolder import load_checkpoint
from policysearch.sampling import (
    InProcess,
    ProcessTransport,
    RunnerFactory,
    Sessions,
    ShardedSampler,
    Transport,
    closed_after,
    make_runner,
)
from policysearch.sampling.sharded import Reply

ENV = "testenvs:DyingCartPole-v1"


def options(out: Path, **kw) -> TrainOptions:
    base = dict(algorithm="cem", env_id=ENV, policy="mlp", seed=4, max_iterations=4, out=str(out))
    base["hyperparameters"] = {"n_sessions": 24, "hidden": [8]}
    base.update(kw)
    return TrainOptions(**base)


class TouchAt:
    """A callback that creates ``path`` after iteration ``at`` (the next one then loses workers)."""

    def __init__(self, path: Path, at: int) -> None:
        self.path, self.at = path, at

    def on_iteration(self, iteration: int, metrics: dict) -> None:
        if iteration == self.at:
            self.path.touch()

    def on_end(self, summary: dict) -> None:
        pass


def restarts(folder: Path) -> list[int]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["worker_restarts"] for line in lines]


def test_a_worker_killed_mid_iteration_costs_only_time(tmp_path: Path, monkeypatch) -> None:
    flag = tmp_path / "kill-once"
    monkeypatch.setenv("POLICYSEARCH_TEST_KILL_ONCE", str(flag))
    Trainer(options(tmp_path / "one")).train()  # in-process: the flag is never created
    Trainer(options(tmp_path / "killed", workers=2, n_envs=3), callbacks=[TouchAt(flag, 2)]).train()
    assert not flag.exists(), "no worker stepped after the flag appeared"
    assert restarts(tmp_path / "killed") == [0, 0, 1, 0]
    assert metrics_without_timings(tmp_path / "one") == metrics_without_timings(tmp_path / "killed")
    a = json.loads((tmp_path / "one" / "summary.json").read_text())
    b = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert a["eval_mean_return"] == b["eval_mean_return"]


def test_every_worker_lost_stops_the_run_and_resume_finishes_it(tmp_path: Path, monkeypatch) -> None:
    flag = tmp_path / "kill-always"
    monkeypatch.setenv("POLICYSEARCH_TEST_KILL_ALWAYS", str(flag))
    es = {"algorithm": "es", "policy": "linear", "hyperparameters": {"population": 8}}
    folder = tmp_path / "lost"
    with pytest.raises(BackendError) as info:
        Trainer(options(folder, workers=2, **es), callbacks=[TouchAt(flag, 2)]).train()
    message = str(info.value)
    assert "every sampling worker process is gone" in message and "--resume" in message
    assert "\n" not in message
    meta, _ = load_checkpoint(folder)
    assert meta["iteration"] == 2 and not (folder / "summary.json").exists()
    flag.unlink()
    Trainer.resume(folder).train()
    Trainer(options(tmp_path / "straight", **es)).train()
    assert metrics_without_timings(folder) == metrics_without_timings(tmp_path / "straight")


@pytest.mark.parametrize("where", ["STEP", "RESET"])
def test_a_worker_that_hangs_costs_one_deadline_and_not_the_result(
    where: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A worker stuck in ``step`` (or ``reset``) is replaced past its share's deadline, its share re-run."""
    import time

    flag = tmp_path / "hang-once"
    monkeypatch.setenv(f"POLICYSEARCH_TEST_HANG_{where}_ONCE", str(flag))
    es = {"algorithm": "es", "policy": "linear", "hyperparameters": {"population": 8}}
    tick = time.monotonic()
    Trainer(options(tmp_path / "straight", workers=2, **es)).train()  # no flag: no hang
    straight = time.monotonic() - tick
    tick = time.monotonic()
    Trainer(options(tmp_path / "hung", workers=2, **es), callbacks=[TouchAt(flag, 1)]).train()
    hung = time.monotonic() - tick
    assert not flag.exists(), "no worker hung"
    stalls = [json.loads(line)["worker_stalls"] for line in (tmp_path / "hung" / "metrics.jsonl").open()]
    assert stalls == [0, 1, 0, 0]
    assert metrics_without_timings(tmp_path / "straight") == metrics_without_timings(tmp_path / "hung")
    a = json.loads((tmp_path / "straight" / "summary.json").read_text())
    b = json.loads((tmp_path / "hung" / "summary.json").read_text())
    assert a["eval_mean_return"] == b["eval_mean_return"]
    # the deadline here is about 5 s (DEADLINE_SLACK plus five times a few milliseconds a session)
    assert hung - straight < 30, f"{hung:.0f} s against {straight:.0f} s: the hung worker held the run"


def test_a_hung_worker_is_named_on_the_progress_line(tmp_path: Path, monkeypatch, capsys) -> None:
    flag = tmp_path / "hang-once"
    flag.touch()  # from the first share on, before any share has finished
    monkeypatch.setenv("POLICYSEARCH_TEST_HANG_STEP_ONCE", str(flag))
    args = ["train", "es", "--env", ENV, "--policy", "linear", "--set", "population=8", "--workers", "2"]
    code, _, err = run_cli([*args, "--max-iterations", "2", "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    assert not flag.exists(), "no worker hung"
    assert "1 worker past the share deadline, replaced, shares re-run" in err
    # and which deadline, once, on one line: the env sleeps, so the worker used no CPU
    said = [line for line in err.splitlines() if "was replaced" in line]
    assert len(said) == 1 and said[0].startswith("warning: a sampling worker process was replaced")
    assert "using no CPU), which are played again elsewhere with the same seeds" in said[0]


def test_the_deadline_follows_the_other_shares_times_or_is_given() -> None:
    from policysearch.sampling.sharded import DEADLINE_FACTOR, DEADLINE_GROWTH, DEADLINE_SLACK

    sampler = ShardedSampler(InProcess(make_runner("CartPole-v1", 4)))
    assert sampler.deadline(10) is None  # nothing finished yet: no deadline
    sampler._wall.recent.extend([0.01, 0.02, 0.5])  # earlier requests' shares: more room
    assert sampler.deadline(10) == pytest.approx(
        DEADLINE_FACTOR * DEADLINE_GROWTH * 0.02 * 10 + DEADLINE_SLACK
    )
    sampler._wall.request.extend([0.3, 0.1])  # once a share of the request has finished: its own
    assert sampler.deadline(10) == pytest.approx(DEADLINE_FACTOR * 0.2 * 10 + DEADLINE_SLACK)
    assert ShardedSampler(sampler.transport, deadline=7.5).deadline(10) == 7.5
    sampler.close()


def answer(worker: int, share, seconds: float, cpu: float) -> Reply:
    """A fake worker's ``ok`` reply to ``share``: one-step sessions, with the times given."""
    n = len(share.reset_seeds)
    empty, ones = np.zeros((0, n)), np.ones(n, dtype=np.int64)
    played = Sessions(empty, empty, empty, ones, np.zeros(n, bool), np.ones(n, bool))
    return Reply(worker, "ok", played, share.request, share.index, seconds, cpu)


class Timed(Transport):
    """Workers without processes that answer a share after ``per_session`` seconds a session.

    A worker in ``hung`` never answers until it is replaced.
    """

    kind = "worker process"

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size, self.per_session, self.hung = size, 0.01, set()
        self.queues: dict[int, list] = {w: [] for w in range(size)}
        self.free_at = [0.0] * size
        self.log: list[tuple[str, int]] = []
        self.replaced_at = 0.0

    def ready(self) -> list[int]:
        return [w for w in range(self.size) if ("retire", w) not in self.log]

    def submit(self, worker: int, common, share) -> None:
        end = max(time.monotonic(), self.free_at[worker]) + self.per_session * len(share.reset_seeds)
        self.free_at[worker] = end
        self.queues[worker].append((end, share))

    def collect(self, timeout: float) -> list[Reply]:
        time.sleep(min(timeout, 0.005))
        replies = []
        for worker, queue in self.queues.items():
            while queue and queue[0][0] <= time.monotonic() and worker not in self.hung:
                _, share = queue.pop(0)
                seconds = self.per_session * len(share.reset_seeds)
                replies.append(answer(worker, share, seconds, seconds))
        return replies

    def replace(self, worker: int) -> None:
        self.log.append(("replace", worker))
        self.replaced_at = self.replaced_at or time.monotonic()  # when the first was replaced
        self.queues[worker], self.free_at[worker] = [], 0.0
        self.hung.discard(worker)

    def retire(self, worker: int) -> None:
        self.log.append(("retire", worker))
        self.queues[worker] = []

    def close(self) -> None:
        pass


class Still:
    """Always the first action (picklable by reference, for worker processes)."""

    noise_dim = 0
    noise_kind = "uniform"

    def act(self, obs, index, noise):
        return np.zeros(len(obs), dtype=np.int64)


@pytest.fixture
def short_slack(monkeypatch):
    """The deadline's slacks a hundredth of theirs, so that a fake worker's seconds are tenths."""
    from policysearch.sampling import sharded

    monkeypatch.setattr(sharded, "DEADLINE_SLACK", 0.05)
    monkeypatch.setattr(sharded, "START_SLACK", 0.3)


@pytest.fixture
def short_pause_gap(monkeypatch):
    """A round of the driver's wait counts as a pause past a fifth of a second, not 2 s."""
    from policysearch.sampling import sharded

    monkeypatch.setattr(sharded, "PAUSE_GAP", 0.2)


def warmed(transport: Transport, sessions: int = 8, **kwargs) -> ShardedSampler:
    """A sampler over ``transport`` that has played three requests (its deadlines' history)."""
    sampler = ShardedSampler(transport, **kwargs)
    for _ in range(3):
        sampler.run(Still(), np.arange(sessions))
    return sampler


def test_episodes_that_grow_between_requests_are_not_taken_for_a_hang(short_slack) -> None:
    """Ten times longer sessions than the earlier requests' (a policy that learnt to stay up)."""
    transport = Timed(2)
    sampler = warmed(transport)
    transport.per_session = 0.1
    assert sampler.run(Still(), np.arange(8)).n == 8
    assert (sampler.stalls, transport.log) == (0, [])


def test_a_hung_worker_is_given_the_deadline_of_its_requests_finished_shares(short_slack) -> None:
    transport = Timed(2)
    sampler = warmed(transport)
    transport.per_session, transport.hung = 0.1, {1}  # longer sessions, and worker 1 stops answering
    tick = time.monotonic()
    assert sampler.run(Still(), np.arange(8)).n == 8
    # worker 0's share took 0.4 s: worker 1's is played again 5 x 0.4 + 0.05 s after it began,
    # not after the 8 s that the earlier requests' times with room for growth would give
    assert time.monotonic() - tick < 4
    assert (sampler.stalls, transport.log) == (1, [("replace", 1)])


class Paused(Timed):
    """Workers and driver stopped together for ``pause`` seconds, once (Ctrl-Z, then ``fg``)."""

    pause = 0.0

    def collect(self, timeout: float) -> list[Reply]:
        if self.pause and any(self.queues.values()):
            pause, self.pause = self.pause, 0.0
            time.sleep(pause)  # the driver does not run, and the workers' shares end that much later
            self.free_at = [t + pause for t in self.free_at]
            self.queues = {w: [(end + pause, share) for end, share in q] for w, q in self.queues.items()}
        return super().collect(timeout)


def test_a_run_stopped_and_continued_does_not_take_its_workers_for_hung(short_slack, short_pause_gap) -> None:
    """A pause of the whole run (driver and workers) is not a worker past its deadline."""
    transport = Paused(2)
    sampler = warmed(transport)
    transport.per_session, transport.pause = 0.05, 1.5  # deadlines of about 0.3 s, a pause of 1.5 s
    assert sampler.run(Still(), np.arange(8)).n == 8
    assert (sampler.stalls, transport.log) == (0, [])
    transport.hung = {1}  # a worker that hangs is still found out after the pause
    assert sampler.run(Still(), np.arange(8)).n == 8
    assert (sampler.stalls, transport.log) == (1, [("replace", 1)])


class ReplyWaitingAtPause(Timed):
    """Stopped while worker 0's reply waits to be read (or a Ray actor runs on while the driver is
    stopped); worker 0 then hangs on the next share of its queue."""

    pause = 0.0
    reply_at = 0.0

    def collect(self, timeout: float) -> list[Reply]:
        time.sleep(0.005)
        now = time.monotonic()
        if self.pause and self.queues[0] and self.queues[0][0][0] <= now:
            pause, self.pause = self.pause, 0.0
            time.sleep(pause)  # the shares not finished yet were stopped too
            self.free_at = [t + pause for t in self.free_at]
            later = {w: [(e + pause if e > now else e, sh) for e, sh in q] for w, q in self.queues.items()}
            self.queues = later
            replies = super().collect(0)
            if any(r.worker == 0 for r in replies):
                self.hung.add(0)
                self.reply_at = time.monotonic()
            return replies
        return super().collect(0)


def test_a_hang_right_after_a_pause_costs_one_deadline_not_the_pause(short_slack, short_pause_gap) -> None:
    transport = ReplyWaitingAtPause(2)
    sampler = warmed(transport, 16, shares_per_worker=2)
    transport.per_session, transport.pause = 0.05, 3.0
    assert sampler.run(Still(), np.arange(16)).n == 16
    assert transport.reply_at and transport.replaced_at - transport.reply_at < sampler.deadline(4) + 1.0


class BusyDriver(Timed):
    """Reading worker 0's first reply keeps the driver busy ``busy`` seconds of CPU, once.

    ``stolen``: the wall seconds that work took beyond its CPU seconds (a busy machine's share:
    indistinguishable, for the driver, from a pause).
    """

    busy = 0.0
    stolen = 0.0

    def collect(self, timeout: float) -> list[Reply]:
        replies = super().collect(timeout)
        if self.busy and any(r.worker == 0 for r in replies):
            tick, end, self.busy = time.monotonic(), time.process_time() + self.busy, 0.0
            cpu = time.process_time()
            while time.process_time() < end:
                pass
            self.stolen = (time.monotonic() - tick) - (time.process_time() - cpu)
        return replies


def test_a_driver_busy_reading_replies_is_not_a_pause(short_slack, short_pause_gap) -> None:
    """The driver's own work does not stop the deadlines: a hang is still found in its time."""
    transport = BusyDriver(2)
    sampler = warmed(transport)
    # shares of 4 sessions of 0.2 s: a deadline of about 4 s; 3 s of the driver's work inside it
    transport.per_session, transport.busy, transport.hung = 0.2, 3.0, {1}
    tick = time.monotonic()
    assert sampler.run(Still(), np.arange(8)).n == 8
    # not 2.5 s later (on a busy machine, what the driver did not get of its 3 s is a pause)
    assert transport.replaced_at - tick < sampler.deadline(4) + 1.0 + transport.stolen


class StartingDuringPause(Timed):
    """One worker, still starting when the run is stopped for 1.5 s; ready one round after."""

    patience = 1.0

    def __init__(self) -> None:
        super().__init__(1)
        self.rounds_after: int | None = None

    def ready(self) -> list[int]:
        return [0] if self.rounds_after is not None and self.rounds_after >= 1 else []

    def starting(self) -> bool:
        return True

    def collect(self, timeout: float) -> list[Reply]:
        if self.rounds_after is None:
            time.sleep(1.5)
            self.rounds_after = 0
            return []
        self.rounds_after += 1
        return super().collect(timeout)


def test_a_pause_while_a_worker_starts_is_not_taken_for_its_patience_running_out(short_pause_gap) -> None:
    assert ShardedSampler(StartingDuringPause()).run(Still(), np.arange(4)).n == 4


class Clocked(Transport):
    """Fake workers with CPU clocks the driver reads, on a machine that may be busy.

    A share needs ``cpu_per_session`` CPU seconds a session, which a worker gets at ``speed``
    CPUs (a busy machine: below 1). A worker in ``hung`` waits in a call (its clock stops); one
    in ``spinning`` loops at a whole CPU and never finishes; one in ``polling`` (worker: CPUs)
    loops at that rate and never finishes. ``clock=False``: the CPU clocks cannot be read (as
    with Ray actors on other nodes), and the deadlines are on the wall clock. A run that lasts
    past ``give_up`` (monotonic seconds) fails rather than hangs the test.
    """

    kind = "worker process"

    def __init__(self, size: int, clock: bool = True) -> None:
        super().__init__()
        self.size, self.clock = size, clock
        self.cpu_per_session, self.speed = 0.01, 1.0
        self.hung: set[int] = set()
        self.spinning: set[int] = set()
        self.polling: dict[int, float] = {}
        self.give_up = float("inf")
        self.queues: dict[int, list] = {w: [] for w in range(size)}
        self.cpu = [0.0] * size  # each worker's CPU seconds
        self.progress = [0.0] * size  # CPU seconds put into the first share of its queue
        self.at = [time.monotonic()] * size
        self.log: list[tuple[str, int]] = []
        self.replaced_at = 0.0

    def _advance(self, worker: int) -> None:
        now = time.monotonic()
        elapsed, self.at[worker] = now - self.at[worker], now
        if worker in self.spinning:
            self.cpu[worker] += elapsed
        elif worker in self.polling:
            self.cpu[worker] += elapsed * self.polling[worker]
        elif worker not in self.hung and self.queues[worker]:
            self.cpu[worker] += elapsed * self.speed
            self.progress[worker] += elapsed * self.speed

    def cpu_seconds(self, worker: int) -> float | None:
        self._advance(worker)
        return self.cpu[worker] if self.clock else None

    def ready(self) -> list[int]:
        return [w for w in range(self.size) if ("retire", w) not in self.log]

    def submit(self, worker: int, common, share) -> None:
        self._advance(worker)
        self.queues[worker].append(share)

    def collect(self, timeout: float) -> list[Reply]:
        assert time.monotonic() < self.give_up, "no stuck worker was found in time"
        time.sleep(min(timeout, 0.005))
        replies = []
        for worker, queue in self.queues.items():
            self._advance(worker)
            while queue and self.progress[worker] >= self.cpu_per_session * len(queue[0].reset_seeds):
                share = queue.pop(0)
                need = self.cpu_per_session * len(share.reset_seeds)
                self.progress[worker] -= need
                replies.append(answer(worker, share, need / self.speed, need))
        return replies

    def replace(self, worker: int) -> None:
        self.log.append(("replace", worker))
        self.replaced_at = self.replaced_at or time.monotonic()
        self.queues[worker], self.progress[worker], self.cpu[worker] = [], 0.0, 0.0
        self.hung.discard(worker)
        self.spinning.discard(worker)
        self.polling.pop(worker, None)

    def retire(self, worker: int) -> None:
        self.log.append(("retire", worker))
        self.queues[worker] = []

    def close(self) -> None:
        pass


def test_a_stalled_worker_is_named_replaced_or_given_up_with_its_deadline(monkeypatch) -> None:
    """The warning says which deadline, and what became of the worker: replaced, or given up
    when it was a replacement that had not finished a share yet."""
    from collections import deque

    from policysearch.sampling.sharded import Share, Watch

    transport = Timed(2)
    sampler = ShardedSampler(transport)
    monkeypatch.setattr(sampler, "_overran", lambda *args: "5.0 s, using no CPU")
    shares = [Share(0, k, 4 * k, np.arange(4 * k, 4 * k + 4), None, None, "returns") for k in range(2)]
    said = []
    for fate in ("was replaced", "was given up"):  # the replacement of worker 1 stalls too
        pending: deque[int] = deque()
        with pytest.warns(WorkerStallWarning) as caught:
            sampler._replace_overrun(shares, {1: [1]}, {1: Watch(0.0, None, deque())}, pending, {})
        said.append(str(caught[0].message))
        assert fate in said[-1] and list(pending) == [1]
    assert said[0] == (
        "a sampling worker process was replaced: it ran past the deadline of sessions 4-7 (5.0 s, "
        "using no CPU), which are played again elsewhere with the same seeds"
    )
    assert said[1].startswith(
        "a sampling worker process was given up (a replacement that had not finished a share yet)"
    )
    assert transport.log == [("replace", 1), ("retire", 1)] and sampler.stalls == 2


def test_a_busy_machine_that_slows_every_worker_does_not_stop_the_run(short_slack) -> None:
    """Fifty times slower than the shares before (2% of a CPU each): their deadline on the wall
    clock, 20 times theirs, would take both workers for hung, then their replacements."""
    transport = Clocked(2)
    sampler = warmed(transport)
    transport.speed = 0.02  # shares of 4 sessions: 2 s instead of 0.04 s, deadlines of 0.85 s
    tick = time.monotonic()
    assert sampler.run(Still(), np.arange(8)).n == 8
    assert time.monotonic() - tick > 1.5  # it did take that long
    assert (sampler.stalls, transport.log) == (0, [])

    # where the CPU clocks cannot be read (Ray actors), the deadline is the wall clock's
    walled = Clocked(2, clock=False)
    sampler = warmed(walled)
    walled.speed = 0.02
    with pytest.raises(EnvError, match=r"ran past their deadline \([0-9.]+ s\) on 2 worker processes"):
        sampler.run(Still(), np.arange(8))


@pytest.mark.parametrize("how", ["hung", "spinning"])
def test_a_stuck_worker_is_found_on_its_cpu_clock_within_a_deadline(how: str, short_slack) -> None:
    """A worker that waits forever (no CPU) or loops forever (past the CPU seconds its share
    needs) is replaced, on a busy machine too, while its neighbour's slow share goes on."""
    transport = Clocked(2)
    sampler = warmed(transport)
    transport.speed = 0.1  # 0.4 s a share, now and after the stuck worker is replaced
    getattr(transport, how).add(1)
    tick = time.monotonic()
    transport.give_up = tick + 30
    assert sampler.run(Still(), np.arange(8)).n == 8
    # a deadline: the request's pace, 0.1 s a session on the wall clock (2.05 s for a hung
    # worker), 0.01 CPU seconds on the CPU clock (0.25 s for a spinning one)
    found = {"hung": sampler.deadline(4), "spinning": sampler.deadline(4, "cpu")}[how]
    # within a second of it (a busy machine's driver may wait that long for a CPU), and for the
    # spinning one well before its wall-clock deadline (2.05 s): found by its CPU clock
    assert found is not None and transport.replaced_at - tick < found + 1.0
    assert (sampler.stalls, transport.log) == (1, [("replace", 1)])


def test_a_stuck_worker_that_keeps_polling_is_found_at_ten_deadlines(short_slack) -> None:
    """5% of a CPU, forever: not idle, and its CPU deadline would take twenty wall deadlines."""
    from policysearch.sampling.sharded import CPU_CLOCK_WALL_CAP

    transport = Clocked(2)
    sampler = warmed(transport)
    transport.polling = {1: 0.05}
    tick = time.monotonic()
    transport.give_up = tick + 30
    assert sampler.run(Still(), np.arange(8)).n == 8
    cap = CPU_CLOCK_WALL_CAP * sampler.deadline(4)  # 2.5 s: worker 0's share took 0.04 s
    assert cap <= transport.replaced_at - tick < cap + 1.5  # its CPU deadline: 20 wall deadlines
    assert (sampler.stalls, transport.log) == (1, [("replace", 1)])


def run_seconds(pid: int) -> float | None:
    """Seconds on a CPU of the main thread of process ``pid``, to the nanosecond
    (``/proc/PID/schedstat``); None where it cannot be read, or reads 0 (a kernel without
    scheduler statistics)."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[0]) / 1e9 or None
    except (OSError, ValueError, IndexError):
        return None


class Starver:
    """Holds the processes ``pids()`` names to ``duty`` of a CPU each: a machine so busy that each
    gets that fraction. Each main thread is stopped (SIGSTOP) while it has used more than its
    allowance, and continued when it has used less, checked every millisecond: the allowance
    grows by ``duty`` of each second and is kept within ``duty`` of ``longest`` seconds either
    way, so that no stop lasts much over ``longest`` seconds (nor any run at full speed).
    Replacements are starved too. :attr:`longest_stop` says the longest stop there was.

    Stopping for a fixed part of every tenth of a second instead starved them far more on a
    machine busy with other work (a process continued for 5 ms is not always given a CPU in those
    5 ms): the workers got under a hundredth of a CPU, which the sampler rightly takes for hung.
    An allowance without bounds, counted from when each was first seen, left a worker stopped
    for a second or more whenever this thread came late to stop it (20 ms late at 2% of a CPU
    is a second's debt): on a busy CI machine, a whole deadline with no CPU.
    """

    def __init__(self, pids: Callable[[], list[int | None]], duty: float, longest: float) -> None:
        import threading

        self.pids, self.duty, self.longest = pids, duty, longest
        self.longest_stop = 0.0
        self.stop = threading.Event()
        self.failed: BaseException | None = None
        self.thread = threading.Thread(target=self._cycle, daemon=True)
        self.thread.start()

    def _cycle(self) -> None:
        bound = self.duty * self.longest
        # pid: (its allowance left, in CPU seconds; when it was read; its run seconds then)
        seen: dict[int, tuple[float, float, float]] = {}
        stopped: dict[int, float] = {}  # pid: when it was stopped
        try:
            while not self.stop.wait(0.001):
                now, pids = time.monotonic(), {pid for pid in self.pids() if pid is not None}
                for pid in set(stopped) - pids:  # a worker replaced: never left stopped
                    self._continue(pid, now, stopped)
                for pid in pids:
                    ran = run_seconds(pid)
                    if ran is None:
                        continue
                    left, then, ran_then = seen.get(pid, (0.0, now, ran))
                    left = min(max(left + self.duty * (now - then) - (ran - ran_then), -bound), bound)
                    seen[pid] = (left, now, ran)
                    if left < 0 and pid not in stopped:
                        self._send(pid, signal.SIGSTOP)
                        stopped[pid] = now
                    elif left >= 0 and pid in stopped:
                        self._continue(pid, now, stopped)
        except BaseException as exc:  # said by end(), after every worker is continued
            self.failed = exc
        finally:
            for pid in list(stopped):
                self._continue(pid, time.monotonic(), stopped)

    def _continue(self, pid: int, now: float, stopped: dict[int, float]) -> None:
        self._send(pid, signal.SIGCONT)
        self.longest_stop = max(self.longest_stop, now - stopped.pop(pid))

    @staticmethod
    def _send(pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except OSError:  # gone (or not ours): never keeps the others from being continued
            pass

    def end(self) -> None:
        """Stop starving; raise what stopped the thread early, if anything did."""
        self.stop.set()
        self.thread.join()
        if self.failed is not None:
            raise self.failed


NO_PROC = "no /proc here: the deadlines stay on the wall clock"


def starved_request(
    transport: Transport, pids: Callable[[], list[int | None]], actor, monkeypatch
) -> tuple[float, float]:
    """Three requests of 16 sessions on ``transport``, then one with its workers (``pids``)
    given a twentieth of the CPU they had in the last request before (:class:`Starver`; at least
    2% of a CPU, over the 1% that counts as hung; no stop longer than a quarter of a share's
    deadline), 8 to 20 times slower: asserts that it is played without a stall (else says which
    deadline was overrun), and gives the wall-clock deadline of a share before it and the
    seconds it took.

    The deadlines are five times the earlier shares' times (no slack, no growth), so that on the
    wall clock the starved shares overrun. Where the machine gives the workers so little that
    they cannot be slowed eightfold above 2% of a CPU, up to nine more requests are played for it
    to calm down, then the test is skipped (which fails a Ray test under ``CI=true``, not the
    worker processes' one). The transport is closed after.
    """
    from policysearch.sampling import sharded

    monkeypatch.setattr(sharded, "DEADLINE_SLACK", 0.05)
    monkeypatch.setattr(sharded, "DEADLINE_GROWTH", 1.0)
    sampler = ShardedSampler(transport)
    try:
        if run_seconds(os.getpid()) is None:
            pytest.skip("no /proc/PID/schedstat here: the workers' CPU cannot be held to a fraction")
        for _ in range(2):
            sampler.run(actor, np.arange(16))
        for _ in range(10):  # a request more, until the machine gives the workers enough
            sampler.run(actor, np.arange(16))
            normal, normal_cpu = sampler.deadline(8), sampler.deadline(8, "cpu")  # its shares'
            assert normal is not None and normal_cpu is not None
            had = (normal_cpu - sharded.DEADLINE_SLACK) / (normal - sharded.DEADLINE_SLACK)
            duty = max(had / 20, 0.02)
            if had / duty >= 8:
                break
        else:
            pytest.skip(f"the machine is too busy: the workers had {had:.0%} of a CPU")
        starver = Starver(pids, duty, normal / 4)  # never a whole deadline without CPU
        try:
            with warnings.catch_warnings(record=True) as stalled:  # which deadline, if any
                warnings.simplefilter("always", WorkerStallWarning)
                tick = time.monotonic()
                slow = sampler.run(actor, np.arange(16))
                took = time.monotonic() - tick
        finally:
            starver.end()
    finally:
        sampler.close()
    overran = [str(w.message) for w in stalled if issubclass(w.category, WorkerStallWarning)]
    print(
        f"had {had:.0%} of a CPU, held to {duty:.1%}; deadline {normal:.2f} s, took {took:.2f} s; "
        f"longest stop {starver.longest_stop:.2f} s"
    )
    assert slow.n == 16 and sampler.stalls == 0, f"past {overran}; longest stop {starver.longest_stop:.2f} s"
    return normal, took


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason=NO_PROC)
def test_worker_processes_on_a_busy_machine_are_not_taken_for_hung(monkeypatch) -> None:
    """Real processes given a twentieth of the CPU they had (at least 2% of a CPU), 8 to 20 times
    slower than the requests before, finish without a stall: on the wall clock their shares
    overran (deadlines of five times the earlier shares' times), which replaced both workers
    when the deadlines were in wall time."""
    transport = ProcessTransport(RunnerFactory("Acrobot-v1", 1), 2)
    # Still never swings up: 16 episodes of 500 steps a request
    normal, took = starved_request(transport, transport.pids, Still(), monkeypatch)
    assert took > normal  # past the wall clock's deadline, not stopped


def test_a_worker_process_cpu_clock_is_read_from_proc() -> None:
    from policysearch.sampling.pool import main_thread_cpu_seconds

    if main_thread_cpu_seconds(os.getpid()) is None:
        pytest.skip(NO_PROC)
    mine = main_thread_cpu_seconds(os.getpid())  # the test runs in the main thread
    assert mine is not None and abs(mine - time.thread_time()) < 0.05  # in 10 ms ticks

    def spin() -> None:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass

    import threading

    other = threading.Thread(target=spin)
    other.start()
    other.join()
    after_spin = main_thread_cpu_seconds(os.getpid())
    assert after_spin is not None and after_spin - mine < 0.15  # another thread's CPU is not counted

    transport = ProcessTransport(RunnerFactory("Acrobot-v1", 1), 1)
    sampler = ShardedSampler(transport)
    try:
        sampler.run(Still(), np.arange(2))  # the worker's start: imports, envs
        before = transport.cpu_seconds(0)
        sampler.run(Still(), np.arange(40))  # 40 episodes of 500 steps
        after = transport.cpu_seconds(0)
        assert before is not None and after is not None
        # what the driver reads is what the worker timed its share to take (in 10 ms ticks)
        played = sampler._cpu.request[0] * 40
        assert played > 0.05 and played - 0.03 < after - before < played + 0.1
        pid = transport.pids()[0]
    finally:
        sampler.close()
    assert transport.cpu_seconds(0) is None and pid is not None and main_thread_cpu_seconds(pid) is None


def _cannot_rebuild() -> None:
    raise ValueError("cannot rebuild this actor here")


class Unloadable(Still):
    """An actor that pickles but cannot be unpickled where it runs."""

    def __reduce__(self):
        return (_cannot_rebuild, ())


class Poisoned(Timed):
    """A share (``poisoned``: request, index) that hangs on whichever worker plays it."""

    poisoned = (-1, -1)

    def collect(self, timeout: float) -> list[Reply]:
        for worker, queue in self.queues.items():
            if queue and (queue[0][1].request, queue[0][1].index) == self.poisoned:
                self.hung.add(worker)
        return super().collect(timeout)


def test_a_share_that_hangs_on_every_worker_is_the_envs_fault_not_the_workers(short_slack) -> None:
    """Two overruns of one share name its seeds, instead of every worker replaced and given up in turn."""
    transport = Poisoned(4)
    sampler = ShardedSampler(transport)
    sampler.run(Still(), np.arange(16))
    transport.poisoned = (2, 1)  # the next request's second share: sessions 4-7
    seeds = np.arange(100, 116)
    with pytest.raises(
        EnvError, match=r"sessions 4-7 of the request \(reset seeds 104...107\).* on 2 worker processes"
    ):
        sampler.run(Still(), seeds)
    assert sampler.stalls == 1 and transport.ready() == [0, 1, 2, 3]  # one replaced, none given up


def test_a_share_of_one_session_is_named_in_the_singular(short_slack) -> None:
    """ "session 1 (reset seed 101)", not "sessions 1-1 (reset seeds 101...101)"."""
    transport = Poisoned(4)
    sampler = ShardedSampler(transport)
    sampler.run(Still(), np.arange(4))
    transport.poisoned = (2, 1)  # the next request's second share: session 1 alone
    with (
        pytest.warns(WorkerStallWarning, match=r"deadline of session 1 \(.*\), which is played again"),
        pytest.raises(EnvError) as caught,
    ):
        sampler.run(Still(), np.arange(100, 104))
    assert str(caught.value).startswith(
        "session 1 of the request (reset seed 101) ran past its deadline ("
    ), caught.value
    assert "the env hangs in that episode, or it lasts far longer than" in str(caught.value)


def test_a_policy_that_cannot_be_rebuilt_in_a_worker_is_an_error_not_a_lost_worker() -> None:
    sampler = ShardedSampler(ProcessTransport(RunnerFactory("CartPole-v1", 1), 1))
    try:
        with pytest.raises(
            RuntimeError, match="cannot rebuild the request's policy here: ValueError: cannot rebuild"
        ):
            sampler.run(Unloadable(), np.arange(2))
        assert sampler.restarts == 0
    finally:
        sampler.close()


def test_a_worker_that_died_while_idle_is_replaced_once(tmp_path: Path) -> None:
    """Its two shares of the next request find its pipe closed: one loss, one replacement."""
    transport = ProcessTransport(RunnerFactory("CartPole-v1", 1), 1)
    sampler = ShardedSampler(transport, shares_per_worker=2)
    try:
        first = sampler.run(Still(), np.arange(4))
        os.kill(transport.procs[0].pid, signal.SIGKILL)
        transport.procs[0].join(timeout=10)
        again = sampler.run(Still(), np.arange(4))
        assert sampler.restarts == 1 and transport.pids()[0] is not None
        np.testing.assert_array_equal(again.returns, first.returns)
    finally:
        sampler.close()


def test_lost_workers_exit_2_on_the_command_line(tmp_path: Path, monkeypatch, capsys) -> None:
    flag = tmp_path / "kill-always"
    flag.touch()
    monkeypatch.setenv("POLICYSEARCH_TEST_KILL_ALWAYS", str(flag))
    args = ["train", "cem", "--env", ENV, "--workers", "2", "--max-iterations", "2", "--out", tmp_path / "r"]
    code, _, err = run_cli([*args, "--quiet"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "gone" in err, err
    # no iteration ended: nothing to resume, and the line does not offer it
    assert "the run had no checkpoint yet" in err and "--resume" not in err, err


def test_a_worker_that_segfaults_is_restarted_by_the_command_line(tmp_path: Path) -> None:
    """A real SIGSEGV in a worker costs only time: exit 0, no traceback, the same metrics."""
    import os
    import subprocess
    import sys

    flag = tmp_path / "segfault-once"
    flag.touch()
    env = dict(os.environ, POLICYSEARCH_TEST_SEGFAULT_ONCE=str(flag))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    env.pop("PYTHONFAULTHANDLER", None)
    args = ["train", "cem", "--env", ENV, "--policy", "mlp", "--seed", "4", "--set", "n_sessions=24"]
    args += ["--set", "hidden=[8]", "--max-iterations", "3", "--quiet"]
    run = [sys.executable, "-m", "policysearch", *args]
    killed = subprocess.run(
        [*run, "--workers", "2", "--out", str(tmp_path / "killed")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 0, killed.stderr
    assert not flag.exists(), "no worker stepped"
    lines = killed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("no target given") and "Traceback" not in killed.stderr
    assert restarts(tmp_path / "killed") == [1, 0, 0]
    straight = subprocess.run(
        [*run, "--out", str(tmp_path / "one")], env=env, capture_output=True, text=True, timeout=300
    )
    assert straight.returncode == 0, straight.stderr
    assert metrics_without_timings(tmp_path / "one") == metrics_without_timings(tmp_path / "killed")


class SlowToBuild(RunnerFactory):
    """A worker whose envs take a minute to make (an env that hangs as it is made)."""

    def __call__(self):
        time.sleep(60)
        return super().__call__()


def test_sending_a_large_common_part_does_not_wait_for_the_workers_envs() -> None:
    """The driver's send returns once the worker reads it: before its envs are made, not after."""
    from policysearch.sampling.sharded import Share

    transport = ProcessTransport(SlowToBuild("CartPole-v1", 1), 1)
    try:
        share = Share(1, 0, 0, np.arange(2), None, None, "returns")
        tick = time.monotonic()
        transport.submit(0, np.zeros(2_000_000), share)  # 16 MB, far more than a pipe holds
        assert time.monotonic() - tick < 30  # the worker's start (imports), not its minute of envs
        assert transport.common_bytes > 16_000_000
    finally:
        transport.close()


def test_the_transports_give_the_same_sessions_and_count_their_bytes() -> None:
    from policysearch.envs import make_env
    from policysearch.policies.numpy_policy import NumpyActor
    from policysearch.policies.spec import make_spec
    from policysearch.policies.torch_policy import TorchPolicy

    env = make_env("Acrobot-v1")
    spec = make_spec(env.observation_space, env.action_space, "mlp", (8,), "tanh", "parameter")
    actor = NumpyActor(spec, TorchPolicy(spec).numpy_params())
    local = ShardedSampler(InProcess(make_runner("Acrobot-v1", 4)))
    pool = ShardedSampler(ProcessTransport(RunnerFactory("Acrobot-v1", 3), 2), shares_per_worker=3)
    try:
        a = local.sample(actor, 13, np.random.default_rng(7), common=2)
        b = pool.sample(actor, 13, np.random.default_rng(7), common=2)
        for field in ("observations", "actions", "rewards", "lengths", "terminated", "returns"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        t = pool.transport
        assert t.common_bytes > 0 and t.share_bytes > 0 and t.reply_bytes > t.share_bytes
    finally:
        local.close()
        pool.close()


class BrokenClose:
    def close(self) -> None:
        raise EnvError("environment 'x' raised in close: RuntimeError: broken")


def test_an_error_is_not_hidden_by_a_close_that_fails_after_it() -> None:
    with pytest.raises(KeyError, match="the first error"), closed_after(BrokenClose()):
        raise KeyError("the first error")
    with pytest.raises(EnvError, match="raised in close"), closed_after(BrokenClose()):
        pass


def test_a_ray_reply_keeps_the_seconds_its_share_took() -> None:
    """The deadline is derived from the workers' own play time: Ray's replies must carry it (no Ray here)."""
    import pickle

    from policysearch.sampling.raycluster import RayTransport
    from policysearch.sampling.sharded import Transport

    class Ref:
        def __init__(self, reply: Reply) -> None:
            self.data = pickle.dumps(reply)

    class FakeRay:
        class exceptions:  # ray's own name
            RayError = RuntimeError

        def wait(self, refs: list, num_returns: int = 1, timeout: float | None = None) -> tuple[list, list]:
            return list(refs)[:num_returns], list(refs)[num_returns:]

        def get(self, ref: Ref) -> bytes:
            return ref.data

    transport = RayTransport.__new__(RayTransport)  # no cluster: collect() reads replies only
    Transport.__init__(transport)
    transport.ray, transport.nodes, transport._starting, transport._lost = FakeRay(), [None, None], {}, []
    sent = Reply(7, "ok", "sessions", request=3, index=1, seconds=1.25)  # as the actor numbers itself
    transport._tasks = {Ref(sent): 1}
    assert transport.collect(0.1) == [Reply(1, "ok", "sessions", request=3, index=1, seconds=1.25)]


def test_connecting_to_ray_keeps_the_command_lines_signal_handlers(monkeypatch) -> None:
    """ray.init makes SIGTERM sys.exit(15): a SIGTERM must stay Interrupted (exit 143, the resume hint)."""
    import signal as signals
    import sys
    import types

    from policysearch.run import interrupts
    from policysearch.sampling.raycluster import RayTransport

    fake = types.ModuleType("ray")
    fake.is_initialized = lambda: False  # type: ignore[attr-defined]
    fake.init = lambda **kw: signals.signal(signals.SIGTERM, lambda s, f: sys.exit(s))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # _connect sets Ray's variables: not for later tests
    transport = RayTransport.__new__(RayTransport)  # no cluster: only the connection
    transport.address, transport._temp, transport.factory = (
        "auto",
        None,
        types.SimpleNamespace(env_id="CartPole-v1"),
    )
    restore = interrupts.install()
    try:
        assert transport._connect() is fake
        assert signals.getsignal(signals.SIGTERM) is interrupts._handler
    finally:
        restore()


def test_a_worker_out_of_memory_is_out_of_memory_for_the_driver() -> None:
    """As in one process (the command line's exit 2, 'out of memory'), not an internal error."""
    from policysearch.sampling.sharded import Share, serve

    class Greedy:
        def run(self, *args, **kwargs):
            raise MemoryError("Unable to allocate 64.0 GiB")

    share = Share(1, 0, 0, np.arange(2), None, None, "returns")
    reply = serve(Greedy(), Still(), share, worker=0)
    assert (reply.status, reply.payload) == ("memory-error", "Unable to allocate 64.0 GiB")

    class Answers(Timed):
        def collect(self, timeout: float) -> list[Reply]:
            return [
                dataclasses.replace(r, status="memory-error", payload="Unable")
                for r in super().collect(timeout)
            ]

    with pytest.raises(MemoryError, match="in a sampling worker process: Unable"):
        ShardedSampler(Answers(2)).run(Still(), np.arange(4))


def test_running_out_of_memory_in_an_iteration_names_it_and_what_to_ask_for(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Where the estimate let a batch pass and the process still ran out: one line naming the
    iteration and, for CEM's fit over actions, the search over the weights, as the refusal up
    front offers it; the last iteration's checkpoint is kept. It said "out of memory (...); ask
    for less (fewer sessions or episodes)", with no iteration and no other way."""
    from policysearch.algorithms.cem import CEM

    calls: list[int] = []
    tell = CEM._tell

    def out_of_memory_at_the_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("Unable to allocate 3.00 GiB for an array")
        return tell(self, *args, **kwargs)

    monkeypatch.setattr(CEM, "_tell", out_of_memory_at_the_second)
    out = tmp_path / "r"
    args = ["train", "cem", "--env", "CartPole-v1", "--set", "search=actions", "--max-iterations", "5"]
    code, _, err = run_cli([*args, "--out", out], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(
        "error: iteration 2: out of memory (Unable to allocate 3.00 GiB for an array); ask for fewer "
        "sessions or episodes, or for a search over the weights, which keeps no steps (--set search=weights"
    ), err
    assert load_checkpoint(out)[0]["iteration"] == 1
    calls.clear()
    code, _, err = run_cli(
        [*args[:-3], "search=weights", "--max-iterations", "5", "--out", out, "--force"], capsys
    )
    assert code == 2 and "; ask for fewer sessions or episodes\n" in err, err  # over weights: nothing lighter


def test_interrupted_as_a_local_ray_instance_starts_leaves_no_temp_dir(monkeypatch) -> None:
    import sys
    import tempfile
    import types

    from policysearch.errors import Interrupted
    from policysearch.sampling.raycluster import RayTransport

    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: made.append(real_mkdtemp(**kw)) or made[-1])

    def init(**kw):
        raise Interrupted(signal.SIGINT)  # Ctrl-C during the seconds ray.init takes

    fake = types.ModuleType("ray")
    fake.is_initialized = lambda: False  # type: ignore[attr-defined]
    fake.init = init  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # _connect sets Ray's variables: not for later tests
    transport = RayTransport.__new__(RayTransport)  # no cluster: only the connection
    transport.address, transport._temp, transport.factory = (
        None,
        None,
        types.SimpleNamespace(env_id="CartPole-v1"),
    )
    with pytest.raises(Interrupted):
        transport._connect()
    assert len(made) == 1 and not os.path.exists(made[0])
