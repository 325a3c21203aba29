"""The cell search space: drawing a random genotype and mutating one.

Zoph et al. (2018), Sec. 3: each of the B blocks of a cell picks two hidden
states among those made so far and an operation for each from the list of
`OPERATIONS`.  Real, Aggarwal, Huang & Le (2019),
"Regularized evolution for image classifier architecture search", AAAI, Sec. 2
and Fig. 2: a mutation either rewires one input of one block to another earlier
state ("hidden state mutation") or replaces one operation by another ("op
mutation"), each with probability 1/2, in the normal or the reduction cell
(also chosen at random).

All randomness comes from the ``random.Random`` passed in, so the same seed
draws the same genotypes.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

from cnnlab.errors import ConfigError
from cnnlab.models.nasnet_genotype import NUM_INPUTS, Block, CellGenotype, Genotype
from cnnlab.nn.nas_ops import OPERATIONS


@dataclass(frozen=True)
class SearchSpace:
    """Cells of ``blocks`` blocks whose operations come from ``operations``."""

    operations: tuple[str, ...] = tuple(OPERATIONS)
    blocks: int = 5

    def __post_init__(self) -> None:
        unknown = sorted(set(self.operations) - set(OPERATIONS))
        if unknown or len(self.operations) < 2:
            raise ConfigError(
                f"A search space needs at least two operations of {', '.join(OPERATIONS)}; "
                f"got {list(self.operations)}."
            )
        if self.blocks < 1:
            raise ConfigError(f"A cell needs at least one block, got blocks={self.blocks}.")

    def sample(self, rng: random.Random) -> Genotype:
        """A genotype drawn uniformly: every input and operation independently."""
        return Genotype(self._sample_cell(rng), self._sample_cell(rng))

    def _sample_cell(self, rng: random.Random) -> CellGenotype:
        blocks = []
        for b in range(self.blocks):
            states = NUM_INPUTS + b
            blocks.append(
                Block(
                    rng.choice(self.operations),
                    rng.randrange(states),
                    rng.choice(self.operations),
                    rng.randrange(states),
                )
            )
        return CellGenotype.from_blocks(tuple(blocks))

    def mutate(self, genotype: Genotype, rng: random.Random) -> Genotype:
        """A copy of ``genotype`` with one hidden-state or one op mutation (Real et al. 2019)."""
        which = rng.choice(("normal", "reduce"))
        cell: CellGenotype = getattr(genotype, which)
        b = rng.randrange(len(cell.blocks))
        side = rng.choice(("left", "right"))
        block = cell.blocks[b]
        if rng.random() < 0.5:
            field, current = f"{side}_input", getattr(block, f"{side}_input")
            choices: Sequence = [s for s in range(NUM_INPUTS + b) if s != current]
        else:
            field, current = f"{side}_op", getattr(block, f"{side}_op")
            choices = [op for op in self.operations if op != current]
        blocks = list(cell.blocks)
        blocks[b] = dataclasses.replace(block, **{field: rng.choice(choices)})
        return dataclasses.replace(genotype, **{which: CellGenotype.from_blocks(tuple(blocks))})
