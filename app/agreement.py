"""Agreement statistics: Krippendorff's alpha, the scoring rule's median, and distances.

Alpha comes from the `krippendorff` package (Castro Santiago's implementation, checked in
tests/test_agreement.py against Krippendorff's own worked examples). MCX's data are units
(one criterion of one submitted version) each scored by whichever reviewers took it, so
they are passed as the value-count matrix (units x levels), which needs no coder identity
and handles missing data as alpha does: a unit scored once is not pairable and drops out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import krippendorff
import numpy as np

Level = Literal["nominal", "ordinal", "interval", "ratio"]


def alpha(units: Sequence[Sequence[int]], *, level: Level = "ordinal") -> float | None:
    """Krippendorff's alpha over units, each the list of values its coders gave.

    None when alpha is undefined: fewer than two pairable values, or no variation at all
    (every value the same, so expected disagreement is zero).
    """
    pairable = [list(unit) for unit in units if len(unit) >= 2]
    values = sorted({v for unit in pairable for v in unit})
    if len(values) < 2:
        return None
    index = {v: i for i, v in enumerate(values)}
    counts = np.zeros((len(pairable), len(values)), dtype=float)
    for row, unit in enumerate(pairable):
        for v in unit:
            counts[row, index[v]] += 1
    result = float(
        krippendorff.alpha(value_counts=counts, value_domain=values, level_of_measurement=level)
    )
    return None if math.isnan(result) else result


def alpha_from_coders(
    data: Sequence[Sequence[float | None]], *, level: Level = "ordinal"
) -> float | None:
    """Alpha from a coders x units table with None for missing (the literature's layout)."""
    units: list[list[int]] = []
    for column in zip(*data, strict=True):
        units.append([int(v) for v in column if v is not None])
    return alpha(units, level=level)


def median_level(levels: Sequence[int]) -> int:
    """The scoring rule for one criterion: the median of the counted reviews' levels.

    With an even count the lower of the two middle levels counts: a level is credited only
    when at least half of the reviewers gave it or higher, so two reviewers split between
    "meets" and "approaching" credit "approaching". Never an invented in-between level.
    """
    if not levels:
        raise ValueError("median of no levels")
    ordered = sorted(levels)
    return ordered[(len(ordered) - 1) // 2]


def distance(level: int, reference: int, top: int) -> float:
    """How far a level is from a reference, as a share of the rubric's range (0 to 1)."""
    return abs(level - reference) / top if top > 0 else 0.0


# Trust weighting (a credential's `trust_weighted` policy): a reviewer's weight is their
# known-answer accuracy, shrunk towards ACCURACY_PRIOR while checks are few, then held between
# WEIGHT_FLOOR and WEIGHT_CAP, and never more than everyone else's together.
WEIGHT_FLOOR, WEIGHT_CAP = 0.25, 1.0
ACCURACY_PRIOR, PRIOR_CHECKS = 0.75, 1.0


def accuracy_weight(score: float | None, checks: int) -> float:
    """A reviewer's weight from their mean known-answer credit (0-1) over `checks` checks."""
    shrunk = (ACCURACY_PRIOR * PRIOR_CHECKS + (score or 0.0) * checks) / (PRIOR_CHECKS + checks)
    return min(WEIGHT_CAP, max(WEIGHT_FLOOR, shrunk))


def weighted_level(levels: Sequence[int], weights: Sequence[float]) -> int:
    """The trust-weighted scoring rule for one criterion: the highest level that reviewers
    holding more than half the weight gave or exceeded.

    Each weight is held between the floor and the cap and then to no more than the other
    reviewers' weights together, so no single reviewer decides alone: with two reviewers
    the weights become equal (the lower level counts, as median_level), and a lone trusted
    reviewer at most ties with the rest, a tie counting the lower level. Equal weights give
    median_level exactly.
    """
    if not levels:
        raise ValueError("weighted level of no levels")
    if len(weights) != len(levels):
        raise ValueError("one weight per level")
    held = [min(WEIGHT_CAP, max(WEIGHT_FLOOR, w)) for w in weights]
    if len(held) > 1:
        total = sum(held)
        held = [min(w, total - w) for w in held]
    total = sum(held)
    for level in sorted(set(levels), reverse=True):
        if sum(w for lv, w in zip(levels, held, strict=True) if lv >= level) > total / 2:
            return level
    return min(levels)
