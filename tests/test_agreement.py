"""Krippendorff's alpha against the published worked examples, and the scoring rule's median.

The reliability data and the figures are from Krippendorff, K. (2011). Computing
Krippendorff's Alpha-Reliability. Annenberg School for Communication, University of
Pennsylvania (https://repository.upenn.edu/asc_papers/43): section A (binary data, two
observers, no missing data: alpha 0.095), section B (nominal data, two observers: 0.692) and
section C (four observers, twelve units, missing data: nominal 0.743, ordinal 0.815,
interval 0.849, ratio 0.797).
"""

from __future__ import annotations

import pytest

from app.agreement import alpha, alpha_from_coders, median_level

N = None
FOUR_OBSERVERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_four_observers_with_missing_data(level: str, published: float) -> None:
    assert round(alpha_from_coders(FOUR_OBSERVERS, level=level) or 0, 3) == published  # type: ignore[arg-type]


def test_binary_two_observers() -> None:
    data = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
    assert round(alpha_from_coders(data, level="nominal") or 0, 3) == 0.095


def test_nominal_two_observers() -> None:
    code = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    a = [code[x] for x in "a a b b d c c c e d d a".split()]
    b = [code[x] for x in "b a b b b c c c e d d d".split()]
    assert round(alpha_from_coders([a, b], level="nominal") or 0, 3) == 0.692


def test_units_layout_matches_the_coder_layout() -> None:
    """MCX passes units (whoever scored them), not coders: the same figure comes out."""
    units = [[v for v in column if v is not None] for column in zip(*FOUR_OBSERVERS, strict=True)]
    assert round(alpha(units) or 0, 3) == 0.815  # type: ignore[arg-type]


def test_alpha_is_undefined_without_pairs_or_variation() -> None:
    assert alpha([[2], [3]]) is None  # no unit scored twice
    assert alpha([[2, 2], [2, 2]]) is None  # no variation: expected disagreement is zero
    assert alpha([[0, 3], [3, 0]]) is not None and alpha([[0, 3], [3, 0]]) < 0  # type: ignore[operator]


def test_median_level_takes_the_lower_middle_for_an_even_count() -> None:
    assert median_level([2]) == 2
    assert median_level([3, 1, 2]) == 2
    assert median_level([1, 2]) == 1
    assert median_level([3, 0, 2, 2]) == 2
    assert median_level([0, 3, 3, 1]) == 1
    with pytest.raises(ValueError, match="no levels"):
        median_level([])
