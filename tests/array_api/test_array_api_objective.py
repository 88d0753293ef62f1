"""The device objective equals the in-memory objective: value, gradient, Hessian,
Hessian-vector products and the sandwich's meat (issue 19, item 2).

MultinomialObjective is checked against finite differences and other libraries in
tests/objective; here the array-API kernels must reproduce it to rounding, in both
parameterizations, with weights, column scaling and a ridge penalty, and in both
precisions of float32 data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from array_api_data import multinomial_data

from mnlogit.arrays import placement_of
from mnlogit.objective import MultinomialObjective, make_penalty
from mnlogit.objective.device import DeviceObjective
from mnlogit.objective.protocol import SolverObjective
from mnlogit.parameterization import Parameterization


def pair(
    to_device: Any,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    reference: int | None,
    intercept: bool,
    alpha: float,
) -> tuple[MultinomialObjective, DeviceObjective]:
    K = int(y.max()) + 1
    param = Parameterization(K, reference)
    scale = np.geomspace(1.0, 50.0, X.shape[1])
    penalty = make_penalty("l2" if alpha else None, alpha, intercept)
    host = MultinomialObjective(X, y, K, w, param, penalty, intercept, feature_scale=scale)
    Xd = to_device(X)
    placement = placement_of(Xd)
    assert placement is not None
    device = DeviceObjective(
        placement,
        Xd,
        to_device(y),
        K,
        placement.put(w),
        param,
        penalty,
        intercept,
        feature_scale=scale,
        equal_weights=bool(np.all(w == w[0])),
    )
    return host, device


@pytest.mark.parametrize(
    ("reference", "intercept", "alpha", "weighted"),
    [(0, True, 0.0, False), (None, True, 0.05, True), (2, False, 0.0, True)],
    ids=["ref0", "symmetric-ridge-weights", "ref2-no-intercept-weights"],
)
def test_the_device_objective_equals_the_in_memory_one(
    to_device: Any, reference: int | None, intercept: bool, alpha: float, weighted: bool
) -> None:
    X, y = multinomial_data(n=500, p=4, K=4, seed=5)
    rng = np.random.default_rng(5)
    w = rng.uniform(0.0, 3.0, y.size) if weighted else np.ones(y.size)
    host, device = pair(to_device, X, y, w, reference, intercept, alpha)
    solver_view: SolverObjective = device  # the solvers' protocol (checked by mypy too)
    assert solver_view.capabilities == {"hessian", "hessp", "subsample", "kronecker"}
    theta = rng.standard_normal(host.n_params) * 0.3
    f_h, g_h = host.value_and_gradient(theta)
    f_d, g_d = device.value_and_gradient(theta)
    assert f_d == pytest.approx(f_h, rel=1e-13)
    np.testing.assert_allclose(g_d, g_h, rtol=0, atol=1e-13 * np.abs(g_h).max())
    H_h, H_d = host.hessian(theta), device.hessian(theta)
    np.testing.assert_allclose(H_d, H_h, rtol=0, atol=1e-13 * np.abs(H_h).max())
    v = rng.standard_normal(host.n_params)
    np.testing.assert_allclose(
        device.hessp(theta, v), H_h @ v, rtol=0, atol=1e-12 * np.abs(H_h @ v).max()
    )
    assert device.loglik(theta) == pytest.approx(host.loglik(theta), rel=1e-13)
    assert device.min_probability(theta) == pytest.approx(host.min_probability(theta), rel=1e-12)
    # the sandwich's meat: sum_i s_i u_i u_i^T with u_i the score of row i
    R = host.residuals(theta) @ host.param.A
    Y = np.column_stack([np.ones(y.size), X / np.geomspace(1.0, 50.0, 4)])
    if not intercept:
        Y = Y[:, 1:]
    U = (R[:, :, None] * Y[:, None, :]).reshape(y.size, -1)
    M = U.T @ (U * w[:, None])
    np.testing.assert_allclose(device.robust_meat(theta), M, rtol=0, atol=1e-12 * np.abs(M).max())


def test_float32_data_switch_to_exact_products(to_device: Any) -> None:
    X, y = multinomial_data(n=400, p=3, K=3, seed=6)
    X32 = X.astype(np.float32)
    host, device = pair(to_device, X32.astype(np.float64), y, np.ones(y.size), 0, True, 0.0)
    _, fast = pair(to_device, X32, y, np.ones(y.size), 0, True, 0.0)
    assert fast.low_precision and not device.low_precision
    theta = np.random.default_rng(6).standard_normal(host.n_params) * 0.3
    f64, g64 = host.value_and_gradient(theta)
    f32 = fast.value(theta)
    assert f32 != f64 and f32 == pytest.approx(f64, rel=1e-5)  # float32 products
    fast.set_exact(True)
    f_exact, g_exact = fast.value_and_gradient(theta)
    assert f_exact == pytest.approx(f64, rel=1e-13)
    np.testing.assert_allclose(g_exact, g64, rtol=0, atol=1e-13 * np.abs(g64).max())


def test_row_blocks_add_up(to_device: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernels' sums are additive over row blocks: with blocks of a few rows (many
    partial sums, a short last block) the device objective still equals the in-memory one,
    and so do predictions."""
    import mnlogit.objective.xp_kernels as xk
    from mnlogit import MultinomialLogit
    from mnlogit.arrays import to_host

    monkeypatch.setattr(xk, "DEVICE_BLOCK_ELEMENTS", 200)  # 10-50 rows a block
    X, y = multinomial_data(n=437, p=4, K=3, seed=8)
    w = np.random.default_rng(8).uniform(0.5, 2.0, y.size)
    host, device = pair(to_device, X, y, w, None, True, 0.01)
    theta = np.random.default_rng(8).standard_normal(host.n_params) * 0.3
    f_h, g_h = host.value_and_gradient(theta)
    f_d, g_d = device.value_and_gradient(theta)
    assert f_d == pytest.approx(f_h, rel=1e-13)
    np.testing.assert_allclose(g_d, g_h, rtol=0, atol=1e-13 * np.abs(g_h).max())
    H = host.hessian(theta)
    np.testing.assert_allclose(device.hessian(theta), H, rtol=0, atol=1e-13 * np.abs(H).max())
    v = np.arange(host.n_params, dtype=np.float64)
    np.testing.assert_allclose(device.hessp(theta, v), H @ v, rtol=1e-12)
    model = MultinomialLogit().fit(X, y)
    got = to_host(model.predict_proba(to_device(X)))
    np.testing.assert_allclose(got, model.predict_proba(X), rtol=1e-12)
    fitted = MultinomialLogit().fit(to_device(X), to_device(y))
    np.testing.assert_allclose(fitted.fitted_.coef, model.coef_, rtol=1e-10)
