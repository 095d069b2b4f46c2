"""Memory benchmark: the learner's peak memory for one ES iteration at Atari size.

    .venv/bin/python benchmarks/memory.py [--candidates 1000] [--network nature|salimans]

Builds ES with the convolutional policy on 84x84x4 frames (ALE's preprocessed observation; the
Nature-DQN body, 1.69 M parameters with 18 actions, or the body ``--policy cnn`` uses, Salimans
et al.'s), asks for a population of ``--candidates`` and tells it random returns: the update
reads the candidates' perturbations from the shared noise table a block of parameters at a time
(``policysearch.optim.es.noise_blocks``), never the candidates x parameters matrix. Each case runs
in its own process, and the table gives its peak resident memory (``VmHWM``), after the imports
and the table alone and after the iteration, beside what the whole float64 matrix would take.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

CASE = r"""
import json, sys
import gymnasium as gym
import numpy as np
import torch
from policysearch.algorithms.es import ES, ESPolicyConfig
from policysearch.algorithms.population import CandidateNoise

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

network, candidates, table = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
obs = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
act = gym.spaces.Discrete(18)
config = ESPolicyConfig(population=candidates, noise_table_size=table)
if network == "nature":
    from policysearch.policies import bodies
    bodies.conv_architecture = lambda shape: (((32, 8, 4), (64, 4, 2), (64, 3, 1)), 512)
es = ES(obs, act, config, np.random.default_rng(0), "cnn")
es.ask(np.random.default_rng(1))  # the table is made where the candidates are named
before = peak()
request = es.ask(np.random.default_rng(2))
scores = np.random.default_rng(3).normal(size=candidates)
es.es.tell(scores, CandidateNoise(request, es.table, es.es.mu.numel()))
print(json.dumps({"params": es.es.mu.numel(), "before": before, "after": peak()}))
"""


def run_case(network: str, candidates: int, table: int) -> dict[str, Any]:
    """One case in a fresh process: parameters and peak memory before and after the iteration."""
    out = subprocess.run(
        [sys.executable, "-c", CASE, network, str(candidates), str(table)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"the {network} case failed:\n{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--network", choices=["nature", "salimans", "both"], default="both")
    parser.add_argument("--noise-table-size", type=int, default=10_000_000)
    args = parser.parse_args()
    networks = ["nature", "salimans"] if args.network == "both" else [args.network]
    print(f"ES, one iteration of {args.candidates:,} candidates on 84x84x4 frames (18 actions)")
    print("| network | parameters | peak before | peak after | whole float64 noise matrix |")
    print("| --- | --- | --- | --- | --- |")
    for network in networks:
        r = run_case(network, args.candidates, args.noise_table_size)
        matrix = 8 * r["params"] * args.candidates
        print(
            f"| {network} | {r['params'] / 1e6:.2f} M | {r['before'] / 1e9:.2f} GB | "
            f"{r['after'] / 1e9:.2f} GB | {matrix / 1e9:.1f} GB |"
        )


if __name__ == "__main__":
    main()
