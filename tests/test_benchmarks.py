"""benchmarks/run.py's time-to-solve suite: the plan it makes and its figures, on synthetic runs."""

import importlib
import json
import subprocess
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from conftest import load_script

RUN_PY = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
SIBLINGS = ("suites", "runners", "stats", "report", "throughput")  # the modules run.py is split into


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """run.py loaded by its path, as before; loading it puts benchmarks/ on sys.path for its siblings."""
    yield from load_script(RUN_PY, "benchmarks_run", SIBLINGS)


@pytest.fixture(scope="module")
def stats(bench: ModuleType) -> ModuleType:
    """benchmarks/stats.py, the very module run.py imported."""
    module = importlib.import_module("stats")
    assert Path(module.__file__ or "") == RUN_PY.parent / "stats.py"
    return module


@pytest.fixture(scope="module")
def report(bench: ModuleType) -> ModuleType:
    """benchmarks/report.py, the very module run.py imported."""
    module = importlib.import_module("report")
    assert Path(module.__file__ or "") == RUN_PY.parent / "report.py"
    return module


@pytest.fixture(scope="module")
def suites(bench: ModuleType) -> ModuleType:
    """benchmarks/suites.py, the very module run.py imported."""
    module = importlib.import_module("suites")
    assert Path(module.__file__ or "") == RUN_PY.parent / "suites.py"
    return module


@pytest.fixture(scope="module")
def scaling() -> ModuleType:
    """benchmarks/scaling.py, loaded by its path."""
    yield from load_script(RUN_PY.parent / "scaling.py", "benchmarks_scaling", ())


@pytest.fixture(scope="module")
def port() -> ModuleType:
    """benchmarks/ars_reference.py (the port of ARS's code), loaded by its path."""
    yield from load_script(RUN_PY.parent / "ars_reference.py", "benchmarks_ars_reference", ())


def ours(seed: int, solved: bool, wall: float, steps: int, config: str = "es", cap: float = 60) -> dict:
    return {
        "section": "train", "env": "CartPole-v1", "config": config, "seed": seed, "cap_s": cap,
        "solved": solved, "wall_time_s": wall, "env_steps": steps,
    }  # fmt: skip


def peer(seed: int, solved: bool, wall: float, steps: int, script: str = "cma_linear") -> dict:
    return {
        "section": "peer", "env": "CartPole-v1", "script": script, "seed": seed, "cap_s": 60,
        "solved": solved, "wall_time_s": wall, "env_steps": steps,
    }  # fmt: skip


def plan_for(bench: ModuleType, argv: list[str]) -> list:
    parser = bench.build_parser()
    plan, _ = bench.select(parser.parse_args(argv), parser)
    return plan


def test_the_solve_suite_runs_each_algorithm_as_is_and_without_presets_over_seeds_0_to_4(bench) -> None:
    [(env_id, spec, jobs, seeds)] = plan_for(bench, ["--suite", "solve", "--envs", "CartPole-v1"])
    assert (env_id, spec.target, seeds) == ("CartPole-v1", 475, [0, 1, 2, 3, 4])
    labels = [j.config.label for j in jobs]
    assert labels == ["cem", "cem --no-preset", "es", "es --no-preset", "cmaes", "cmaes --no-preset"]
    assert [j.cap for j in jobs] == [60] * 6
    assert all(("--no-preset" in j.config.extra) == j.config.label.endswith("--no-preset") for j in jobs)
    assert spec.peers == ("cma_linear", "evotorch_pgpe")


