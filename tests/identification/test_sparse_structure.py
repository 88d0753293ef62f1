"""A sparse X whose index arrays do not describe a matrix of its shape is refused.

scipy builds CSR / CSC / COO matrices from given arrays without checking their values, and
the compiled kernels read and write by them without bounds checks: a row index of -1 or n
must stop at the input's validation (issue 14's review of the sparse lasso's record passes).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mnlogit import MultinomialLogit, regularization_path
from mnlogit.exceptions import InvalidInputError
from mnlogit.identification import check_sparse_structure


def _problem(fmt):
    rng = np.random.default_rng(0)
    X = sp.random(60, 8, density=0.3, random_state=1, format=fmt)
    y = rng.integers(0, 3, 60)
    return X, y


def _broken(fmt, value):
    X, y = _problem(fmt)
    if fmt == "coo":
        X.row[3] = value
    else:
        X.indices[3] = value  # a row index for CSC, a column index for CSR
    return X, y


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("where", ["negative", "past the end"])
def test_indices_outside_the_shape_are_refused(fmt, where):
    X, y = _problem(fmt)
    bound = X.shape[1] if fmt == "csr" else X.shape[0]
    X, y = _broken(fmt, -1 if where == "negative" else bound)
    with pytest.raises(InvalidInputError, match="not a valid sparse matrix"):
        check_sparse_structure(X)
    with pytest.raises(InvalidInputError, match="not a valid sparse matrix"):
        MultinomialLogit(penalty="l1", alpha=0.01).fit(X, y)
    if fmt != "coo":  # (regularization_path takes CSR and CSC)
        with pytest.raises(InvalidInputError, match="not a valid sparse matrix"):
            regularization_path(X, y, penalty="l1", n_alphas=3)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_a_valid_sparse_matrix_passes_unchanged(fmt):
    X, y = _problem(fmt)
    before = X.copy()
    check_sparse_structure(X)
    check_sparse_structure(sp.csr_matrix((5, 4)))  # no stored values
    np.testing.assert_array_equal(X.toarray(), before.toarray())
    path = regularization_path(X.tocsr(), y, penalty="l1", n_alphas=3)
    assert path.converged.all()
