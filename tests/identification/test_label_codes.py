"""encode_labels' counting path for small-range integer labels equals np.unique's."""

from __future__ import annotations

import numpy as np
import pytest

from mnlogit.exceptions import InvalidInputError
from mnlogit.identification.validation import encode_labels, encode_labels_and_counts

_rng = np.random.default_rng(5)


@pytest.mark.parametrize(
    "y",
    [
        _rng.integers(0, 3, 5000),
        _rng.integers(-5, 9, 1000).astype(np.int8),
        np.array([-128, 127, 0, 5] * 100, dtype=np.int8),
        np.array([3, 7, 7, 3, 60000, 5], dtype=np.uint16),  # span > n: sorted
        np.array([2**62, -(2**62), 0]),
        _rng.integers(0, 3, 1000).astype(np.uint64) + np.uint64(2**63 + 5),
        _rng.integers(0, 4, 1000).astype(np.uint8),
        np.array([-3, -1, -3, -2] * 3),
        _rng.integers(0, 70000, 200000),  # span over COUNTING_MAX_SPAN: sorted
        np.array(["b", "a", "c", "a"]),
        _rng.normal(size=50).round(),
    ],
)
def test_codes_equal_unique(y) -> None:
    classes, codes = encode_labels(y)
    ref_classes, ref_codes = np.unique(y, return_inverse=True)
    assert classes.dtype == ref_classes.dtype
    assert np.array_equal(classes, ref_classes)
    assert codes.dtype == np.intp
    assert np.array_equal(codes, ref_codes.ravel())
    assert np.array_equal(classes[codes], y)


def test_order_and_single_class() -> None:
    classes, codes = encode_labels(np.array([5, 2, 5, 9]), order=[9, 5])
    assert classes.tolist() == [9, 5, 2]
    assert codes.tolist() == [1, 2, 1, 0]
    with pytest.raises(InvalidInputError, match="only one class"):
        encode_labels(np.array([4, 4, 4]))


@pytest.mark.parametrize(
    ("y", "order"),
    [
        (np.array([3, 1, 3, 7, 1, 3]), None),  # counting
        (np.array([3, 1, 3, 7, 1, 3]), [7, 3]),  # counting, reordered
        (np.array([3, 1, 3, 7, 1, 3], dtype=np.uint8), [3]),
        (np.array([2.5, 1.0, 2.5, 9.0]), None),  # sorted
        (np.array(["b", "a", "b", "c"]), ["c", "b"]),  # sorted, reordered
        (np.array([10**9, 0, 10**9, 5]), [5]),  # too wide to count
    ],
)
def test_counts_are_the_rows_of_each_class(y, order) -> None:
    classes, codes, counts = encode_labels_and_counts(y, order)
    expected_classes, expected_codes = encode_labels(y, order)
    assert np.array_equal(classes, expected_classes) and np.array_equal(codes, expected_codes)
    assert counts.dtype == np.intp
    assert np.array_equal(counts, np.bincount(codes, minlength=classes.size))
    assert [int(c) for c in counts] == [int(np.sum(y == k)) for k in classes]