def test_the_long_tasks_give_cem_1800_s_the_others_900_s_and_two_workers(bench) -> None:
    [(_, _, jobs, _)] = plan_for(
        bench, ["--suite", "solve", "--envs", "HalfCheetah-v5", "--algos", "cem", "es"]
    )
    caps = {j.config.label: j.cap for j in jobs}
    assert caps == {"cem": 1800, "cem --no-preset": 1800, "es": 900, "es --no-preset": 900}
    assert all("--workers 2" in j.config.extra for j in jobs)
    [(_, _, jobs, seeds)] = plan_for(bench, ["--suite", "neural", "--envs", "CartPole-v1"])  # unchanged
    assert [j.config.label for j in jobs] == ["cem", "es", "cmaes:linear"] and seeds == [0, 1]


def test_an_unsolved_seed_counts_as_its_cap_in_the_median_and_is_the_worst(bench, stats) -> None:
    runs = [ours(0, True, 3.0, 30), ours(1, False, 61.5, 900), ours(2, True, 5.0, 50), ours(3, True, 4.0, 40)]
    runs.append(ours(4, True, 9.0, 20))
    [row] = [
        r
        for r in stats.solve_rows(plan_for(bench, ["--suite", "solve"])[:1], runs, [])
        if r.get("config") == "es"
    ]
    assert (row["solved"], row["runs"]) == (4, 5)
    assert (row["median_wall_s"], row["median_wall_bound"]) == (5.0, False)  # 3, 4, 5, 9, >60
    assert (row["worst_wall_s"], row["worst_wall_bound"], row["worst_wall_seed"]) == (60.0, True, 1)
    assert (row["median_env_steps"], row["worst_env_steps"], row["worst_env_steps_seed"]) == (40.0, 900.0, 1)
    assert row["worst_env_steps_bound"]

    runs[0], runs[2] = ours(0, False, 60.2, 800), ours(2, False, 60.1, 700)  # three of five unsolved
    [row] = [
        r
        for r in stats.solve_rows(plan_for(bench, ["--suite", "solve"])[:1], runs, [])
        if r.get("config") == "es"
    ]
    assert (row["median_wall_s"], row["median_wall_bound"]) == (60.0, True)
    # env steps 20, 40, >700, >800, >900
    assert (row["median_env_steps"], row["median_env_steps_bound"]) == (700.0, True)


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two(stats) -> None:
    figs = stats.figures([ours(0, True, 2.0, 10), ours(1, True, 6.0, 30)], "wall_time_s")
    assert stats.median(figs) == stats.Figure(4.0, False, -1)
    figs = stats.figures([ours(0, True, 2.0, 10), ours(1, False, 70.0, 30)], "wall_time_s")
    assert stats.median(figs) == stats.Figure(31.0, True, -1)  # (2 + cap 60) / 2, a lower bound
    failed = {"env": "CartPole-v1", "config": "es", "seed": 2, "cap_s": 60, "error": "exit 1: boom"}
    assert stats.figures([failed], "env_steps") == [stats.Figure(None, True, 2)]
    assert stats.figures([failed], "wall_time_s") == [stats.Figure(60.0, True, 2)]


def test_a_failed_run_measured_nothing_and_is_left_out_of_the_figures(stats) -> None:
    """A peer whose script could not start is not a peer that did not solve in its cap."""
    failed = {"env": "CartPole-v1", "config": "es", "seed": 2, "cap_s": 60, "error": "exit 2: no such file"}
    row = stats.solve_summary("CartPole-v1", "es", [ours(0, True, 2.0, 10), ours(1, True, 6.0, 30), failed])
    assert (row["solved"], row["runs"], row["errors"]) == (2, 2, ["exit 2: no such file"])
    assert (row["median_wall_s"], row["median_wall_bound"]) == (4.0, False)
    assert (row["worst_wall_s"], row["worst_wall_bound"], row["worst_wall_seed"]) == (6.0, False, 1)
    row = stats.solve_summary("CartPole-v1", "es", [failed])
    assert (row["solved"], row["runs"], row["median_wall_s"], row["worst_wall_s"]) == (0, 0, None, None)
    # a config whose runs all failed is not the fastest: the ratio compares the ones that ran
    slow = stats.solve_summary("CartPole-v1", "cem", [ours(0, False, 70.0, 10)])  # >60
    quick = {**stats.solve_summary("CartPole-v1", "cma_linear", [ours(0, True, 20.0, 10)]), "peer": True}
    ratio = stats.solve_ratio("CartPole-v1", [row, slow, quick])
    assert (ratio["ours"], ratio["ratio"], ratio["ratio_bound"]) == ("cem", 3.0, ">")


