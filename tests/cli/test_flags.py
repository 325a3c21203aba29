"""Training flags are generated from TrainConfig's fields: a knob is declared once."""

import argparse
import ast
import dataclasses
from pathlib import Path

import pytest

from cnnlab.cli import build_parser
from cnnlab.cli.flags import overrides
from cnnlab.cli.train import LR_FIND_IGNORES
from cnnlab.train.config import TrainConfig, parse_number

SRC = Path(__file__).resolve().parents[2] / "src" / "cnnlab"
# cnnlab train's options that are no field
RUN_OPTIONS = {"out", "config", "quiet", "resume", "log", "log_histograms"}


def subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return subparsers.choices[command]


def parse(argv: list[str], command: str = "train") -> argparse.Namespace:
    return subparser(command).parse_args(argv)


def option_actions(command: str) -> dict[str, argparse.Action]:
    return {a.dest: a for a in subparser(command)._actions if a.option_strings and a.dest != "help"}


def default(spec: dataclasses.Field):
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


COMMAND_LINE = [f for f in dataclasses.fields(TrainConfig) if f.metadata["command_line"]]


def test_train_has_one_option_per_command_line_field_and_the_run_options():
    assert set(option_actions("train")) == {f.name for f in COMMAND_LINE} | RUN_OPTIONS


@pytest.mark.parametrize("command", ["finetune", "distill"])
def test_every_training_command_takes_every_command_line_field(command):
    assert {f.name for f in COMMAND_LINE} <= set(option_actions(command))


def test_lr_find_takes_every_field_but_those_the_range_test_ignores():
    used = {f.name for f in COMMAND_LINE} - LR_FIND_IGNORES
    assert used | {"start_lr", "end_lr", "steps", "out", "config", "quiet"} == set(
        option_actions("lr-find")
    )
    assert {f.name for f in COMMAND_LINE} >= LR_FIND_IGNORES  # no stale name


@pytest.mark.parametrize("spec", COMMAND_LINE, ids=lambda f: f.name)
def test_a_flag_shows_its_field_help_choices_and_default(spec):
    action = option_actions("train")[spec.name]
    help_text = action.help.replace("%%", "%")
    assert spec.metadata["help"] in help_text
    choices = spec.metadata["choices"]
    assert (tuple(action.choices) if action.choices else None) == choices
    value = default(spec)
    if isinstance(value, bool):
        assert "default:" not in help_text
        assert ("on by default" in help_text) == value
        assert action.option_strings == [("--no-" if value else "--") + flag_stem(spec)]
        return
    if value is None:
        assert "default:" not in help_text
        return
    shown = help_text.rsplit("(default: ", 1)[1].removesuffix(")")
    if isinstance(value, list | dict):
        assert shown == "none" and not value  # the only list and dict defaults are empty
    elif isinstance(value, float):
        assert parse_number(shown) == value
    else:
        assert shown == str(value)


def flag_stem(spec: dataclasses.Field) -> str:
    return spec.name.replace("_", "-")


def test_flag_names_come_from_the_field_or_its_metadata():
    actions = option_actions("train")
    assert actions["batch_size"].option_strings == ["--batch-size"]
    assert actions["adv_eps"].option_strings == ["--eps"]
    assert actions["model_kwargs"].option_strings == ["--model-arg"]
    assert actions["channels_last"].option_strings == ["--no-channels-last"]


def test_given_flags_are_exactly_the_overrides():
    argv = ["--lr", "0.1", "--no-channels-last", "--model-arg", "bn=true", "--eps", "8/255"]
    argv += ["--classes", "a,b"]
    assert overrides(parse(argv)) == {
        "lr": 0.1,
        "channels_last": False,
        "model_kwargs": {"bn": True},
        "adv_eps": 8 / 255,
        "classes": ["a", "b"],
    }


def test_no_flags_override_nothing():
    assert overrides(parse([])) == {}


def test_switches_and_repeated_model_args():
    args = parse(["--nesterov", "--model-arg", "channels=[8, 16]", "--model-arg", "bn=false"])
    assert overrides(args) == {"nesterov": True, "model_kwargs": {"channels": [8, 16], "bn": False}}


def test_every_float_flag_takes_a_decimal_or_a_fraction():
    assert overrides(parse(["--lr", "1/250", "--gamma", "0.5"])) == {"lr": 0.004, "gamma": 0.5}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--eps", "abc"], "fraction such as 0.1 or 8/255"),
        (["--model-arg", "bn"], "KEY=VALUE"),
        (["--optimizer", "lbfgs"], "invalid choice"),
        (["--epochs", "1.5"], "invalid int value"),
    ],
)
def test_a_malformed_flag_is_a_usage_error(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        parse(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_augment_is_a_comma_separated_list_that_train_config_accepts():
    given = overrides(parse(["--augment", "flip,crop:4"]))
    assert given == {"augment": ["flip", "crop:4"]}
    assert TrainConfig(**given).augment == ["flip", "crop:4"]
    assert overrides(parse(["--augment", ""])) == {"augment": []}


def test_finetune_and_distill_set_their_own_fields():
    finetune = overrides(parse(["RUN"], "finetune"))
    assert finetune == {"pretrained": "RUN", "freeze": "partial"}  # finetune's own default
    distill = overrides(parse(["TEACHER", "--temperature", "2", "--alpha", "1/2"], "distill"))
    assert distill == {"teacher": "TEACHER", "distill_temperature": 2.0, "distill_alpha": 0.5}


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("finetune", "freeze"),
        ("finetune", "lr_decay"),
        ("distill", "distill_temperature"),
        ("distill", "distill_alpha"),
    ],
)
def test_subcommand_flags_take_help_and_choices_from_their_field(command, name):
    action = option_actions(command)[name]
    spec = next(f for f in dataclasses.fields(TrainConfig) if f.name == name)
    assert spec.metadata["help"] in action.help
    assert (tuple(action.choices) if action.choices else None) == spec.metadata["choices"]


def _imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_nothing_outside_the_cli_imports_it():
    outside = [
        path
        for path in SRC.rglob("*.py")
        if path.relative_to(SRC).parts[0] not in ("cli", "__main__.py")
    ]
    assert outside
    importers = [
        str(path.relative_to(SRC))
        for path in outside
        if any(name == "cnnlab.cli" or name.startswith("cnnlab.cli.") for name in _imports_of(path))
    ]
    assert not importers, f"these modules import cnnlab.cli: {importers}"
