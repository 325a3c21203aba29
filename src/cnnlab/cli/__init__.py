"""The ``cnnlab`` command line: one small function per subcommand, calling the API.

The subcommands live in one module per group:

- `cnnlab.cli.train`: ``train``, ``finetune``, ``distill``, ``lr-find``
- `cnnlab.cli.diagnose`: ``diagnose``
- `cnnlab.cli.evaluate`: ``evaluate``, ``predict``, ``report``
- `cnnlab.cli.embedding`: ``enroll`` (and ``predict`` of embedding runs)
- `cnnlab.cli.explain`: ``explain``
- `cnnlab.cli.attack`: ``attack``
- `cnnlab.cli.nas`: ``nas``
- `cnnlab.cli.deploy`: ``export``, ``quantize``, ``bench``
- `cnnlab.cli.inspect`: ``summary``, ``models``, ``datasets``, ``augment``

The training flags are generated from the fields of
`TrainConfig` (`cnnlab.cli.flags`).  Errors a
user can cause (`CnnlabError`) are printed as one
paragraph without a traceback, with exit status 2; output piped into a reader
that stops early (``cnnlab models | head``) ends quietly.  Nothing outside this
package imports it.
"""

from __future__ import annotations

import argparse
import os
import sys

from cnnlab.cli import (
    attack,
    deploy,
    diagnose,
    embedding,
    evaluate,
    experiment,
    explain,
    inspect,
    nas,
    train,
)
from cnnlab.errors import CnnlabError
from cnnlab.version import __version__

EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, the status of a shell tool whose reader went away
GROUPS = (train, diagnose, evaluate, embedding, explain, attack, nas, deploy, inspect, experiment)


def build_parser() -> argparse.ArgumentParser:
    """The ``cnnlab`` parser with every subcommand; ``args.func(args)`` runs the one given."""
    parser = argparse.ArgumentParser(
        prog="cnnlab", description="Convolutional neural networks: train, evaluate, explain."
    )
    parser.add_argument(
        "--version", action="version", version=f"cnnlab {__version__}", help="print the version"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(subparsers)
    return parser


def _take_trailing_images(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]
) -> None:
    """Let image paths follow the options (``cnnlab explain RUN --method saliency a.png``).

    argparse sub-commands cannot interleave a variable-length positional with
    options, so the paths it leaves over are appended to ``args.images`` for the
    commands that take images; anything else left over is an error, as usual.
    """
    if isinstance(getattr(args, "images", None), list):
        args.images.extend(item for item in extra if not item.startswith("-"))
        extra = [item for item in extra if item.startswith("-")]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    _take_trailing_images(parser, args, extra)
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try
        return status
    except CnnlabError as exc:
        print(f"cnnlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader stopped (`cnnlab models | head`): send what is still buffered to
        # /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


__all__ = ["build_parser", "main"]
