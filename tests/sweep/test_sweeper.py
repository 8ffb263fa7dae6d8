"""The green sweeper: every configuration × repetition exactly once, in a seeded, reproducible order."""

from __future__ import annotations

from collections import Counter

from hydra_plugins.green_mlflow_sweeper.green_sweeper import expand_and_shuffle

COMBINATIONS = [[f"runtime={r}", f"batch_size={b}"] for r in ("torch", "tf", "mxnet", "onnx") for b in (1, 64)]


def test_each_configuration_runs_once_per_repetition():
    jobs = expand_and_shuffle(COMBINATIONS, [3] * len(COMBINATIONS), shuffle=True, seed=7)
    assert len(jobs) == 24
    counts = Counter(tuple(job) for job in jobs)
    assert set(counts.values()) == {1}, "no job twice"
    for combination in COMBINATIONS:
        reps = sorted(job[-1] for job in jobs if job[:-1] == combination)
        assert reps == ["repetition=0", "repetition=1", "repetition=2"]


def test_same_seed_same_order_and_another_seed_another_order():
    first = expand_and_shuffle(COMBINATIONS, [3] * 8, shuffle=True, seed=0)
    again = expand_and_shuffle(COMBINATIONS, [3] * 8, shuffle=True, seed=0)
    other = expand_and_shuffle(COMBINATIONS, [3] * 8, shuffle=True, seed=1)
    assert first == again
    assert first != other and sorted(map(tuple, first)) == sorted(map(tuple, other))


def test_order_is_shuffled_across_configurations_not_grouped():
    jobs = expand_and_shuffle(COMBINATIONS, [5] * 8, shuffle=True, seed=0)
    configs = [tuple(job[:-1]) for job in jobs]
    runs_of_same = sum(1 for a, b in zip(configs, configs[1:]) if a == b)
    assert runs_of_same < 10, "repetitions of one configuration are interleaved with the others"


def test_no_shuffle_keeps_hydra_order_and_one_repetition_adds_no_override():
    assert expand_and_shuffle(COMBINATIONS, [1] * 8, shuffle=False, seed=0) == COMBINATIONS
    mixed = expand_and_shuffle(COMBINATIONS[:2], [1, 2], shuffle=False, seed=0)
    assert mixed == [COMBINATIONS[0], [*COMBINATIONS[1], "repetition=0"], [*COMBINATIONS[1], "repetition=1"]]
