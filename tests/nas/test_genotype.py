"""Genotypes and the search space (cnnlab.nas.genotype, cnnlab.nas.space)."""

import json
import random

import pytest

from cnnlab.errors import ConfigError
from cnnlab.nas.genotype import NASNET_A, Block, CellGenotype, Genotype
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


def test_genotype_round_trips_through_json():
    data = json.loads(json.dumps(NASNET_A.to_dict()))
    assert Genotype.from_dict(data) == NASNET_A


def test_nasnet_a_normal_cell_keeps_the_previous_input_in_its_output():
    assert NASNET_A.normal.concat == (1, 2, 3, 4, 5, 6)
    assert NASNET_A.reduce.concat == (3, 4, 5, 6)


def test_default_concat_is_the_unused_block_outputs():
    cell = CellGenotype.from_blocks(
        (Block("conv_3x3", 0, "identity", 1), Block("sep_conv_3x3", 2, "max_pool_3x3", 0))
    )
    assert cell.concat == (3,)


def test_a_block_cannot_read_a_later_state():
    with pytest.raises(ConfigError, match=r"only states 0\.\.2 exist"):
        CellGenotype(
            (Block("conv_3x3", 0, "identity", 1), Block("conv_3x3", 3, "identity", 0)), (2,)
        )


def test_unknown_operation_in_a_genotype_is_a_config_error():
    with pytest.raises(ConfigError, match="conv_9x9"):
        CellGenotype((Block("conv_9x9", 0, "identity", 1),), (2,))
    with pytest.raises(ConfigError, match="Not a genotype"):
        Genotype.from_dict({"normal": {}})


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
