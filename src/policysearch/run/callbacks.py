"""Callbacks that watch training: the progress bar, and the protocol user callbacks follow."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import ConfigError

#: Seconds of work without a progress line after which :class:`Heartbeat` says what runs.
QUIET_SECONDS = 30.0

_last_heard = [time.monotonic()]  # when the user last saw progress (a line, the bar moving)
_saying = threading.Lock()  # a line from the heartbeat's thread never merges with another


def heard() -> None:
    """Note that the user saw progress now: the heartbeat waits another :data:`QUIET_SECONDS`."""
    _last_heard[0] = time.monotonic()


def say(line: str) -> None:
    """Print a progress line on stderr (every progress line goes through here), in one write."""
    with _saying:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    heard()


def running_line(what: str, since: float, *details: str) -> str:
    """The heartbeat's line for work ``what`` begun at ``since`` (``time.monotonic()``).

    >>> running_line("cem Taxi-v4: iteration 3", time.monotonic() - 75, "", "5 of 9 sessions done")
    'cem Taxi-v4: iteration 3 running for 1 min 15 s (5 of 9 sessions done)'

    """
    line = f"{what} running for {duration(time.monotonic() - since)}"
    said = [detail for detail in details if detail]
    return f"{line} ({', '.join(said)})" if said else line


def duration(seconds: float) -> str:
    """Seconds as a reader counts them.

    >>> duration(42.3), duration(185), duration(3725)
    ('42 s', '3 min 05 s', '1 h 02 min')

    """
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Callback(Protocol):
    """Receives named values from the trainer (never its internals)."""

    def on_iteration(self, iteration: int, metrics: dict[str, Any]) -> None:
        """Called after every iteration with that iteration's metrics record."""

    def on_end(self, summary: dict[str, Any]) -> None:
        """Called once with summary.json's content."""


