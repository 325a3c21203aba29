"""The Wilson interval of an accuracy, against SciPy's binomial test."""

import pytest
from scipy.stats import binomtest

from cnnlab.errors import ConfigError
from cnnlab.metrics import wilson_interval


@pytest.mark.parametrize(
    ("successes", "total", "confidence"),
    [(351, 359, 0.95), (0, 20, 0.95), (20, 20, 0.95), (7, 10, 0.9), (5000, 10000, 0.99)],
)
def test_wilson_interval_equals_scipys(successes, total, confidence):
    expected = binomtest(successes, total).proportion_ci(confidence, method="wilson")
    low, high = wilson_interval(successes, total, confidence)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_the_interval_contains_the_estimate_and_shrinks_with_more_images():
    small = wilson_interval(9, 10)
    large = wilson_interval(900, 1000)
    assert small[0] < 0.9 < small[1] and large[0] < 0.9 < large[1]
    assert large[1] - large[0] < small[1] - small[0]


@pytest.mark.parametrize(
    ("successes", "total", "confidence"), [(3, 2, 0.95), (0, 0, 0.95), (1, 2, 1.0)]
)
def test_impossible_counts_are_refused(successes, total, confidence):
    with pytest.raises(ConfigError):
        wilson_interval(successes, total, confidence)
