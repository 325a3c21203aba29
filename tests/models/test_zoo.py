"""Every registered model against what it is registered to match.

Parameter counts equal torchvision's exactly where torchvision has the
architecture, and lie within 1 % of the published figure otherwise (or within
half the unit of its last printed digit, when the source rounds it coarser than
that: ``Reference.params_rounding``); multiply-adds lie within 2 % of the
published figure.  The figures and their sources are data next to each model
(``register_model(reference=...)``).
"""

import pytest

from cnnlab.models import list_models
from cnnlab.models.registry import model_info
from tests.models.zoo_checks import (
    meta_model,
    meta_torchvision_model,
    multiply_adds,
    parameter_count,
)

WITH_TORCHVISION = [n for n in list_models() if model_info(n).torchvision]
WITH_PARAMS = [n for n in list_models() if (r := model_info(n).reference) and r.params]
WITH_MACS = [n for n in list_models() if (r := model_info(n).reference) and r.macs]


@pytest.mark.parametrize("name", WITH_TORCHVISION)
def test_parameter_count_equals_torchvision(name):
    assert parameter_count(meta_model(name)) == parameter_count(meta_torchvision_model(name))


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_parameter_count_within_one_percent_or_rounding_of_paper(name):
    ref = model_info(name).reference
    model = meta_model(name, num_classes=ref.num_classes, in_chans=ref.input_shape[0])
    # "12M" only says the count lies in [11.5M, 12.5M): half a unit of the last printed digit.
    tolerance = max(0.01 * ref.params, (ref.params_rounding or 0) / 2)
    assert abs(parameter_count(model) - ref.params) <= tolerance, ref.source


@pytest.mark.parametrize("name", WITH_MACS)
def test_multiply_adds_within_two_percent_of_paper(name):
    ref = model_info(name).reference
    model = meta_model(name, num_classes=ref.num_classes, in_chans=ref.input_shape[0])
    assert multiply_adds(model, ref.input_shape) == pytest.approx(ref.macs, rel=0.02), ref.source
