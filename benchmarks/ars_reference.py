"""policysearch's ``ars`` beside a port of ARS's own code, on a real task.

    .venv/bin/python benchmarks/ars_reference.py benchmarks/long-runs/ars-humanoid-0 --iterations 60
    .venv/bin/python benchmarks/ars_reference.py \
        --ars-policy ARS/trained_policies/Humanoid-v1/galloping/lin_policy_plus.npz

The first form trains a port of modestyachts/ARS (``code/ars.py``, ``code/filter.py``) for
``--iterations`` iterations with the hyperparameters of a policysearch run folder (its
checkpoint's: directions, top directions, step size, noise, version, the reward shift), and
prints, every ``--every`` iterations, the episodes and env steps and the sampled mean return of
each (the run's from its ``metrics.jsonl``). Both start from the same zero matrix; their random
numbers differ (the port draws its directions from numpy, not from a shared table), so the two
curves agree as two seeds of one algorithm do, not digit for digit.

What is ported, as ARS's code does it: the directions delta ~ N(0, I) played as M +- nu delta;
every step's reward less the shift; the top b directions by max(r+, r-); the step
alpha / (b sigma_R) sum (r+ - r-) delta, sigma_R the standard deviation of the 2b returns used;
under V2 the observations normalised by the mean and sample standard deviation of every state
visited in the iterations before, gathered state by state and merged as ARS's ``RunningStat``
does (its ``MeanStdFilter``: a standard deviation below 1e-7 counts as infinite, so a constant
feature is zeroed, and 1e-8 is added to the others); the actions ``M x``, which MuJoCo clips to the
control range (the port clips them itself, as policysearch does, so that the control cost is the
same).

The second form plays one of ARS's published Humanoid-v1 policies (``lin_policy_plus.npz`` in
ARS's repository: M, the observation mean and standard deviation) on Humanoid-v5, rebuilding
v1's 376-number observation from the simulator (v5 leaves out the world body's rows and the free
joint's actuator forces, which are constant), and prints each episode's return and length:
whether a linear policy on these features can walk in v5's physics.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from policysearch.envs import make_env, survival_bonus  # noqa: E402
from policysearch.errors import PolicySearchError  # noqa: E402
from policysearch.policies.normalizer import merge_moments  # noqa: E402
from policysearch.run.runfolder import load_checkpoint  # noqa: E402


def rollouts(task: tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float, int]) -> tuple:
    """Play each direction's pair M + nu delta, M - nu delta once; ARS's ``Worker.do_rollouts``.

    Returns the shifted and the plain returns ``(k, 2)``, the count, mean and sum of squared
    deviations of the states seen (the filter's buffer, pushed one state at a time as ARS's
    ``RunningStat.push`` does) and the env steps.
    """
    env_id, matrix, mean, std, deltas, noise, shift, seed = task
    env = make_env(env_id)
    space = env.action_space
    assert isinstance(space, gym.spaces.Box), "ARS's port plays continuous actions"
    low, high = space.low, space.high
    shifted, plain = np.zeros((len(deltas), 2)), np.zeros((len(deltas), 2))
    count, state_mean, state_m2, steps = 0, np.zeros_like(mean), np.zeros_like(mean), 0
    for k, delta in enumerate(deltas):
        for j, sign in enumerate((1.0, -1.0)):
            weights = matrix + sign * noise * delta
            obs, _ = env.reset(seed=seed + 2 * k + j)
            done = False
            while not done:
                obs = np.asarray(obs, dtype=np.float64)
                count += 1  # RunningStat.push
                deviation = obs - state_mean
                state_mean += deviation / count
                state_m2 += deviation * (obs - state_mean)
                action = np.clip(weights @ ((obs - mean) / (std + 1e-8)), low, high)  # MeanStdFilter
                obs, reward, terminated, truncated, _ = env.step(action)
                shifted[k, j] += float(reward) - shift
                plain[k, j] += float(reward)
                steps += 1
                done = terminated or truncated
    env.close()
    return shifted, plain, count, state_mean, state_m2, steps


def train_port(folder: Path, iterations: int, workers: int, every: int, seed: int) -> None:
    """Train the port with the run's hyperparameters; print its curve beside the run's."""
    meta, _ = load_checkpoint(folder)
    env_id, hp = meta["env_id"], meta["hyperparameters"]
    n, b = int(hp["directions"]), int(hp["top_directions"])
    alpha, noise, v2 = float(hp["step_size"]), float(hp["noise"]), hp["version"] == "v2"
    env = make_env(env_id)
    shift = survival_bonus(env) if hp["reward_shift"] == "auto" else float(hp["reward_shift"])
    dim, actions = int(np.prod(env.observation_space.shape or ())), int(np.prod(env.action_space.shape or ()))
    env.close()
    ours = {}
    for line in (folder / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        ours[record["iteration"]] = record
    print(
        f"# {env_id}: ARS's code ported beside policysearch's run {folder} (N={n}, b={b}, "
        f"alpha={alpha}, nu={noise}, {'V2' if v2 else 'V1'}, shift {shift:g}, {workers} worker "
        f"process{'es' * (workers > 1)})"
    )
    columns = ["iteration", "episodes", "port: env steps", "port: sampled mean"]
    columns += ["ours: env steps", "ours: sampled mean"]
    print("| " + " | ".join(columns) + " |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    rng = np.random.default_rng(seed)
    matrix = np.zeros((actions, dim))
    mean, std = np.zeros(dim), np.ones(dim)
    count, state_mean, state_m2, steps = 0.0, np.zeros(dim), np.zeros(dim), 0
    start = time.monotonic()
    with Pool(workers) as pool:
        for it in range(1, iterations + 1):
            deltas = rng.standard_normal((n, actions, dim))
            shares = np.array_split(np.arange(n), workers)
            first_seed = (seed * 10_000 + it) * 10**6  # a fresh start state for every episode
            tasks = [
                (env_id, matrix, mean, std, deltas[s], noise, shift, first_seed + 2 * int(s[0]))
                for s in shares
                if len(s)
            ]
            replies = pool.map(rollouts, tasks)
            shifted = np.concatenate([r[0] for r in replies])
            plain = np.concatenate([r[1] for r in replies])
            for r in replies:
                if r[2]:  # RunningStat.update: Chan et al.'s merge, the formula ARS's code uses
                    count, state_mean, state_m2 = merge_moments(count, state_mean, state_m2, *r[2:5])
                steps += r[5]
            best = np.argsort(-shifted.max(axis=1), kind="stable")[:b]
            used = shifted[best]
            sigma_r = used.std()
            if sigma_r > 0:
                step = np.tensordot(used[:, 0] - used[:, 1], deltas[best], axes=1)
                matrix = matrix + alpha / (b * sigma_r) * step
            if v2:  # the filter's stats_increment after the iteration
                mean = state_mean.copy()
                std = np.sqrt(state_m2 / (count - 1)) if count > 1 else np.abs(state_mean)
                std[std < 1e-7] = np.inf
            if it % every == 0 or it == iterations:
                row = ours.get(it)
                theirs = (f"{row['env_steps']:,}", f"{row['mean_return']:.1f}") if row else ("", "")
                print(
                    f"| {it} | {2 * n * it:,} | {steps:,} | {plain.mean():.1f} | {theirs[0]} | {theirs[1]} |",
                    flush=True,
                )
    print(f"# the port: {time.monotonic() - start:.0f} s")


def v1_observation(data: Any) -> np.ndarray:
    """Humanoid-v1's observation from the simulator's state (every body, every joint)."""
    parts = (data.qpos.flat[2:], data.qvel.flat, data.cinert.flat, data.cvel.flat)
    return np.concatenate([*parts, data.qfrc_actuator.flat, data.cfrc_ext.flat])


def play_ars_policy(path: Path, episodes: int) -> None:
    """Play an ARS Humanoid-v1 ``lin_policy_plus.npz`` on Humanoid-v5 (v1's observation rebuilt)."""
    matrix, mean, std = np.load(path, allow_pickle=True)["arr_0"]  # ARS saves an object array
    std = np.where(std < 1e-7, np.inf, std)
    env = gym.make("Humanoid-v5")
    data = env.unwrapped.data  # type: ignore[attr-defined]
    if matrix.shape != (17, 376):
        raise SystemExit(f"error: {path} is not a Humanoid-v1 policy (M is {matrix.shape}, not (17, 376))")
    print(f"# {path} on Humanoid-v5, v1's observation rebuilt")
    print("| reset seed | return | steps |")
    print("| ---: | ---: | ---: |")
    for seed in range(episodes):
        env.reset(seed=seed)
        ret, steps, done = 0.0, 0, False
        while not done:
            action = np.clip(matrix @ ((v1_observation(data) - mean) / std), -0.4, 0.4)
            _, reward, terminated, truncated, _ = env.step(action)
            ret, steps, done = ret + float(reward), steps + 1, terminated or truncated
        print(f"| {seed} | {ret:.1f} | {steps} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, nargs="?", help="a policysearch ars run folder")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--every", type=int, default=10, help="print a row every so many iterations")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="the port's random numbers")
    parser.add_argument("--ars-policy", type=Path, help="an ARS Humanoid-v1 lin_policy_plus.npz to play")
    parser.add_argument("--episodes", type=int, default=5, help="episodes of --ars-policy")
    args = parser.parse_args()
    if args.ars_policy is None and args.folder is None:
        parser.error("give a run folder, or --ars-policy")
    try:
        if args.ars_policy is not None:
            play_ars_policy(args.ars_policy, args.episodes)
        else:
            train_port(args.folder, args.iterations, args.workers, args.every, args.seed)
    except (PolicySearchError, OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
