"""Command-line flags generated from the fields of `TrainConfig`.

A training knob is declared once, with `knob`; this
module turns each field into its argparse argument:

- the flag is ``--field-name``, or the field's ``flag`` (``adv_eps`` is ``--eps``);
  a switch that is on by default is turned off with ``--no-field-name``;
- the type comes from the annotation: ``int``, ``float`` (a decimal or a
  fraction such as ``8/255``), ``str``, ``bool`` (a switch), ``list[str]``
  (comma-separated: ``--classes a,b,c``) and ``dict`` (repeatable
  ``--model-arg KEY=VALUE``, each value read as YAML); ``X | None`` is ``X``;
- choices, metavar and help come from the field's metadata, and the help ends
  with the dataclass's default, so ``--help`` cannot drift from the code;
- the flags of one ``section`` form one argument group.

Every generated flag defaults to ``None`` (not given), so that `overrides`
returns exactly the fields a user gave, and only those override a ``--config`` file.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from fractions import Fraction
from functools import cache
from typing import Any

import yaml

from cnnlab.errors import ConfigError
from cnnlab.train.config import TrainConfig, auto_device, device_name, parse_number
from cnnlab.train.recipes import get_recipe


def command_line_fields() -> list[dataclasses.Field]:
    """The fields of `TrainConfig` that are flags of ``cnnlab train``, in order."""
    return [f for f in dataclasses.fields(TrainConfig) if f.metadata["command_line"]]


def config_field(name: str) -> dataclasses.Field:
    """The `TrainConfig` field ``name``."""
    return next(f for f in dataclasses.fields(TrainConfig) if f.name == name)


def field_default(spec: dataclasses.Field) -> Any:
    """The dataclass default of a field (a fresh one for ``list`` and ``dict`` fields)."""
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def add_training_flags(parser: argparse.ArgumentParser, skip: frozenset[str] = frozenset()) -> None:
    """Add a flag for every command-line field of `TrainConfig` but those named in
    ``skip`` (fields the command does not use), a group per section."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for spec in command_line_fields():
        if spec.name in skip:
            continue
        section = spec.metadata["section"]
        if section not in groups:
            groups[section] = parser.add_argument_group(section)
        add_field_flag(groups[section], spec.name)


def add_field_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    name: str,
    *,
    flag: str | None = None,
    default: Any = None,
) -> argparse.Action:
    """Add the flag of `TrainConfig` field ``name`` to ``parser``.

    ``flag`` replaces the generated flag (``cnnlab distill --temperature`` sets
    ``distill_temperature``); ``default`` is the value when the flag is not given
    (``None``: not given, the config decides), shown in the help instead of the
    dataclass's default. The parsed value is stored under the field's name.
    """
    spec = config_field(name)
    kind = value_type(spec)
    shown = field_default(spec) if default is None else default
    switch_off = kind is bool and shown
    generated = "--" + ("no-" if switch_off else "") + spec.name.replace("_", "-")
    flag = flag or spec.metadata["flag"] or generated
    options: dict[str, Any] = {"dest": spec.name, "default": default}
    help_text = spec.metadata["help"]
    if kind is bool:
        if switch_off:
            help_text = f"{help_text}: on by default; this flag turns it off"
        action = "store_false" if switch_off else "store_true"
        return parser.add_argument(flag, action=action, help=_escape(help_text), **options)
    options["type"] = _PARSERS[kind]
    if kind is dict:
        options["action"] = _KeyValueAction
    choices = spec.metadata["choices"]
    if choices is not None:
        options["choices"] = choices
    metavar = spec.metadata["metavar"]
    if metavar is None and choices is None:
        metavar = flag.lstrip("-").replace("-", "_").upper()
    if shown is not None:
        help_text = f"{help_text} (default: {shown_default(shown)})"
    return parser.add_argument(flag, metavar=metavar, help=_escape(help_text), **options)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The `TrainConfig` fields that ``args`` sets: the flags given, the defaults a
    subcommand gives its own flags (``finetune --freeze``) and its positional arguments
    named after a field (``finetune RUN`` is ``pretrained``).  ``--recipe NAME`` stands
    for the recipe's settings, under the other flags given."""
    given = {}
    for spec in dataclasses.fields(TrainConfig):
        value = getattr(args, spec.name, None)
        if value is not None:
            given[spec.name] = value
    if given.get("recipe") is not None:
        given = {**get_recipe(given["recipe"]).settings, **given}
    return given


@cache
def _type_hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def value_type(spec: dataclasses.Field) -> type:
    """A field's annotation reduced to ``int``, ``float``, ``str``, ``bool``, ``list`` or
    ``dict`` (``X | None`` is ``X``; ``list[str]`` is ``list``)."""
    annotation = _type_hints()[spec.name]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    kind = typing.get_origin(annotation) or annotation
    if kind not in (*_PARSERS, bool):
        raise TypeError(f"TrainConfig.{spec.name}: no command-line form for {annotation}.")
    return kind


def shown_default(value: Any) -> str:
    """A default as the help shows it: lists comma-separated, short fractions as fractions."""
    if isinstance(value, list):
        return ",".join(value) or "none"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "none"
    if isinstance(value, float):
        fraction = Fraction(value).limit_denominator(1000)
        short = fraction.denominator > 1 and len(str(fraction)) < len(str(value))
        if short and float(fraction) == value:
            return str(fraction)  # 8/255 rather than 0.03137254901960784
    return str(value)


def _number(text: str) -> float:
    """A decimal or a fraction (``0.1``, ``8/255``); anything else is a usage error."""
    try:
        return parse_number(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


DEVICE_HELP = "auto (CUDA, then MPS, then the CPU; the default), cpu, cuda, cuda:1, mps ..."


def device(text: str) -> str:
    """An argparse type: ``--device``; ``auto`` (the default) is CUDA, then MPS, then the CPU."""
    value = auto_device() if text == "auto" else text
    try:
        device_name("--device", value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def count(text: str) -> int:
    """An argparse type: a whole number >= 1 (``--top-k``, ``--count``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _comma_list(text: str) -> list[str]:
    return [item for item in text.split(",") if item]


def _key_value(text: str) -> tuple[str, Any]:
    """``'KEY=VALUE'`` as ``(KEY, VALUE)``, the value read as YAML (``bn=true``, ``c=[8, 16]``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: the value is not YAML ({exc})") from None


class _KeyValueAction(argparse.Action):
    """Collects repeated ``KEY=VALUE`` arguments into one dict."""

    def __call__(self, parser, namespace, values, option_string=None):
        key, value = values
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), key: value})


def _escape(help_text: str) -> str:
    return help_text.replace("%", "%%")  # argparse formats help with %


_PARSERS = {
    int: int,
    float: _number,
    str: str,
    list: _comma_list,
    dict: _key_value,
}
