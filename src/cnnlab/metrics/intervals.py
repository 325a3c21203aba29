"""Confidence intervals of a measured proportion, such as a test accuracy.

A test accuracy of k correct out of n images is an estimate; with n = 359
test images a 97.8 % accuracy is compatible with anything from about 95.7 % to
98.9 %.  The Wilson score interval (Wilson 1927, "Probable inference, the law
of succession, and statistical inference", JASA 22, eq. on p. 210) keeps its
coverage close to the nominal level even near 0 and 1, where the textbook
normal (Wald) interval p ± z·sqrt(p(1-p)/n) collapses:

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)
"""

from __future__ import annotations

import math
from statistics import NormalDist

from cnnlab.errors import ConfigError


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` of ``successes / total``.

    Parameters
    ----------
    successes
        number of correct predictions, 0 <= successes <= total.
    total
        number of trials (test images), >= 1.
    confidence
        two-sided level, in (0, 1); 0.95 gives z = 1.96.
    """
    if total < 1 or not 0 <= successes <= total:
        raise ConfigError(
            f"need 0 <= successes <= total and total >= 1, got {successes} of {total}."
        )
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}.")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)
