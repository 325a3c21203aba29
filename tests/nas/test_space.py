"""The cell search space: sampling and mutating genotypes (cnnlab.nas.space)."""

import random

import pytest

from cnnlab.errors import ConfigError
from cnnlab.models.nasnet_genotype import Genotype
from cnnlab.nas.space import SearchSpace


def diff(a: Genotype, b: Genotype) -> list[tuple[str, int, str]]:
    """(cell, block, field) of every difference between two genotypes."""
    out = []
    for cell in ("normal", "reduce"):
        for i, (x, y) in enumerate(
            zip(getattr(a, cell).blocks, getattr(b, cell).blocks, strict=True)
        ):
            for field in ("left_op", "left_input", "right_op", "right_input"):
                if getattr(x, field) != getattr(y, field):
                    out.append((cell, i, field))
    return out


def test_sampling_is_deterministic_given_the_seed():
    space = SearchSpace()
    assert space.sample(random.Random(3)) == space.sample(random.Random(3))
    assert space.sample(random.Random(3)) != space.sample(random.Random(4))


def test_samples_use_only_the_allowed_operations_and_earlier_states():
    space = SearchSpace(operations=("identity", "conv_3x3"), blocks=3)
    rng = random.Random(0)
    for _ in range(20):
        genotype = space.sample(rng)
        for cell in (genotype.normal, genotype.reduce):
            assert len(cell.blocks) == 3
            for b, block in enumerate(cell.blocks):
                assert {block.left_op, block.right_op} <= {"identity", "conv_3x3"}
                assert max(block.left_input, block.right_input) < 2 + b


def test_a_mutation_changes_exactly_one_input_or_operation():
    space, rng = SearchSpace(), random.Random(0)
    parent = space.sample(rng)
    kinds = set()
    for _ in range(30):
        changes = diff(parent, space.mutate(parent, rng))
        assert len(changes) == 1
        kinds.add(changes[0][2].split("_")[1])
    assert kinds == {"op", "input"}


def test_a_search_space_needs_two_known_operations_and_a_block():
    with pytest.raises(ConfigError):
        SearchSpace(operations=("identity",))
    with pytest.raises(ConfigError):
        SearchSpace(operations=("identity", "conv_9x9"))
    with pytest.raises(ConfigError):
        SearchSpace(blocks=0)
