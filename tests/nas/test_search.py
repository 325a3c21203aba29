"""Random search and regularized evolution (cnnlab.nas.search), Real et al. (2019)."""

import json
import random

import pytest

from cnnlab.errors import CheckpointError, ConfigError
from cnnlab.nas.search import SearchConfig, SearchLog, run_search
from cnnlab.nas.space import SearchSpace

SPACE = SearchSpace(blocks=2)


def fake_accuracy(genotype) -> float:
    """A deterministic score: the share of separable convolutions in the normal cell."""
    ops = [op for b in genotype.normal.blocks for op in (b.left_op, b.right_op)]
    return sum(op.startswith("sep_conv") for op in ops) / len(ops)


class CountingEvaluate:
    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, genotype, index):
        self.calls.append(index)
        return fake_accuracy(genotype), 100 + index


def search(tmp_path, strategy="evolution", evaluate=None, **config):
    config = SearchConfig(strategy=strategy, budget=60, **{"max_candidates": 12, **config})
    return run_search(SPACE, config, evaluate or CountingEvaluate(), tmp_path)


@pytest.mark.parametrize("strategy", ["random", "evolution"])
def test_same_seed_gives_the_same_candidates(tmp_path, strategy):
    first = search(tmp_path / "a", strategy, seed=5)
    second = search(tmp_path / "b", strategy, seed=5)
    assert [c.genotype for c in first] == [c.genotype for c in second]
    other = search(tmp_path / "c", strategy, seed=6)
    assert [c.genotype for c in first] != [c.genotype for c in other]


def test_evolution_starts_from_a_random_population_then_mutates_tournament_winners(tmp_path):
    history = search(tmp_path, population=4, sample_size=2, max_candidates=10)
    assert [c.parent for c in history[:4]] == [None] * 4
    for child in history[4:]:
        assert child.parent is not None and child.parent < child.index
        parent = history[child.parent]
        differences = sum(
            a != b
            for cell in ("normal", "reduce")
            for x, y in zip(
                getattr(parent.genotype, cell).blocks,
                getattr(child.genotype, cell).blocks,
                strict=True,
            )
            for a, b in zip(vars(x).values(), vars(y).values(), strict=True)
        )
        assert differences == 1


def test_aging_removes_the_oldest_so_only_recent_candidates_are_parents(tmp_path):
    history = search(tmp_path, population=3, sample_size=3, max_candidates=12)
    for child in history[3:]:
        # with S = P the tournament sees the whole population: the last 3 candidates
        alive = history[child.index - 3 : child.index]
        assert child.parent in {c.index for c in alive}
        assert history[child.parent].accuracy == max(c.accuracy for c in alive)


def test_evolution_concentrates_on_good_candidates_unlike_random_search(tmp_path):
    def late_mean(history):
        return sum(c.accuracy for c in history[-20:]) / 20

    evolved = search(tmp_path / "e", population=6, sample_size=3, max_candidates=60, seed=1)
    sampled = search(tmp_path / "r", "random", max_candidates=60, seed=1)
    assert late_mean(evolved) > 2 * late_mean(sampled)


def test_every_candidate_is_written_as_a_json_line_and_the_best_summarized(tmp_path):
    history = search(tmp_path, "random", max_candidates=5)
    lines = (tmp_path / "candidates.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["index"] for r in records] == [0, 1, 2, 3, 4]
    assert {"genotype", "accuracy", "params", "seconds"} <= set(records[0])
    summary = json.loads((tmp_path / "search.json").read_text())
    assert summary["best"]["accuracy"] == max(c.accuracy for c in history)
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_stopped_search_resumes_without_training_again(tmp_path):
    full = search(tmp_path / "full", population=3, sample_size=2, max_candidates=9)
    evaluate = CountingEvaluate()
    search(tmp_path / "resumed", evaluate=evaluate, population=3, sample_size=2, max_candidates=5)
    assert evaluate.calls == [0, 1, 2, 3, 4]
    evaluate.calls.clear()
    resumed = search(
        tmp_path / "resumed", evaluate=evaluate, population=3, sample_size=2, max_candidates=9
    )
    assert evaluate.calls == [5, 6, 7, 8]
    assert [c.genotype for c in resumed] == [c.genotype for c in full]


def test_resuming_with_another_seed_is_refused(tmp_path):
    search(tmp_path, "random", seed=0, max_candidates=2)
    with pytest.raises(CheckpointError, match="another seed"):
        search(tmp_path, "random", seed=1, max_candidates=3)


def test_a_corrupt_log_is_a_checkpoint_error(tmp_path):
    (tmp_path / "candidates.jsonl").write_text('{"index": 0}\n')
    with pytest.raises(CheckpointError, match="line 1"):
        SearchLog(tmp_path)


def test_the_wall_time_budget_stops_the_search(tmp_path):
    def slow(genotype, index):
        import time

        time.sleep(0.05)
        return 0.5, 1

    config = SearchConfig(strategy="random", budget=0.2)
    history = run_search(SPACE, config, slow, tmp_path)
    assert 1 <= len(history) <= 6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "grid"},
        {"budget": 0},
        {"population": 2, "sample_size": 3},
        {"max_candidates": 0},
    ],
)
def test_bad_search_settings_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        SearchConfig(**kwargs)


def test_random_module_state_does_not_leak_into_the_search(tmp_path):
    random.seed(123)
    first = search(tmp_path / "a", "random", max_candidates=3)
    random.seed(999)
    second = search(tmp_path / "b", "random", max_candidates=3)
    assert [c.genotype for c in first] == [c.genotype for c in second]
