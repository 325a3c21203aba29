"""Genotypes: a NASNet cell written as data (cnnlab.models.nasnet_genotype)."""

import json

import pytest

from cnnlab.errors import ConfigError
from cnnlab.models.nasnet_genotype import NASNET_A, Block, CellGenotype, Genotype


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
