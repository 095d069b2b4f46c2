"""Videos of a trained policy playing one evaluation episode (mp4 through imageio-ffmpeg, or gif).

The episode is played by the evaluation's own runner (:func:`~policysearch.sampling.make_runner`,
the one episode loop), so ``record --seed S`` shows exactly episode 0 of ``evaluate --seed S``;
its actions are then replayed on an env made with ``render_mode="rgb_array"``, started in the
same state, to draw the frames. The replay must earn the same return, or recording fails.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import check_range
from ..envs import EnvOptions, env_call, make_env
from ..errors import ConfigError, EnvError, RunFolderError
from ..policies.base import Actor
from ..run.runfolder import make_parents, remove_empty
from ..sampling import make_runner
from ..seeding import evaluation_seeds

VIDEO_SUFFIXES = (".mp4", ".gif")


@dataclass(frozen=True)
class Recording:
    """What :func:`record_episode` wrote."""

    #: Frames in the video (the start and one per step).
    frames: int
    #: The episode's return (the evaluation's episode 0 for the seed).
    episode_return: float


#: Largest ``--scale`` of ``record``: MinAtar's 10x10 frames become at most 320x320.
MAX_SCALE = 32.0
#: Largest ``--fps``.
MAX_FPS = 1000
#: Most frames a second a GIF shows: its frames last whole hundredths of a second.
MAX_GIF_FRAME_RATE = 100
#: Largest width or height of an MP4 frame: what the H.264 encoder (libx264) takes.
MAX_MP4_SIDE = 16384


def record_episode(
    actor: Actor,
    env_id: str,
    path: str | Path,
    seed: int = 0,
    fps: int = 30,
    scale: float = 1.0,
    every: int = 1,
    env_options: EnvOptions | None = None,
) -> Recording:
    """Play evaluation episode 0 of ``seed`` with ``actor`` and write its frames to ``path``.

    Args:
        actor: a deterministic actor.
        env_id: the environment (it must support ``render_mode="rgb_array"``).
        path: ``.mp4`` or ``.gif``; written atomically.
        seed: evaluation seed of the episode (as ``evaluate --seed``).
        fps: frames per second of the episode's steps: the video plays in the env's time at
            ``fps`` steps per second, whatever ``every`` keeps.
        scale: resize factor of the frames, in (0, :data:`MAX_SCALE`]: 0.5 halves their width and
            height (averaging pixels); above 1 each pixel becomes a block (MinAtar's 10x10 frames).
        every: keep every ``every``-th frame (the first, then every ``every``-th step, and the
            last); each kept frame is shown until the next kept one's step, so the video keeps its
            speed (an MP4, of one frame rate, shows each ``every`` steps, the last one too).
        env_options: the run's env kwargs and preprocessing switch.

    Raises:
        ConfigError: for another suffix, a non-positive fps or ``every``, a ``scale`` outside
            (0, MAX_SCALE], or a path that cannot be written.
        EnvError: if the environment cannot render frames, or the rendered replay diverges.
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ConfigError(f"--out must end in {' or '.join(VIDEO_SUFFIXES)}, not {path.name!r}")
    check_range("fps", fps, 1, MAX_FPS)
    check_range("scale", scale, 0, MAX_SCALE, low_open=True)
    check_range("every", every, 1)
    if path.suffix.lower() == ".gif" and fps / every > MAX_GIF_FRAME_RATE:
        raise ConfigError(
            f"--fps {fps} with --every {every} asks a GIF for {fps / every:g} frames a second; it shows "
            f"at most {MAX_GIF_FRAME_RATE} (its frames last whole hundredths of a second): raise --every"
        )
    if path.is_dir():
        raise ConfigError(f"--out {str(path)!r} is a folder; give a file name")
    made: list[Path] = []
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:  # before the episode is played: the folder must take the file
        made = make_parents(path)
        tmp.touch()
    except OSError as exc:
        remove_empty(made)
        problem = "its folder is a file" if isinstance(exc, FileExistsError | NotADirectoryError) else None
        raise ConfigError(
            f"cannot write the video to {str(path)!r}: {problem or exc.strerror or exc}"
        ) from None
    try:
        return _record(actor, env_id, path, tmp, seed, fps, scale, every, env_options)
    except BaseException:
        tmp.unlink(missing_ok=True)  # before its folder is removed (finally would be too late)
        remove_empty(made)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _record(
    actor: Actor,
    env_id: str,
    path: Path,
    tmp: Path,
    seed: int,
    fps: int,
    scale: float,
    every: int,
    env_options: EnvOptions | None = None,
) -> Recording:
    import imageio.v2 as imageio

    reset_seed = int(evaluation_seeds(1, seed)[0])
    runner = make_runner(env_id, 1, env_options=env_options)
    try:
        sessions = runner.run(actor, np.array([reset_seed]))
        start = runner.start_state(reset_seed)
    finally:
        runner.close()
    episode = sessions.session(0)
    replayed = _replay(env_id, reset_seed, start, episode.actions, episode.rewards, env_options)
    width, height = _scaled_size(np.shape(replayed[0]), scale)
    if path.suffix.lower() == ".mp4" and max(height, width) > MAX_MP4_SIDE:
        raise ConfigError(
            f"--scale {scale:g} makes {width}x{height} frames, larger than an MP4 takes "
            f"({MAX_MP4_SIDE} a side): choose a smaller --scale, or a .gif"
        )
    frames = _shrink([_as_bytes(frame) for frame in replayed], scale, every)
    hook, reason = sys.unraisablehook, None
    try:
        if path.suffix.lower() == ".gif":  # each kept frame lasts until the next one's step
            steps = np.diff([*kept_steps(len(replayed), every), len(replayed)])
            imageio.mimwrite(tmp, frames, duration=[1000 * int(n) / fps for n in steps], loop=0)
        else:
            imageio.mimwrite(tmp, frames, fps=fps / every, macro_block_size=2, ffmpeg_log_level="quiet")
            reason = _unfinished_mp4(tmp, len(frames))
        if reason is None:
            os.replace(tmp, path)
    except OSError as exc:  # no space left, a quota
        reason = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # the failed writer closes itself when collected, fails again and prints a traceback
        sys.unraisablehook = lambda _: None
    if reason is not None:
        try:
            gc.collect()  # the writer, freed with the exception: its second failure goes quietly
        finally:
            sys.unraisablehook = hook
        raise RunFolderError(f"cannot write the video to {str(path)!r}: {reason}")
    return Recording(len(frames), float(sessions.returns[0]))


def _as_bytes(frame: Any) -> np.ndarray:
    """A frame as uint8 pixels: float frames (MinAtar's palette) are read on [0, 1]."""
    frame = np.asarray(frame)
    if frame.dtype == np.uint8:
        return frame
    if frame.dtype.kind == "f":
        return np.round(np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8)
    if frame.dtype.kind == "b":
        return frame.astype(np.uint8) * 255
    return np.clip(frame, 0, 255).astype(np.uint8)


def kept_steps(n: int, every: int) -> list[int]:
    """The frames ``--every`` keeps of ``n``: the first, every ``every``-th after it, and the last."""
    kept = list(range(0, n, every))
    if (n - 1) % every:
        kept.append(n - 1)
    return kept


def _unfinished_mp4(path: Path, frames: int) -> str | None:
    """Why the MP4 at ``path`` does not hold ``frames`` frames (None if it does).

    imageio does not look at how ffmpeg ended: on a full disk ffmpeg cannot write the file's
    index at its end, and the file is left unplayable with no error raised.
    """
    import imageio_ffmpeg

    try:
        written = imageio_ffmpeg.count_frames_and_secs(str(path))[0]
    except (OSError, RuntimeError):
        written = -1
    if written == frames:
        return None
    return "ffmpeg could not finish the file (is the disk full?)"


def _scaled_size(shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    """``(width, height)`` of a frame of ``shape`` (height, width, ...) resized by ``scale``."""
    height, width = shape[:2]
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shrink(frames: list[Any], scale: float, every: int) -> list[Any]:
    """The frames :func:`kept_steps` keeps, resized by ``scale``.

    Shrunk frames average their pixels; grown ones repeat each pixel, so that small frames
    (MinAtar's 10x10) stay sharp.
    """
    kept = [frames[i] for i in kept_steps(len(frames), every)]
    if scale == 1:
        return kept
    from PIL import Image

    size = _scaled_size(np.shape(kept[0]), scale)
    how = Image.Resampling.BOX if scale < 1 else Image.Resampling.NEAREST
    return [np.asarray(Image.fromarray(np.asarray(frame)).resize(size, how)) for frame in kept]


def _replay(
    env_id: str,
    reset_seed: int,
    start: np.ndarray | None,
    actions: np.ndarray,
    expected: np.ndarray,
    env_options: EnvOptions | None = None,
) -> list[Any]:
    """The frames of the episode's actions replayed on a rendering env from the same start.

    Raises:
        EnvError: if the env cannot render, or the replay earns other rewards than ``expected``.
    """
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo's first choice, GLFW, needs a display
    try:
        env = make_env(env_id, options=env_options, render_mode="rgb_array")
    except EnvError as exc:
        raise EnvError(f"cannot render {env_id!r}: {exc}") from None
    try:
        _follow(env)
        env_call(env_id, "reset", env.reset, seed=reset_seed)
        if start is not None:
            env.unwrapped.state = start.copy()  # type: ignore[attr-defined]
        frames: list[Any] = [env_call(env_id, "render", env.render)]
        if frames[0] is None:
            raise EnvError(f"environment {env_id!r} does not render rgb_array frames")
        rewards = []
        for t, action in enumerate(actions, 1):
            step = action.item() if np.ndim(action) == 0 else action
            _, reward, _, _, _ = env_call(env_id, f"step {t}", env.step, step)
            rewards.append(float(reward))
            frames.append(env_call(env_id, "render", env.render))
            if np.shape(frames[-1]) != np.shape(frames[0]):
                raise EnvError(
                    f"environment {env_id!r} rendered a frame of shape {np.shape(frames[-1])} after "
                    f"frames of shape {np.shape(frames[0])}"
                )
    finally:
        env_call(env_id, "close", env.close)
    if not np.array_equal(rewards, expected):
        raise EnvError(
            f"the rendered replay of {env_id!r} earned {sum(rewards)}, not the episode's "
            f"{float(np.sum(expected))}: the env does not replay its episodes exactly"
        )
    return frames


def _follow(env: Any) -> None:
    """Render a MuJoCo env from its model's camera ``track``, where it has one and none was chosen.

    Gymnasium 1.4 renders MuJoCo's frames from a free camera that stays where the episode
    started (Farama-Foundation/Gymnasium#1618), so a walker leaves the picture within seconds;
    the locomotion models define a camera ``track`` that follows their centre of mass, the
    camera earlier Gymnasium versions rendered from.
    """
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    model = getattr(env.unwrapped, "model", None)
    if renderer is None or model is None or getattr(renderer, "camera_id", None) != -1:
        return
    import mujoco

    camera = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "track")
    if camera >= 0:
        renderer.camera_id = camera