def test_the_table_shows_counts_bounds_and_our_fastest_median_over_the_fastest_peers(
    bench, stats, report
) -> None:
    plan = plan_for(bench, ["--suite", "solve", "--envs", "CartPole-v1", "--seeds", "0", "1", "2"])
    runs = [ours(s, True, w, 100, "es") for s, w in [(0, 2.0), (1, 3.0), (2, 8.0)]]
    runs += [ours(s, s != 1, w, 100, "cem") for s, w in [(0, 1.0), (1, 70.0), (2, 1.5)]]
    peers = [peer(s, True, w, 50) for s, w in [(0, 1.0), (1, 1.2), (2, 4.0)]]
    peers += [peer(s, False, 60.3, 10, "evotorch_pgpe") for s in range(3)]
    rows = stats.solve_rows(plan, runs, peers)
    [ratio] = [r for r in rows if r["section"] == "solve_ratio"]
    # cem's median is 1.5 (1.0, 1.5, >60), es's 3.0: cem is our fastest; cma_linear's is 1.2
    assert (ratio["ours"], ratio["peer"], ratio["ratio"], ratio["ratio_bound"]) == (
        "cem",
        "cma_linear (peer)",
        1.25,
        "",
    )
    text = report.solve_table("CartPole-v1", rows)
    lines = {line.split("  ")[0]: line.split() for line in text.splitlines()}
    assert lines["cem"][1:5] == ["2/3", "1.50", ">60.00", "1"]
    assert lines["evotorch_pgpe (peer)"][2:5] == ["0/3", ">60.00", ">60.00"]
    assert "ours / peer = 1.25" in text
    runs = [ours(s, False, 60.5, 100, "es") for s in range(3)]  # none of ours solved: a lower bound
    [ratio] = [r for r in stats.solve_rows(plan, runs, peers) if r["section"] == "solve_ratio"]
    assert (ratio["ratio"], ratio["ratio_bound"]) == (50.0, ">")


MUJOCO = {  # the tasks: ARS's thresholds, seeds, caps
    "Swimmer-v5": (325, [0, 1, 2], 1800),
    "Hopper-v5": (3120, [0, 1, 2], 1800),
    "HalfCheetah-v5": (3430, [0, 1, 2], 1800),
    "Walker2d-v5": (4390, [0, 1], 3600),
    "Ant-v5": (3580, [0, 1], 3600),
}


def test_the_mujoco_suite_runs_ars_and_es_on_five_tasks_beside_sb3_ars_and_the_paper(bench, suites) -> None:
    plan = plan_for(bench, ["--suite", "mujoco"])
    assert [env_id for env_id, *_ in plan] == list(MUJOCO)  # Humanoid only when named
    for env_id, spec, jobs, seeds in plan:
        assert (spec.target, seeds, spec.cap) == MUJOCO[env_id]
        assert [j.config.label for j in jobs] == ["ars", "ars --no-preset", "es", "es --no-preset"]
        assert all(j.cap == spec.cap and "--workers 2" in j.config.extra for j in jobs)
        assert all(("--no-preset" in j.config.extra) == j.config.label.endswith("--no-preset") for j in jobs)
        assert spec.peers == ("sb3_ars",) and (spec.peer_cap or spec.cap) == spec.cap
    [(env_id, spec, jobs, _)] = plan_for(bench, ["--suite", "mujoco", "--envs", "Humanoid-v5"])
    assert (env_id, spec.target, len(jobs)) == ("Humanoid-v5", 6000, 4)
    paper = suites.ARS_PAPER_EPISODES
    assert set(MUJOCO) <= set(paper)
    for figures in paper.values():  # a published count, or None (printed n/a): never a guess of 0
        assert all(v is None or (isinstance(v, int) and v > 0) for v in (figures.v2, figures.v2_t))
    assert (paper["Walker2d-v5"].v2, paper["Walker2d-v5"].v2_t) == (89_600, 24_000)  # the issue's


