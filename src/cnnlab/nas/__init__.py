"""Neural architecture search over NASNet cells: the search space (`.space`), two
search strategies, random search and regularized evolution, under a wall-time budget
(`.search`), the proxy task that scores a candidate (`.evaluate`) and the
``cnnlab nas`` command (`.cli`).

What is searched lives with the models: a genotype is data
(`cnnlab.models.nasnet_genotype`), the cell and the network built from it are
`cnnlab.models.nasnet_cell` and `cnnlab.models.nasnet`.
"""
