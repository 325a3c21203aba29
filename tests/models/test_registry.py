"""The model registry (cnnlab.models.registry): one way to register a model."""

import importlib

import pytest

from cnnlab.models import list_models, model_description, model_info
from cnnlab.models.resnet import resnet50


@pytest.mark.parametrize("name", list_models())
def test_every_model_is_a_module_level_function_of_its_name(name):
    builder = model_info(name).builder
    module = importlib.import_module(builder.__module__)
    assert builder.__name__ == builder.__qualname__ == name
    assert getattr(module, name) is builder


@pytest.mark.parametrize("name", list_models())
def test_every_model_has_a_docstring_whose_first_line_describes_it(name):
    doc = model_info(name).builder.__doc__
    assert doc and doc.strip()
    assert model_description(name) == doc.strip().splitlines()[0]


def test_a_model_can_be_imported_from_its_family_by_name():
    assert model_info("resnet50").builder is resnet50