def test_the_mujoco_table_shows_episodes_beside_the_papers_and_n_a_where_a_peer_has_none(
    bench, stats, report, suites
) -> None:
    plan = plan_for(bench, ["--suite", "mujoco", "--envs", "Walker2d-v5", "Swimmer-v5", "--algos", "ars"])
    walker2d, swimmer = {"env": "Walker2d-v5"}, {"env": "Swimmer-v5"}
    runs = [
        {**ours(0, True, 900.0, 30_000_000, "ars", 3600), **walker2d, "episodes": 30_000},
        {**ours(1, False, 3601.0, 90_000_000, "ars", 3600), **walker2d, "episodes": 90_000},
        {**ours(0, True, 11.4, 182_000, "ars", 1800), **swimmer, "episodes": 102},
    ]
    peers = [{**peer(s, True, w, 40_000_000, "sb3_ars"), **walker2d} for s, w in [(0, 1200.0), (1, 1500.0)]]
    peers.append({**peer(0, True, 20.0, 184_000, "sb3_ars"), **swimmer})  # its line has no episodes
    rows = stats.solve_rows(plan, runs, peers)
    walker = report.solve_table("Walker2d-v5", rows, suites.ARS_PAPER_EPISODES["Walker2d-v5"])
    header = walker.splitlines()[1].split()
    assert header[5:10] == ["median_episodes", "worst_episodes", "seed", "paper_V2", "paper_V2-t"]
    lines = {line.split("  ")[0]: line.split() for line in walker.splitlines()}
    # the median episodes (30,000 + >90,000) / 2 is a lower bound; the unsolved seed 1 is the worst
    expected = ["1/2", ">2250.00", ">3600.00", "1", ">60,000", ">90,000", "1", "89,600", "24,000"]
    assert lines["ars"][1:10] == expected
    # the peer's line has no episodes, and Walker2d's episodes end when the robot falls
    assert lines["sb3_ars (peer)"][6:11] == ["n/a", "n/a", "-", "89,600", "24,000"]
    assert "Mania, Guy and Recht 2018, Table 1" in walker
    text = report.solve_table("Swimmer-v5", rows, suites.PaperEpisodes(None, None))
    lines = {line.split("  ")[0]: line.split() for line in text.splitlines()}
    assert lines["ars"][5:10] == ["102", "102", "0", "n/a", "n/a"]
    assert lines["sb3_ars (peer)"][6:9] == ["184*", "184*", "0"]  # 184,000 steps of 1000-step episodes
    assert "paper_V2" not in report.solve_table("Swimmer-v5", rows)  # the solve suite's table: unchanged


def test_the_scaling_benchmark_still_runs_on_the_library_it_measures(scaling: ModuleType) -> None:
    """benchmarks/scaling.py is not run by CI: its ES iterations and driver costs are, once and
    small, so that it cannot fall behind the library's seams again (it did after issue 12)."""
    from policysearch.sampling import make_sampler

    sampler = make_sampler(scaling.ENV, 4, 1)
    try:
        algo = scaling.make_es(scaling.ENV, population=8)
        seconds, steps = scaling.iterate(sampler, algo, 2)
    finally:
        sampler.close()
    assert seconds > 0 and steps >= 16
    state = scaling.trained_state(1)  # --from-iteration's starting point loads into a fresh ES
    fresh = scaling.make_es(scaling.ENV)
    fresh.load_state_arrays(state)
    assert not np.array_equal(fresh.es.mean, scaling.make_es(scaling.ENV).es.mean)
    rows = scaling.driver_costs()
    assert [r["population"] for r in rows] == [64, 1024, 1440] and all(r["ask_tell_ms"] > 0 for r in rows)


