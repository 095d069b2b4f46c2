"""Hand-written policies on MinAtar Breakout: what following the ball, or foreseeing it, earns.

    .venv/bin/python benchmarks/minatar_heuristics.py [--episodes 100]

A yardstick for ES's MinAtar Breakout runs (the results page): their evaluation plateaus at about
5-7, and this prints what two policies written by hand earn on the env exactly as ``train`` makes
it (``make_env``: MinAtar's sticky actions, 0.1, and its 27,000-step cap), over reset seeds 0 to
``--episodes`` - 1:

- ``follow``: move towards the ball's column (stay when under it);
- ``foresee``: move towards the column where the ball will reach the paddle's row, from the ball
  and its trail (the previous position, in its own channel), with the bounces off the side
  walls; while the ball rises, follow it.

Neither looks at the bricks. The observation's channels are Breakout's (paddle, ball, trail,
brick); the actions are MinAtar's minimal set for Breakout (0 stay, 1 left, 2 right).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

if str(Path(__file__).resolve().parent) not in sys.path:  # its sibling scaling.py, also when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from policysearch.envs import make_env
from scaling import table  # the same fixed-width table as the other benchmarks

ENV = "MinAtar/Breakout-v1"
PADDLE, BALL, TRAIL = 0, 1, 2
STAY, LEFT, RIGHT = 0, 1, 2
ROWS = COLUMNS = 10


def _column(frame: np.ndarray, channel: int) -> tuple[int, int] | None:
    where = np.argwhere(frame[:, :, channel])
    return (int(where[0][0]), int(where[0][1])) if len(where) else None


def _towards(column: int, paddle: int) -> int:
    return STAY if column == paddle else (LEFT if column < paddle else RIGHT)


def follow(frame: np.ndarray) -> int:
    """Move towards the ball's column."""
    paddle, ball = _column(frame, PADDLE), _column(frame, BALL)
    if paddle is None or ball is None:
        return STAY
    return _towards(ball[1], paddle[1])


def landing_column(row: int, column: int, step: int) -> int:
    """The column where a falling ball at (row, column), moving ``step`` columns a row, meets the
    paddle's row: it moves one column a step, and a side wall turns it back (MinAtar's rule: the
    move is cut at the wall and the direction reversed)."""
    while row + 1 < ROWS - 1:
        column += step
        if not 0 <= column < COLUMNS:
            column = min(max(column, 0), COLUMNS - 1)
            step = -step
        row += 1
    next_column = column + step
    return min(max(next_column, 0), COLUMNS - 1)


def foresee(frame: np.ndarray) -> int:
    """Move towards where the falling ball will meet the paddle's row (follow it while it rises)."""
    paddle, ball, trail = _column(frame, PADDLE), _column(frame, BALL), _column(frame, TRAIL)
    if paddle is None or ball is None:
        return STAY
    if trail is None or ball[0] <= trail[0]:  # rising, or not moved yet
        return _towards(ball[1], paddle[1])
    step = ball[1] - trail[1] or (1 if ball[1] == 0 else -1)  # 0 after a wall: it turned back
    return _towards(landing_column(ball[0], ball[1], step), paddle[1])


POLICIES: dict[str, Callable[[np.ndarray], int]] = {"follow": follow, "foresee": foresee}


def play(policy: Callable[[np.ndarray], int], episodes: int) -> dict[str, object]:
    """The policy's returns and episode lengths over reset seeds 0 to ``episodes`` - 1."""
    env = make_env(ENV)
    returns, lengths = [], []
    try:
        for seed in range(episodes):
            frame, _ = env.reset(seed=seed)
            total, steps, done = 0.0, 0, False
            while not done:
                frame, reward, terminated, truncated, _ = env.step(policy(frame))
                total, steps, done = total + float(reward), steps + 1, terminated or truncated
            returns.append(total)
            lengths.append(steps)
    finally:
        env.close()
    return {
        "mean_return": round(float(np.mean(returns)), 2),
        "std_return": round(float(np.std(returns)), 2),
        "best": max(returns),
        "mean_steps": round(float(np.mean(lengths)), 1),
        "longest": max(lengths),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=100, help="episodes per policy (reset seeds 0..N-1)")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")
    rows = [{"policy": name, **play(policy, args.episodes)} for name, policy in POLICIES.items()]
    table(f"{ENV}, hand-written policies, {args.episodes} episodes (reset seeds 0-{args.episodes - 1})", rows)


if __name__ == "__main__":
    main()