def checked_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` as a list, each with the methods of :class:`Callback`.

    Raises:
        ConfigError: for something that is not a list of watchers, or a watcher without
            ``on_iteration`` or ``on_end`` (caught before training, not at its end).
    """
    if isinstance(callbacks, str | bytes) or not isinstance(callbacks, Iterable):
        raise ConfigError(f"callbacks must be a list of watchers, not {callbacks!r}")
    out = list(callbacks)
    for callback in out:
        missing = [name for name in ("on_iteration", "on_end") if not callable(getattr(callback, name, None))]
        if missing:
            raise ConfigError(
                f"the callback {callback!r} has no {' and no '.join(missing)} method (a watcher has "
                "on_iteration(iteration, metrics) and on_end(summary))"
            )
    return out


class ProgressBar:
    """Progress on stderr: iteration, env steps, mean and best return, elite threshold, steps/s.

    On a terminal, a rich progress bar. Otherwise (a log file, CI, ``nohup``) plain lines, never
    cut: one every ``every`` seconds, and the last iteration's at the end.

    Args:
        total: iterations planned, if known.
        description: the label (algorithm and env).
        start: iterations already done (on resume).
        every: seconds between plain lines.
    """

    def __init__(self, total: int | None, description: str, start: int = 0, every: float = 5.0) -> None:
        self.total, self.description = total, description
        self.progress: Progress | None = None
        self.ticker = Ticker(every)
        self.printed = True  # nothing to repeat at the end
        if not sys.stderr.isatty():
            return
        console = Console(file=sys.stderr)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("it {task.completed:.0f}/{task.fields[total_text]}"),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(
            description,
            total=total,
            completed=start,
            total_text=str(total) if total else "?",
            stats="",
        )
        self.progress.start()

    def on_iteration(self, iteration: int, metrics: dict[str, Any]) -> None:
        """Advance the bar (or print a line when one is due) with the iteration's numbers."""
        parts = [f"mean {metrics['mean_return']:.3g}", f"best {metrics['max_return']:.3g}"]
        if "elite_threshold" in metrics:
            parts.append(f"elite≥{metrics['elite_threshold']:.3g}")
        parts.append(f"{metrics.get('steps_per_s', 0):,.0f} steps/s")
        stalled = metrics.get("worker_stalls", 0)
        lost = metrics.get("worker_restarts", 0) - stalled
        if stalled:
            parts.append(
                f"{stalled} worker{'s' if stalled > 1 else ''} past the share deadline, replaced, "
                f"shares re-run"
            )
        if lost:
            parts.append(f"{lost} worker{'s' if lost > 1 else ''} lost, shares re-run")
        if self.progress is not None:
            self.progress.update(self.task, completed=iteration, stats="  ".join(parts))
            heard()
            return
        of = f"/{self.total}" if self.total else ""
        self._line = (
            f"{self.description}: iteration {iteration}{of}, {metrics.get('env_steps', 0):,} env "
            f"steps, {', '.join(parts)}"
        )
        self.printed = self.ticker.due() or bool(metrics.get("worker_restarts"))
        if self.printed:
            say(self._line)

    def on_end(self, summary: dict[str, Any]) -> None:
        """Stop drawing (off a terminal: the last iteration's line, if it was not printed)."""
        if self.progress is not None:
            self.progress.stop()
        elif not self.printed:
            say(self._line)


class Ticker:
    """Says when a progress line is due: at most one every ``every`` seconds (the first after one).

    Args:
        every: seconds between lines.
    """

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.start = self.last = time.monotonic()

    def due(self) -> bool:
        """True if a line is due now (and counts it as printed)."""
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        self.last = now
        return True

    @property
    def elapsed(self) -> float:
        """Seconds since the ticker was made."""
        return time.monotonic() - self.start


class EvaluationProgress:
    """A line on stderr every few seconds while a long evaluation runs (``evaluate``, the trainer's).

    Args:
        episodes: the episodes planned.
        label: what is evaluated, if anything is to be named before the numbers.
        every: seconds between lines.
    """

    def __init__(self, episodes: int, label: str = "", every: float = 5.0) -> None:
        self.episodes, self.label = episodes, label
        self.ticker = Ticker(every)

    def update(self, episodes: int, mean: float) -> None:
        """Print a line if one is due and the evaluation is not done (``episodes`` played so far)."""
        if episodes < self.episodes and self.ticker.due():
            rate = episodes / max(self.ticker.elapsed, 1e-9)
            per_second = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"  # a slow env's 0.41
            say(
                f"{self.label}evaluated {episodes:,} of {self.episodes:,} episodes: mean {mean:.4g} "
                f"({per_second} episodes/s)"
            )


class Heartbeat:
    """Says what long work is doing when nothing else has been printed for a while.

    Training and evaluation print a line per iteration or per part; on a slow env (an Atari
    game, CarRacing's pixels) one iteration can take minutes. While the heartbeat runs (a
    ``with`` block), a thread prints ``status()`` whenever no progress line has been printed
    (:func:`say`) and the progress bar has not moved for ``quiet`` seconds.

    Args:
        status: the line to print, called from the heartbeat's thread (it reads, never changes,
            the state of the work); None or empty: nothing to say this time.
        quiet: seconds without progress before a line (default :data:`QUIET_SECONDS`).
    """

    def __init__(self, status: Callable[[], str | None], quiet: float | None = None) -> None:
        self.status = status
        self.quiet = QUIET_SECONDS if quiet is None else quiet
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        heard()
        self._thread = threading.Thread(target=self._beat, name="policysearch-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        # Ctrl-C and SIGTERM go to the main thread, where the CLI turns them into its exit
        # statuses (and where the code that holds them off while it starts workers runs)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while not self._stop.wait(min(1.0, self.quiet / 4)):
            if time.monotonic() - _last_heard[0] < self.quiet:
                continue
            try:
                line = self.status()
            except Exception:  # a progress line is not worth a traceback in the user's log
                return
            if line:
                say(line)
            else:
                heard()
