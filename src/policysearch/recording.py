"""Videos of a trained policy playing one episode (mp4 through imageio-ffmpeg, or gif)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .envs import make_env
from .errors import ConfigError, EnvError
from .policies.base import Actor, start_sessions
from .seeding import evaluation_seeds

VIDEO_SUFFIXES = (".mp4", ".gif")


def record_episode(actor: Actor, env_id: str, path: str | Path, seed: int = 0, fps: int = 30) -> int:
    """Play one evaluation episode with ``actor`` and write its frames to ``path``.

    Args:
        actor: a deterministic actor.
        env_id: the environment (it must support ``render_mode="rgb_array"``).
        path: ``.mp4`` or ``.gif``; written atomically.
        seed: evaluation seed of the episode.
        fps: frames per second of the video.

    Returns:
        The number of frames written.

    Raises:
        ConfigError: for another suffix or a non-positive fps.
        EnvError: if the environment cannot render frames.
    """
    import imageio.v2 as imageio

    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ConfigError(f"--out must end in {' or '.join(VIDEO_SUFFIXES)}, not {path.name!r}")
    if fps < 1:
        raise ConfigError(f"fps={fps} is out of range: it must be at least 1")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        env = make_env(env_id, render_mode="rgb_array")
    except EnvError as exc:
        raise EnvError(f"cannot render {env_id!r}: {exc}") from None
    obs, _ = env.reset(seed=int(evaluation_seeds(1, seed)[0]))
    start_sessions(actor, np.zeros(1, dtype=np.int64))
    frames: list[Any] = [env.render()]
    if frames[0] is None:
        raise EnvError(f"environment {env_id!r} does not render rgb_array frames")
    done = False
    while not done:
        action = actor.act(np.asarray(obs)[None], np.zeros(1, dtype=np.int64), None)[0]
        obs, _, terminated, truncated, _ = env.step(action.item() if np.ndim(action) == 0 else action)
        frames.append(env.render())
        done = terminated or truncated
    env.close()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimwrite(tmp, frames, duration=1000 / fps, loop=0)
    else:
        imageio.mimwrite(tmp, frames, fps=fps, macro_block_size=2)
    os.replace(tmp, path)
    return len(frames)
