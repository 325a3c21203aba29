"""`cnnlab bench`'s measurements: alternated engines, a Markdown table, torchvision twins."""

import torch
from torch import nn

from cnnlab.deploy.bench import bench_engines, format_table, state_size_mb, torchvision_twin


def test_every_engine_gets_every_repeat_and_the_table_a_row_each():
    calls = []
    engines = {
        name: ((lambda x, name=name: calls.append((name, len(x)))), 1.0) for name in ("a", "b")
    }
    results = bench_engines(engines, (1, 2, 2), repeats=4, batch_size=3, batch_repeats=2, warmup=1)
    assert [len(r.latencies_ms) for r in results] == [4, 4]
    assert [len(r.batch_seconds) for r in results] == [2, 2]
    # alternated: engine a and b take turns, batch-1 calls before the batches
    measured = calls[4:]  # after the warm-up (one batch-1 call and one batch each)
    assert [name for name, _ in measured] == ["a", "b"] * 6
    assert [size for _, size in measured] == [1] * 8 + [3] * 4
    table = format_table(results).splitlines()
    assert len(table) == 4 and table[2].startswith("| a |") and "1.00x" in table[2]


def test_torchvision_twin_is_the_same_architecture_and_only_for_rgb():
    twin = torchvision_twin("resnet18", 10, 3)
    assert sum(p.numel() for p in twin.parameters()) == 11_181_642
    assert torchvision_twin("resnet18", 10, 1) is None
    assert torchvision_twin("resnet20", 10, 3) is None


def test_model_size_counts_parameters_and_buffers_in_bytes():
    assert state_size_mb(nn.BatchNorm2d(1000)) == (4 * 1000 * 4 + 8) / 1e6
    assert state_size_mb(nn.Linear(10, 10).to(torch.float16)) == 220 / 1e6