def test_the_scaling_benchmark_counts_the_bytes_training_sends(scaling: ModuleType) -> None:
    """Its workers send back what ES keeps, as in training: statistics, not whole sessions (from
    2026-12-04 to 2026-12-07 it sampled with the sampler's default and counted 96 kB a candidate)."""
    rows = scaling.bytes_per_candidate("local")
    assert [r["policy"] for r in rows] == ["linear", "mlp"]
    for r in rows:
        assert 40 <= r["out_per_candidate"] < 64
        assert 100 < r["back_per_candidate"] < 512  # 16 bytes per observation dimension + ~50


def test_the_physics_table_measures_bare_steps_env_steps_and_the_sampler_on_one_env(
    scaling: ModuleType,
) -> None:
    """scaling.py --physics, once and small on Hopper: every rate measured, long episodes cut."""
    import argparse

    args = argparse.Namespace(envs=["Hopper-v5"], seconds=0.01, n_envs=2, long_steps=20)
    rows = scaling.physics_rows(args)
    assert [r["episodes"] for r in rows] == ["env's", "long (20)"]
    for r in rows:
        assert r["bare_steps_s"] > 0 and r["gym_steps_s"] > 0 and r["sampler_steps_s"] > 0
        assert r["replay_steps_s"] > 0 and r["sampler/replay"] > 0 and r["sampler/replay_cpu"] > 0
        assert r["sampler/bare"] > 0 and r["gym/bare_cpu"] > 0
    assert rows[1]["sampler_mean_len"] == 20  # no termination: every session runs to the cut


def test_the_checkpoint_benchmark_times_es_and_ars_and_lists_the_refusal_of_cmaes() -> None:
    """benchmarks/checkpoint.py at Humanoid size: both writes timed, their sizes, cmaes's one line."""
    scripts = load_script(RUN_PY.parent / "checkpoint.py", "benchmarks_checkpoint", ("scaling",))
    checkpoint = next(scripts)
    try:
        es, ars, cmaes = (checkpoint.measure(name, "Humanoid-v5", 2) for name in ("es", "ars", "cmaes"))
    finally:
        next(scripts, None)
    assert es["numbers"] > 2 * 5950 and 5950 < ars["numbers"] < es["numbers"]
    assert es["bytes"] > 8 * 5950 and ars["bytes"] > 4 * 5950
    assert es["median_ms"] > 0 and ars["median_ms"] > 0
    assert "cmaes is not for this size" in cmaes["worst_ms"]


def test_each_run_is_written_as_it_ends_so_a_suite_stopped_halfway_keeps_it(
    bench, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "latest.jsonl"
    calls: list[int] = []

    def fake_run(job, seed: int, folder: Path) -> dict:
        calls.append(seed)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the suite is stopped during its second run
        return {**ours(seed, True, 1.5, 1000), "config": job.config.label}

    monkeypatch.setattr(bench, "run_ours", fake_run)
    argv = ["--suite", "solve", "--envs", "CartPole-v1", "--algos", "es", "--seeds", "0", "1"]
    argv += ["--out", str(out)]
    with pytest.raises(KeyboardInterrupt):
        bench.main(argv)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["section"] for line in lines] == ["meta", "train"]
    assert (lines[1]["seed"], lines[1]["wall_time_s"]) == (0, 1.5)


