"""The objective's Hessians for subsample-newton's preconditioners (issue-speed13).

The null model's Hessian (every feature's coefficients zero) as the Kronecker product
``M(p) ⊗ G`` of the shared class curvature and one weighted Gram matrix; the objective on
every ``s``-th row read in place (``row_view``), whose gradient's constant part is summed
only when a gradient is asked for. References: the Hessian's definition block by block
(:func:`helpers.hessian_by_definition`) on the rows and probabilities computed here, and
the objective on a contiguous float64 copy of the same rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import mnlogit.objective.kernels as kernels
import mnlogit.objective.multinomial as multinomial
from helpers import hessian_by_definition
from mnlogit.objective import MultinomialObjective
from mnlogit.objective.penalties import make_penalty
from mnlogit.objective.protocol import ROW_VIEW, as_row_view
from mnlogit.parameterization import Parameterization


def _objective(
    X: np.ndarray,
    y: np.ndarray,
    K: int,
    w: np.ndarray,
    reference: int | None,
    intercept: bool,
    scale: np.ndarray | None,
    alpha: float = 0.0,
) -> MultinomialObjective:
    penalty = make_penalty("l2" if alpha else None, alpha, intercept)
    return MultinomialObjective(
        X, y, K, w, Parameterization(K, reference), penalty, intercept, feature_scale=scale
    )


def _problem(seed: int, n: int, p: int, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 4.0, p) + rng.normal(size=p)
    y = rng.integers(0, K, n)
    w = rng.uniform(0.2, 3.0, n)
    return X, y, w


def _design(X: np.ndarray, scale: np.ndarray | None, intercept: bool) -> np.ndarray:
    Y = X if scale is None else X / scale
    return np.column_stack([np.ones(len(X)), Y]) if intercept else Y


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("reference", [0, 2, None])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_null_model_hessian_is_the_kronecker_product(
    monkeypatch: pytest.MonkeyPatch, K: int, reference: int | None, intercept: bool, weighted: bool
) -> None:
    """At zero feature coefficients (intercepts arbitrary) the Hessian equals its
    definition to rounding -- penalty, feature scaling, weights, free coordinates -- and
    no pair kernel (``loss_hessian``) is called (it is for ``loss_hessian_ref0``)."""
    reference = None if reference is None else min(reference, K - 1)
    X, y, w = _problem(K + 10 * intercept, 1500, 7, K)
    w = w if weighted else np.ones_like(w)
    scale = np.linspace(0.5, 3.0, X.shape[1])
    obj = _objective(X, y, K, w, reference, intercept, scale, alpha=0.3)
    p1 = obj.p1
    B = np.zeros((p1, K))
    if intercept:
        B[0] = np.random.default_rng(K).normal(0, 0.8, K)
    theta = obj.param.from_full(B)
    eta = np.tile(B[0] if intercept else np.zeros(K), (len(X), 1))
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = _design(X, scale, intercept)
    T = obj.to_ref0
    expected = hessian_by_definition(Y, P[:, 1:], w / w.sum(), T)
    penalty = np.asarray(obj.penalty.hessian_diagonal((p1, K - 1)))  # (p1, K-1)
    assert np.any(penalty)
    expected[np.diag_indices_from(expected)] += penalty.T.reshape(-1)
    calls: list[int] = []
    inner = multinomial.loss_hessian

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return inner(*args, **kwargs)

    monkeypatch.setattr(multinomial, "loss_hessian", spy)
    H = obj.hessian(theta)
    assert not calls
    assert_allclose(H, expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())
    assert np.array_equal(H, H.T)
    # the loss Hessian alone (Firth's information) keeps the kernels, to rounding the same
    ref0 = obj.loss_hessian_ref0(theta)
    assert calls
    assert_allclose(ref0, hessian_by_definition(Y, P[:, 1:], w / w.sum()), rtol=1e-12, atol=1e-14)
    calls.clear()
    # one feature coefficient not zero: the general kernel again
    B[-1, -1] = 1e-3
    obj.hessian(obj.param.from_full(B))
    assert calls


@pytest.mark.parametrize("stride", [1, 3, 8])
@pytest.mark.parametrize("intercept", [True, False])
def test_row_view_reads_x_in_place_and_equals_the_copied_rows(
    monkeypatch: pytest.MonkeyPatch, stride: int, intercept: bool
) -> None:
    """The view's X is X's memory, and its Hessian (no class sums read), value and
    gradient equal those of an objective on a contiguous copy of the same rows, and the
    Hessian the definition on those rows."""
    K = 4
    X, y, w = _problem(stride, 2001, 6, K)
    scale = np.linspace(1.0, 2.0, X.shape[1])
    obj = _objective(X, y, K, w, None, intercept, scale, alpha=0.1)
    assert ROW_VIEW in obj.capabilities and as_row_view(obj) is obj
    theta = np.random.default_rng(1).normal(0, 0.3, obj.n_params)
    sums: list[int] = []
    inner = kernels.class_sums

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        sums.append(1)
        return inner(*args, **kwargs)

    monkeypatch.setattr(kernels, "class_sums", spy)
    view = obj.row_view(stride)
    assert np.shares_memory(view.X, X) and view.X.dtype == np.float64
    assert view.n_samples == len(range(0, len(X), stride))
    Xc = np.ascontiguousarray(X[::stride])
    copy = _objective(Xc, y[::stride].copy(), K, w[::stride].copy(), None, intercept, scale, 0.1)
    H = view.hessian(theta)
    assert not sums  # a Hessian alone never sums the gradient's constant part
    assert_allclose(H, copy.hessian(theta), rtol=1e-12, atol=1e-15)
    Y = _design(Xc, scale, intercept)
    P = copy.probabilities(theta)
    ws = w[::stride] / w[::stride].sum()
    loss_h = hessian_by_definition(Y, P[:, 1:], ws, obj.to_ref0)
    assert_allclose(view.loss_hessian_ref0(theta), hessian_by_definition(Y, P[:, 1:], ws))
    assert_allclose(H - loss_h, np.diag(np.diag(H - loss_h)), atol=1e-12)  # penalty: diagonal
    f, g = view.value_and_gradient(theta)
    f_c, g_c = copy.value_and_gradient(theta)
    assert sums  # summed at the first gradient
    assert_allclose(f, f_c, rtol=1e-13)
    assert_allclose(g, g_c, rtol=1e-11, atol=1e-14)


def test_hessian_at_a_new_point_reads_no_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hessian at a point not evaluated forms it without first sweeping for the loss
    (a preconditioner needs no loss), and equals the Hessian after a sweep."""
    X, y, w = _problem(5, 3000, 5, 3)
    obj = _objective(X, y, 3, w, 0, True, None)
    theta = np.random.default_rng(2).normal(0, 0.3, obj.n_params)
    sweeps: list[int] = []
    inner = multinomial.MultinomialObjective._sweep

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        sweeps.append(1)
        return inner(self, *args, **kwargs)

    monkeypatch.setattr(multinomial.MultinomialObjective, "_sweep", spy)
    H = obj.hessian(theta)
    assert not sweeps
    obj.value(theta)
    assert sweeps
    assert_allclose(H, obj.hessian(theta), rtol=1e-13, atol=1e-16)
