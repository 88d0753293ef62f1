"""The stages of detect_separation, each on a small example worked out by hand.

Running example (binary, intercept and one feature x, reference class 0): rows
``(x, y) = (0, 0), (0, 1), (1, 1)``. With ``d = (b, w)`` the free coefficients of class 1,
the cells are

    row 0, k = 1:  -(b + 0 w) >= 0
    row 1, k = 0:    b + 0 w  >= 0
    row 2, k = 0:    b + 1 w  >= 0

so the cone is ``{b = 0, w >= 0}``: only row 2's cell can be strict (quasi-complete
separation), the intercept stays finite and the slope goes to +inf.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from mnlogit.identification import detect_separation
from mnlogit.identification.cone import (
    ConeLP,
    cell_matrix,
    coefficient_signs,
    free_coefficients,
    null_space,
    separated_cells,
)
from mnlogit.identification.separation import (
    coefficient_limits,
    merge_identical_rows,
    scaled_rows,
    separation_kind,
)

Z_RUN = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
Y_RUN = np.array([0, 1, 1])


def cone_of(Z: np.ndarray, y: np.ndarray, K: int, reference: int = 0) -> ConeLP:
    A, _, _ = cell_matrix(Z, y, K, reference)
    return ConeLP(A, time.monotonic() + 30.0)


# ---------------------------------------------------------------------------------------
# Data preparation


def test_scaled_rows_scales_columns_then_rows() -> None:
    X = np.array([[2.0, 0.0], [-4.0, 1.0], [1.0, 0.5], [0.0, 0.0]])
    pos = np.array([0, 1, 3])  # row 2 has weight 0: it does not set the scales
    Z, rows, scale = scaled_rows(X, pos, np.array([0, 1, 2]), fit_intercept=True)
    assert_array_equal(scale, [1.0, 4.0, 1.0])
    # [1, 2/4, 0] -> max 1; [1, -4/4, 1] -> max 1; [1, 0, 0]
    assert_array_equal(Z, [[1.0, 0.5, 0.0], [1.0, -1.0, 1.0], [1.0, 0.0, 0.0]])
    assert_array_equal(rows, pos)
    Zs, rows_s, scale_s = scaled_rows(sp.csr_array(X), pos, np.array([0, 1, 2]), True)
    assert_array_equal(Zs.toarray(), Z)
    assert_array_equal(rows_s, rows)
    assert_array_equal(scale_s, scale)


def test_scaled_rows_without_intercept_drops_zero_rows_and_aliased_columns() -> None:
    X = np.array([[0.0, 3.0, 6.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 1.5, 3.0]])
    Z, rows, scale = scaled_rows(X, np.arange(4), np.array([0, 1]), fit_intercept=False)
    assert_array_equal(scale, [2.0, 3.0])
    # rows / column scales: [0, 1], [1, 0], [0, 0] (dropped), [-0.5, 0.5] -> row max 0.5
    assert_array_equal(Z, [[0.0, 1.0], [1.0, 0.0], [-1.0, 1.0]])
    assert_array_equal(rows, [0, 1, 3])


def test_merge_identical_rows() -> None:
    Z = np.array([[1.0, 0.5], [1.0, -1.0], [1.0, 0.5], [1.0, 0.5]])
    codes = np.array([1, 0, 1, 0])
    Zu, cu, inverse = merge_identical_rows(Z, codes)
    # distinct (row, class) pairs in lexicographic order: ([1,-1],0), ([1,.5],0), ([1,.5],1)
    assert_array_equal(Zu, [[1.0, -1.0], [1.0, 0.5], [1.0, 0.5]])
    assert_array_equal(cu, [0, 0, 1])
    assert_array_equal(inverse, [2, 0, 2, 1])
    assert_array_equal(Zu[inverse], Z)
    assert_array_equal(cu[inverse], codes)
    Zs = sp.csr_array(Z)
    same, c_same, identity = merge_identical_rows(Zs, codes)
    assert same is Zs and c_same is codes
    assert_array_equal(identity, np.arange(4))


# ---------------------------------------------------------------------------------------
# The cone


def test_cell_matrix_binary() -> None:
    A, cell_row, cell_cls = cell_matrix(Z_RUN, Y_RUN, K=2, reference=0)
    # cells ordered by the other class k: k = 0 (rows 1, 2), then k = 1 (row 0)
    assert_array_equal(A.toarray(), [[1.0, 0.0], [1.0, 1.0], [-1.0, -0.0]])
    assert_array_equal(cell_row, [1, 2, 0])
    assert_array_equal(cell_cls, [0, 0, 1])


def test_cell_matrix_three_classes_other_reference() -> None:
    Z = np.array([[1.0, 2.0], [1.0, -1.0]])
    y = np.array([0, 2])
    A, cell_row, cell_cls = cell_matrix(Z, y, K=3, reference=1)
    # blocks: class 0 -> columns 0-1, class 2 -> columns 2-3 (class 1 has none)
    expected = [
        [-1.0, 1.0, 1.0, -1.0],  # row 1 (y = 2) vs k = 0:  z (d_2 - d_0)
        [1.0, 2.0, 0.0, 0.0],  # row 0 (y = 0) vs k = 1:  z d_0
        [0.0, 0.0, 1.0, -1.0],  # row 1 (y = 2) vs k = 1:  z d_2
        [1.0, 2.0, -1.0, -2.0],  # row 0 (y = 0) vs k = 2:  z (d_0 - d_2)
    ]
    assert_array_equal(A.toarray(), expected)
    assert_array_equal(cell_row, [1, 0, 1, 0])
    assert_array_equal(cell_cls, [0, 1, 1, 2])


def test_null_space() -> None:
    A0 = sp.csr_array(np.array([[1.0, -1.0, 0.0], [2.0, -2.0, 0.0]]))
    N = null_space(A0)
    assert N.shape == (3, 2)
    assert_allclose(N.T @ N, np.eye(2), atol=1e-12)
    assert_allclose(A0 @ N, 0.0, atol=1e-12)
    # span{(1, 1, 0), (0, 0, 1)}: the projector onto it
    P = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    assert_allclose(N @ N.T, P, atol=1e-12)
    assert_array_equal(null_space(sp.csr_array((0, 2))), np.eye(2))


def test_separated_cells_running_example() -> None:
    cone = cone_of(Z_RUN, Y_RUN, K=2)
    found = separated_cells(cone)
    assert found is not None
    strict, direction, complete = found
    assert complete
    assert_array_equal(strict, [False, True, False])  # only row 2's cell
    assert direction[0] == pytest.approx(0.0, abs=1e-9) and direction[1] > 0
    assert np.all(cone.A @ direction >= -1e-9)


def test_separated_cells_complete_and_none() -> None:
    Z = np.array([[1.0, -1.0], [1.0, 1.0]])
    found = separated_cells(cone_of(Z, np.array([0, 1]), K=2))
    assert found is not None and found[0].all()  # complete: w > 0 separates them
    overlap = separated_cells(cone_of(np.vstack([Z, Z]), np.array([0, 1, 1, 0]), K=2))
    assert overlap is not None and not overlap[0].any() and not overlap[1].any()


def test_free_coefficients_and_signs_running_example() -> None:
    cone = cone_of(Z_RUN, Y_RUN, K=2)
    found = separated_cells(cone)
    assert found is not None
    strict, direction, _ = found
    free = free_coefficients(cone.A, strict)
    assert_array_equal(free, [False, True])  # b is pinned to 0 by the cells outside S
    (can_pos, can_neg), resolved = coefficient_signs(cone, direction, free, max_lps=10)
    assert resolved
    assert_array_equal(can_pos, [False, True])
    assert_array_equal(can_neg, [False, False])


def test_coefficient_signs_both_ways_and_lp_cap() -> None:
    # x1 = 1 only in class 2; class 1 and 2 both vanish there, so with reference 0 the
    # class-1 slope of x1 may go either way (it only has to stay below class 2's).
    Z = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 2, 2])
    cone = cone_of(Z, y, K=3)
    found = separated_cells(cone)
    assert found is not None
    strict, direction, _ = found
    free = free_coefficients(cone.A, strict)
    assert_array_equal(free, [False, True, False, True])  # (b1, w1, b2, w2)
    (can_pos, can_neg), resolved = coefficient_signs(cone, direction, free, max_lps=10)
    assert resolved
    assert_array_equal(can_pos, [False, True, False, True])
    assert_array_equal(can_neg, [False, True, False, False])
    limits = coefficient_limits(free, can_pos, can_neg)
    assert_array_equal(limits[[0, 2, 3]], [0.0, 0.0, np.inf])
    assert np.isnan(limits[1])
    # with no LP allowed only what the direction shows is known
    (pos0, neg0), resolved0 = coefficient_signs(cone, np.zeros(4), free, max_lps=0)
    assert not resolved0 and not pos0.any() and not neg0.any()


# ---------------------------------------------------------------------------------------
# The verdict


def test_coefficient_limits_table() -> None:
    free = np.array([False, True, True, True, True])
    can_pos = np.array([True, True, False, True, False])
    can_neg = np.array([True, False, True, True, False])
    limits = coefficient_limits(free, can_pos, can_neg)
    assert_array_equal(limits[:3], [0.0, np.inf, -np.inf])
    assert np.isnan(limits[3]) and np.isnan(limits[4])  # both signs / not checked


def test_separation_kind() -> None:
    assert separation_kind(np.array([False, False]), all_rows_kept=True) == "none"
    assert separation_kind(np.array([True, True]), all_rows_kept=True) == "complete"
    assert separation_kind(np.array([True, True]), all_rows_kept=False) == "quasi-complete"
    assert separation_kind(np.array([True, False]), all_rows_kept=True) == "quasi-complete"


def test_stages_compose_to_detect_separation() -> None:
    res = detect_separation(Z_RUN[:, 1:], Y_RUN, 2)
    assert res.kind == "quasi-complete"
    assert_array_equal(res.limits, [[0.0, 0.0], [0.0, np.inf]])
    assert_array_equal(res.zero_probability, [[False, False], [False, False], [True, False]])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(("K", "reference"), [(2, 0), (2, 1), (3, 1), (4, 3), (5, 0)])
def test_cell_matrix_equals_the_definition(sparse, K, reference) -> None:
    """Every cell (i, k), class by class: +Z[i] in y_i's block, -Z[i] in k's block (the
    reference has none); rows of zeros and of every class included."""
    rng = np.random.default_rng(K * 10 + reference)
    Z = rng.normal(size=(40, 5))
    Z[rng.random(Z.shape) < 0.4] = 0.0
    Z[[3, 17]] = 0.0
    y = rng.integers(0, K, 40)
    A, cell_row, cell_cls = cell_matrix(sp.csr_array(Z) if sparse else Z, y, K, reference)
    blocks = [c for c in range(K) if c != reference]
    expected, rows, classes = [], [], []
    for k in range(K):
        for i in np.flatnonzero(y != k):
            cell = np.zeros((K - 1) * 5)
            if y[i] != reference:
                b = blocks.index(y[i])
                cell[b * 5 : (b + 1) * 5] += Z[i]
            if k != reference:
                b = blocks.index(k)
                cell[b * 5 : (b + 1) * 5] -= Z[i]
            expected.append(cell)
            rows.append(i)
            classes.append(k)
    A.check_format(full_check=True)
    assert A.has_sorted_indices
    assert_array_equal(A.toarray(), np.array(expected))
    assert_array_equal(cell_row, rows)
    assert_array_equal(cell_cls, classes)


def test_too_many_variables_are_refused_before_the_rows_are_copied(monkeypatch) -> None:
    """The variable cap is known after the collinearity check: no scaled copy of the rows
    is made for an LP that would be refused (the cap counts kept columns only)."""
    import mnlogit.identification.separation as separation

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 9))
    X[:, 8] = X[:, 0] + X[:, 1]  # aliased: 9 kept design columns with the intercept
    y = rng.integers(0, 4, 300)

    def no_copy(*args, **kwargs):
        raise AssertionError("rows copied for an LP over the variable cap")

    monkeypatch.setattr(separation, "scaled_rows", no_copy)
    result = detect_separation(X, y, 4, max_variables=26)  # 3 x 9 = 27 free entries
    assert not result.checked and "max_variables=26" in result.reason
    monkeypatch.undo()
    assert detect_separation(X, y, 4, max_variables=27).checked
