"""Genotypes: a convolutional cell written as data (Zoph et al. 2018, Sec. 3, Fig. 3).

A cell has two inputs, the outputs of the previous two cells, numbered
``0`` (the previous cell, h_i) and ``1`` (the one before, h_{i-1}), as in
NASNet's reference implementation.  It then builds B = 5 blocks; block b picks
two of the states made so far (inputs 0 and 1, or the output of an earlier
block, numbered 2, 3, ...), applies an operation to each and adds the results;
its output is state b + 2.  The cell's output concatenates the states listed in
``concat`` along the channels (by default those no block uses, "all of the
unused hidden states ... are concatenated together in depth", Sec. 3).

A `Genotype` is a normal cell (keeps the resolution) and a reduction
cell (operations on the two inputs have stride 2).  It round-trips through
JSON (`Genotype.to_dict` / `Genotype.from_dict`), so an
architecture search can write its candidates down and a network can be rebuilt
from a file (`cnnlab.models.nasnet.NASNet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnnlab.errors import ConfigError
from cnnlab.nn.nas_ops import OPERATIONS

NUM_INPUTS = 2


@dataclass(frozen=True)
class Block:
    """Two (operation, input state) pairs whose results are added."""

    left_op: str
    left_input: int
    right_op: str
    right_input: int


@dataclass(frozen=True)
class CellGenotype:
    """The blocks of one cell and the states its output concatenates."""

    blocks: tuple[Block, ...]
    concat: tuple[int, ...]

    def __post_init__(self) -> None:
        for b, block in enumerate(self.blocks):
            for op, state in (
                (block.left_op, block.left_input),
                (block.right_op, block.right_input),
            ):
                if op not in OPERATIONS:
                    raise ConfigError(
                        f"Unknown operation {op!r} in block {b}; valid: {', '.join(OPERATIONS)}."
                    )
                if not 0 <= state < NUM_INPUTS + b:
                    raise ConfigError(
                        f"Block {b} takes state {state}, but only states 0..{NUM_INPUTS + b - 1} "
                        "exist before it (2 inputs, then one per earlier block)."
                    )
        states = NUM_INPUTS + len(self.blocks)
        if not self.concat or any(not 0 <= s < states for s in self.concat):
            raise ConfigError(f"concat must name states in 0..{states - 1}, got {self.concat}.")

    @classmethod
    def from_blocks(cls, blocks: tuple[Block, ...]) -> CellGenotype:
        """A cell whose output concatenates every block output no other block uses."""
        used = {s for b in blocks for s in (b.left_input, b.right_input)}
        unused = tuple(s for s in range(NUM_INPUTS, NUM_INPUTS + len(blocks)) if s not in used)
        return cls(tuple(blocks), unused)

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocks": [[b.left_op, b.left_input, b.right_op, b.right_input] for b in self.blocks],
            "concat": list(self.concat),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellGenotype:
        blocks = tuple(
            Block(str(lo), int(li), str(ro), int(ri)) for lo, li, ro, ri in data["blocks"]
        )
        return cls(blocks, tuple(int(s) for s in data["concat"]))


@dataclass(frozen=True)
class Genotype:
    """A normal cell and a reduction cell."""

    normal: CellGenotype
    reduce: CellGenotype

    def to_dict(self) -> dict[str, Any]:
        return {"normal": self.normal.to_dict(), "reduce": self.reduce.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genotype:
        try:
            return cls(
                CellGenotype.from_dict(data["normal"]), CellGenotype.from_dict(data["reduce"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"Not a genotype ({exc}): expected {{'normal': {{'blocks': [[op, input, op, "
                "input], ...], 'concat': [...]}}, 'reduce': {...}}."
            ) from exc


def _cell(rows: tuple[tuple[str, int, str, int], ...], concat: tuple[int, ...]) -> CellGenotype:
    return CellGenotype(tuple(Block(*row) for row in rows), concat)


# NASNet-A (Zoph et al. 2018, Fig. 4), as in the TF-slim reference implementation
# (nasnet_utils.NasNetANormalCell / NasNetAReductionCell): operations, hidden-state
# indices, and the states its output concatenates.
NASNET_A = Genotype(
    normal=_cell(
        (
            ("sep_conv_5x5", 0, "sep_conv_3x3", 1),
            ("sep_conv_5x5", 1, "sep_conv_3x3", 1),
            ("avg_pool_3x3", 0, "identity", 1),
            ("avg_pool_3x3", 1, "avg_pool_3x3", 1),
            ("sep_conv_3x3", 0, "identity", 0),
        ),
        concat=(1, 2, 3, 4, 5, 6),
    ),
    reduce=_cell(
        (
            ("sep_conv_5x5", 0, "sep_conv_7x7", 1),
            ("max_pool_3x3", 0, "sep_conv_7x7", 1),
            ("avg_pool_3x3", 0, "sep_conv_5x5", 1),
            ("identity", 3, "avg_pool_3x3", 2),
            ("sep_conv_3x3", 2, "max_pool_3x3", 0),
        ),
        concat=(3, 4, 5, 6),
    ),
)
