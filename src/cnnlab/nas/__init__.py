"""Neural architecture search over NASNet cells: the search space (:mod:`.space`), two
search strategies, random search and regularized evolution, under a wall-time budget
(:mod:`.search`), the proxy task that scores a candidate (:mod:`.evaluate`) and the
``cnnlab nas`` command (:mod:`.cli`).

What is searched lives with the models: a genotype is data
(:mod:`cnnlab.models.nasnet_genotype`), the cell and the network built from it are
:mod:`cnnlab.models.nasnet_cell` and :mod:`cnnlab.models.nasnet`.
"""
