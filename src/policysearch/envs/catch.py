"""A tiny videogame played from the screen: catch the falling ball.

Registered as ``policysearch/Catch-v0``. The observation is the screen, 8x8 pixels in two
channels (the ball, the paddle), ``uint8`` in {0, 255}; the actions are the buttons (left, stay,
right); the feedback is the score: +1 when the paddle is under the ball as it lands, else minus
the distance between them over the width (-1/7 to -1), so that a near miss scores better than a
wide one. An episode is one ball (7 steps). The paddle can reach any column in time, so the
best policy scores +1 every episode.

It is the smallest task of the lecture's "videogames" kind: the conformance checks and the tests
run the convolutional policy on it in well under a second, with no extra package.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

SIZE = 8


class CatchEnv(gym.Env[np.ndarray, np.int64]):
    """Catch the falling ball (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}  # noqa: RUF012  (Gymnasium's name)

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (SIZE, SIZE, 2), np.uint8)
        self.action_space = gym.spaces.Discrete(3)
        self.render_mode = render_mode
        self.ball = np.zeros(2, np.int64)  # row, column
        self.paddle = 0

    def _frame(self) -> np.ndarray:
        frame = np.zeros((SIZE, SIZE, 2), np.uint8)
        frame[self.ball[0], self.ball[1], 0] = 255
        frame[SIZE - 1, self.paddle, 1] = 255
        return frame

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        """A new ball in a random column of the top row, the paddle in a random column."""
        super().reset(seed=seed)
        self.ball = np.array([0, self.np_random.integers(SIZE)], np.int64)
        self.paddle = int(self.np_random.integers(SIZE))
        return self._frame(), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Move the paddle (0 left, 1 stay, 2 right), then the ball one row down."""
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        self.paddle = int(np.clip(self.paddle + int(action) - 1, 0, SIZE - 1))
        self.ball[0] += 1
        landed = bool(self.ball[0] == SIZE - 1)
        miss = abs(self.paddle - int(self.ball[1]))
        reward = (1.0 if miss == 0 else -miss / (SIZE - 1)) if landed else 0.0
        return self._frame(), reward, landed, False, {}

    def render(self) -> np.ndarray | None:
        """The screen, 16x enlarged, ball red and paddle white (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array":
            return None
        frame = self._frame()
        rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
        rgb[..., 0] = np.maximum(frame[..., 0], frame[..., 1])
        rgb[..., 1] = rgb[..., 2] = frame[..., 1]
        return np.kron(rgb, np.ones((16, 16, 1), np.uint8))
