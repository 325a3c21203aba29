"""Neural architecture search over NASNet cells: the search space (genotypes as
data), the cell and network built from a genotype, and two search strategies
(random search and regularized evolution) under a wall-time budget.
"""

from cnnlab.nas.genotype import NASNET_A, Block, CellGenotype, Genotype

__all__ = ["NASNET_A", "Block", "CellGenotype", "Genotype"]