def test_resume_runs_only_what_the_stopped_benchmark_had_not_recorded(bench, tmp_path, monkeypatch) -> None:
    out = tmp_path / "mujoco.jsonl"
    calls: list[tuple[str, int, Path]] = []
    stop_at = [4]

    def fake_run(job, seed: int, folder: Path) -> dict:
        calls.append((job.config.label, seed, folder))
        if len(calls) == stop_at[0]:
            raise KeyboardInterrupt
        rec = {**ours(seed, True, 1.5, 1000, config=job.config.label), "env": job.config.env}
        if (job.config.label, seed, len(calls)) == ("ars --no-preset", 0, 2):
            return {**rec, "error": "exit 2: an env that failed"}  # recorded with an error
        return {**rec, "iterations": 3, "episodes": 12, "eval_mean_return": 330.0}

    monkeypatch.setattr(bench, "run_ours", fake_run)
    argv = ["--suite", "mujoco", "--envs", "Swimmer-v5", "--algos", "ars", "--seeds", "0", "1"]
    with pytest.raises(KeyboardInterrupt):
        bench.main([*argv, "--out", str(out)])
    first = [(label, seed) for label, seed, _ in calls]
    assert first == [("ars", 0), ("ars --no-preset", 0), ("ars", 1), ("ars --no-preset", 1)]
    assert calls[0][2] == tmp_path / "mujoco.runs" / "ars" / "Swimmer-v5" / "seed0"
    assert calls[1][2].parent.parent.name == "ars_--no-preset"
    with out.open("a") as fh:
        fh.write('{"section": "train", "config": "ars --no')  # a line cut short by the stop

    calls.clear()
    stop_at[0] = 0
    assert bench.main(["--out", str(out), "--resume"]) == 0
    # the run recorded with an error and the one stopped are made again, no other
    assert [(label, seed) for label, seed, _ in calls] == [("ars --no-preset", 0), ("ars --no-preset", 1)]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["argv"] == [*argv, "--out", str(out)] and len(lines[0]["resumed"]) == 1
    trained = [(r["config"], r["seed"]) for r in lines if r["section"] == "train"]
    assert trained == [("ars", 0), ("ars --no-preset", 0), ("ars", 1), ("ars --no-preset", 1)]
    assert not any(r.get("error") for r in lines)
    assert {r["seeds"] and len(r["seeds"]) for r in lines if r["section"] == "solve"} == {2}

    calls.clear()  # a finished suite resumed again: nothing run, the same records
    assert bench.main(["--out", str(out), "--resume"]) == 0 and calls == []
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r for r in again if r["section"] == "train"] == [r for r in lines if r["section"] == "train"]

    for extra in (["--seeds", "3"], ["--suite", "tabular"]):  # the arguments are the first invocation's
        with pytest.raises(SystemExit) as refused:
            bench.main(["--out", str(out), "--resume", *extra])
        assert refused.value.code == 2
    (tmp_path / "not-a-benchmark.jsonl").write_text('{"section": "train"}\n')
    (tmp_path / "a-list.jsonl").write_text("[]\n")
    for missing in ("nowhere.jsonl", "not-a-benchmark.jsonl", "a-list.jsonl"):  # nothing to resume
        with pytest.raises(SystemExit) as refused:
            bench.main(["--out", str(tmp_path / missing), "--resume"])
        assert refused.value.code == 2

    runs = tmp_path / "mujoco.runs"  # a fresh run replaces the folder the benchmark made
    (runs / "stale").mkdir()
    calls.clear()
    assert bench.main([*argv, "--out", str(out)]) == 0 and len(calls) == 4
    assert runs.is_dir() and not (runs / "stale").exists()
    (tmp_path / "other.runs").mkdir()  # a folder the benchmark did not make is never replaced
    (tmp_path / "other.runs" / "mine").write_text("keep")
    with pytest.raises(SystemExit) as refused:
        bench.main([*argv, "--out", str(tmp_path / "other.jsonl")])
    assert refused.value.code == 2 and (tmp_path / "other.runs" / "mine").read_text() == "keep"


