"""``cnnlab nas``: search NASNet cells on a data set under a wall-time budget.

Example:

    cnnlab nas --dataset fashion-mnist --data-dir ../shared/datasets/fashion-mnist \\
        --strategy evolution --budget 600 --subset 2000 --epochs 1 --out runs/nas

writes ``runs/nas/candidates.jsonl`` (one line per candidate: genotype,
validation accuracy, parameters, seconds) and ``runs/nas/search.json`` (the
best candidate); the same command on the same folder resumes a stopped search.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cnnlab.nas.search import STRATEGIES, Candidate, SearchConfig, check_out_dir, run_search
from cnnlab.nas.space import SearchSpace


def add_parsers(subparsers: Any) -> None:
    """Add ``nas`` (its ``func`` runs the search)."""
    parser = subparsers.add_parser(
        "nas", help="search NASNet cells (random search or regularized evolution)"
    )
    parser.add_argument("--dataset", default="fashion-mnist", help="data set name")
    parser.add_argument("--data-dir", help="folder with the data set files")
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="evolution",
        help="random search or regularized evolution (Real et al. 2019; default evolution)",
    )
    parser.add_argument(
        "--budget", type=float, required=True, help="seconds of search (training time)"
    )
    parser.add_argument("--subset", type=int, default=2000, help="training images per candidate")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs per candidate")
    parser.add_argument("--out", default="runs/nas", help="output folder (resumed if present)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    parser.add_argument("--population", type=int, default=8, help="P of regularized evolution")
    parser.add_argument("--sample-size", type=int, default=3, help="S of regularized evolution")
    parser.add_argument("--max-candidates", type=int, help="stop after this many candidates")
    parser.add_argument("--blocks", type=int, default=5, help="blocks per cell (B)")
    parser.add_argument("--cells", type=int, default=1, help="normal cells per stack")
    parser.add_argument("--filters", type=int, default=8, help="filters of the first stack")
    parser.add_argument("--quiet", action="store_true", help="print only the best candidate")
    parser.set_defaults(func=nas_command)


def nas_command(args: argparse.Namespace) -> int:
    """Run the search described by ``args``; print each candidate and the best one."""
    from cnnlab.data import load_data
    from cnnlab.nas.evaluate import ProxyTask, evaluate_genotype, proxy_data

    config = SearchConfig(
        strategy=args.strategy,
        budget=args.budget,
        seed=args.seed,
        population=args.population,
        sample_size=args.sample_size,
        max_candidates=args.max_candidates,
    )
    task = ProxyTask(cells=args.cells, filters=args.filters, epochs=args.epochs)
    check_out_dir(args.out)
    data = proxy_data(
        load_data(args.dataset, args.data_dir, seed=args.seed), args.subset, args.seed
    )

    def evaluate(genotype, index: int):
        return evaluate_genotype(genotype, data, task, seed=args.seed + index)

    def progress(candidate: Candidate) -> None:
        if not args.quiet:
            print(_describe(candidate), file=sys.stderr)

    history = run_search(
        SearchSpace(blocks=args.blocks), config, evaluate, Path(args.out), progress
    )
    best = max(history, key=lambda c: c.accuracy)
    print(f"{len(history)} candidates; best: {_describe(best)}")
    print(f"results: {Path(args.out) / 'candidates.jsonl'}")
    return 0


def _describe(candidate: Candidate) -> str:
    return (
        f"#{candidate.index}: val acc {100 * candidate.accuracy:.1f} %, "
        f"{candidate.params:,} params, {candidate.seconds:.1f} s"
    )
