"""The commands of embedding runs: ``enroll`` and ``predict`` (nearest identities).

``cnnlab enroll RUN DIR`` embeds the images of ``DIR/<identity>/`` and adds
them to the run's gallery, without retraining; ``cnnlab predict RUN img.png``
on an embedding run prints the enrolled identities nearest to each image.
"""

from __future__ import annotations

import argparse
from typing import Any

from cnnlab.tasks.metric_learning_eval import enroll, recognize


def add_parsers(subparsers: Any) -> None:
    """Add ``enroll``."""
    parser = subparsers.add_parser(
        "enroll", help="add the identities of an image folder to an embedding run's gallery"
    )
    parser.add_argument("run", metavar="RUN", help="a run trained with --task embedding")
    parser.add_argument("folder", metavar="DIR", help="DIR/<identity>/<images>")
    parser.set_defaults(func=enroll_command)


def enroll_command(args: argparse.Namespace) -> int:
    """``cnnlab enroll``: embed and enrol every identity of the folder."""
    counts = enroll(args.run, args.folder)
    for name, count in counts.items():
        print(f"enrolled {count} image{'s' if count != 1 else ''} of {name}")
    print(f"gallery of {args.run}: {len(counts)} identities added or extended")
    return 0


def predict_identities_command(args: argparse.Namespace) -> int:
    """``cnnlab predict`` on an embedding run: the nearest enrolled identities of each image."""
    for path, ranked in zip(args.images, recognize(args.run, args.images, args.top_k), strict=True):
        shown = ", ".join(f"{name} {distance:.3f}" for name, distance in ranked)
        print(f"{path}: {shown}  (identity distance; smaller is nearer)")
    return 0