def test_a_stopped_run_of_ours_continues_from_its_checkpoint_and_a_finished_one_is_read(
    bench, suites, tmp_path, monkeypatch
) -> None:
    runners = importlib.import_module("runners")
    folder = tmp_path / "runs" / "cem" / "CartPole-v1" / "seed0"
    cli = runners.cli_path()
    cmd = [
        cli,
        "train",
        "cem",
        "--env",
        "CartPole-v1",
        "--max-iterations",
        "2",
        "--out",
        str(folder),
        "--quiet",
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    ended = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").unlink()  # as if the benchmark had been stopped before the end
    job = runners.Job(suites.Config("cem", "CartPole-v1"), 475.0, 30.0, None)
    rec = runners.run_ours(job, 0, folder)
    assert "error" not in rec and rec["resumed"] is True
    assert "process_s" not in rec and rec["last_piece_s"] > 0  # not the whole run's: out of the medians
    assert (rec["iterations"], rec["env_steps"]) == (2, ended["env_steps"])  # its stored budget held
    assert rec["wall_time_s"] >= ended["wall_time_s"]  # summed over the two pieces
    assert str(folder) in rec["cmd"]

    def no_run(*args, **kwargs):
        raise AssertionError("a finished run was run again")

    monkeypatch.setattr(runners.subprocess, "run", no_run)
    again = runners.run_ours(job, 0, folder)
    assert again["env_steps"] == rec["env_steps"] and "resumed" not in again


def test_presets_on_or_off_keeps_only_the_runs_as_is_or_only_those_without_presets(bench) -> None:
    def labels(*extra: str) -> list[str]:
        [(_, _, jobs, _)] = plan_for(bench, ["--suite", "mujoco", "--envs", "HalfCheetah-v5", *extra])
        return [j.config.label for j in jobs]

    assert labels("--presets", "on") == ["ars", "es"]
    assert labels("--presets", "off", "--algos", "ars") == ["ars --no-preset"]
    assert labels() == ["ars", "ars --no-preset", "es", "es --no-preset"]
    [(_, _, jobs, _)] = plan_for(
        bench, ["--suite", "solve", "--envs", "Pendulum-v1=-200", "--presets", "off"]
    )
    assert all("--no-preset" in j.config.extra for j in jobs) and jobs  # an env outside the suite too


def test_the_pixel_benchmark_measures_ale_pys_own_vector_env_beside_gymnasiums_wrappers() -> None:
    """benchmarks/pixels.py's yardstick: ale-py's C++ vector env on one thread, random actions."""
    pytest.importorskip("ale_py")
    scripts = load_script(RUN_PY.parent / "pixels.py", "benchmarks_pixels", ("scaling",))
    pixels = next(scripts)
    try:
        vec = pixels.ale_vector_rate("ALE/Pong-v5", 2, 0.05)
    finally:
        next(scripts, None)
    assert vec["steps"] >= 2 and vec["steps"] % 2 == 0 and vec["wall"] > 0 and vec["cpu"] > 0


def test_the_pixel_benchmark_plays_each_candidates_episodes_side_by_side() -> None:
    """``--episodes-per-candidate K``: each call plays the population's K sessions per candidate."""
    scripts = load_script(RUN_PY.parent / "pixels.py", "benchmarks_pixels", ("scaling",))
    pixels = next(scripts)
    try:
        options = pixels.EnvOptions(kwargs={"max_episode_steps": 20})
        rates = [
            pixels.sampler_rate("policysearch/Catch-v0", options, None, 4, 4, 200_000, 0.01, k)
            for k in (1, 3)
        ]
    finally:
        next(scripts, None)
    assert [r["per_call"] for r in rates] == [4, 12]
    assert all(r["steps"] >= r["per_call"] and r["params"] > 0 for r in rates)


def test_the_port_of_ars_runs_beside_a_run_folder_and_v1_policies_are_checked(tmp_path: Path) -> None:
    """benchmarks/ars_reference.py, once and small: the port trains with the run's hyperparameters
    and its rows stand beside the run's; a policy that is not Humanoid-v1's is one line."""
    import subprocess
    import sys

    from policysearch import ARS as ARSAgent

    folder = tmp_path / "run"
    with ARSAgent("Hopper-v5", seed=0, out=folder, directions=4, top_directions=2) as agent:
        agent.train(max_iterations=2)
    script = [sys.executable, str(RUN_PY.parent / "ars_reference.py")]
    done = subprocess.run([*script, str(folder), "--iterations", "2", "--every", "1", "--workers", "1"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(N=4, b=2, alpha=0.01, nu=0.025, V2, shift 1, 1 worker process)" in done.stdout
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith(("| 1 ", "| 2 "))]
    assert [r[1].strip() for r in rows] == ["8", "16"]
    assert all(float(r[3]) != 0 and float(r[5]) != 0 for r in rows)  # both curves, side by side
    wrong = tmp_path / "lin_policy_plus.npz"
    np.savez(wrong, np.array([np.zeros((3, 11)), np.zeros(11), np.ones(11)], dtype=object))
    done = subprocess.run([*script, "--ars-policy", str(wrong)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.strip().endswith("not (17, 376))"), done.stderr


def test_the_port_of_ars_plays_each_direction_as_a_mirrored_pair_and_counts_every_state(
    port: ModuleType,
) -> None:
    """ars_reference.rollouts: r+ is M + nu delta's return and r- M - nu delta's, replayed here
    by hand, and the states' statistics are those of every observation acted on."""
    from policysearch.envs import make_env

    rng = np.random.default_rng(0)
    matrix, deltas = rng.normal(size=(1, 3)), rng.normal(size=(2, 1, 3))
    mean, std = np.array([0.1, -0.2, 0.3]), np.array([0.5, 2.0, np.inf])
    shifted, plain, count, state_mean, state_m2, steps = port.rollouts(
        ("Pendulum-v1", matrix, mean, std, deltas, 0.5, 1.0, 100)
    )
    env = make_env("Pendulum-v1")
    seen = []
    for k in range(2):
        for j, sign in enumerate((1.0, -1.0)):
            obs, _ = env.reset(seed=100 + 2 * k + j)
            total, done = 0.0, False
            while not done:
                seen.append(obs)
                action = np.clip((matrix + sign * 0.5 * deltas[k]) @ ((obs - mean) / (std + 1e-8)), -2.0, 2.0)
                obs, reward, terminated, truncated, _ = env.step(action)
                total, done = total + float(reward), terminated or truncated
            assert plain[k, j] == total and shifted[k, j] == pytest.approx(total - 200, rel=1e-9)
    seen = np.array(seen, dtype=np.float64)
    assert count == steps == len(seen) == 800
    np.testing.assert_allclose(state_mean, seen.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(state_m2, seen.var(axis=0) * len(seen), rtol=1e-9)


def test_the_minatar_heuristics_foresee_the_bounce_and_play_the_env_as_train_makes_it() -> None:
    """benchmarks/minatar_heuristics.py: the landing column follows MinAtar's wall rule, and both
    hand-written policies play whole episodes of MinAtar Breakout."""
    pytest.importorskip("minatar")
    path = RUN_PY.parent / "minatar_heuristics.py"
    scripts = load_script(path, "benchmarks_minatar_heuristics", ("scaling",))
    heuristics = next(scripts)
    try:
        # from row 5, column 8, moving right: (6, 9), the wall at (7, 9), (8, 8), then column 7
        assert heuristics.landing_column(5, 8, 1) == 7
        assert heuristics.landing_column(7, 3, -1) == 1  # (8, 2), then the paddle's row at column 1
        results = {name: heuristics.play(policy, 2) for name, policy in heuristics.POLICIES.items()}
    finally:
        next(scripts, None)
    for played in results.values():
        assert played["mean_steps"] >= 1 and played["longest"] <= 27_000 and played["best"] >= 0
