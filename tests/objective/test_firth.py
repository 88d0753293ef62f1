"""Firth's penalized likelihood (``penalty="firth"``), checked against independent code.

Provenance of the method and of the equations written out below:

- Firth, D. (1993). Bias reduction of maximum likelihood estimates. *Biometrika* 80(1),
  27-38: for canonical exponential-family models the bias-reduced estimate maximizes
  ``loglik(theta) + 1/2 log det I(theta)`` (Jeffreys-prior penalty), I the Fisher
  information.
- Kosmidis, I. and Firth, D. (2011). Multinomial logit bias reduction via the Poisson
  log-linear model. *Biometrika* 98(3), 755-759: the same penalty for the multinomial
  logit, whose information for the non-reference blocks is
  ``I = sum_i s_i kron(diag(p_i) - p_i p_i^T, x_i x_i^T)`` (p_i the probabilities of the
  K-1 non-reference classes, x_i = [1, features]).
- Heinze, G. and Schemper, M. (2002). A solution to the problem of separation in logistic
  regression. *Statistics in Medicine* 21, 2409-2419: for K = 2, Newton-Raphson with the
  modified score ``U*(b) = X^T (y - p + h (1/2 - p))``, h the diagonal of the hat matrix
  ``W^{1/2} X (X^T W X)^{-1} X^T W^{1/2}``, W = diag(p (1 - p)); standard errors from
  ``(X^T W X)^{-1}`` at the estimate (R's ``logistf``).
- Closed form for saturated models: the Jeffreys prior of a multinomial is
  Dirichlet(1/2, ..., 1/2), so with one free probability vector per covariate pattern the
  penalized estimate is ``(n_gk + 1/2) / (n_g + K/2)`` (Firth 1993, section 3; the
  "add 1/2 to every cell" rule).

None of the code here calls mnlogit's objective, solvers or covariance: the penalized
log-likelihood and the information are written out per observation with explicit
Kronecker products and maximized with scipy.optimize.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.optimize
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError, SeparationWarning

AGE = [25, 30, 35, 40, 45, 50, 25, 30, 35, 40, 45, 50]
INCOME = [30, 40, 50, 60, 70, 80, 35, 45, 55, 65, 75, 85]
RISK = ["low"] * 3 + ["medium"] * 5 + ["high"] * 4


# ----------------------------------------------------------------------------- independent code


def design(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(X.shape[0]), np.asarray(X, dtype=np.float64)])


def unpack(theta: np.ndarray, p1: int, K: int) -> np.ndarray:
    """(p1, K) coefficients, reference class 0 fixed at zero; theta is class-major."""
    B = np.zeros((p1, K))
    B[:, 1:] = theta.reshape(K - 1, p1).T
    return B


def probabilities(Xt: np.ndarray, B: np.ndarray) -> np.ndarray:
    eta = Xt @ B
    eta -= eta.max(axis=1, keepdims=True)
    P = np.exp(eta)
    return P / P.sum(axis=1, keepdims=True)


def fisher_information(Xt: np.ndarray, P: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_i w_i kron(diag(p_i) - p_i p_i^T, x_i x_i^T)``, one observation at a time."""
    K = P.shape[1]
    m = (K - 1) * Xt.shape[1]
    info = np.zeros((m, m))
    for i in range(Xt.shape[0]):
        p = P[i, 1:]
        info += w[i] * np.kron(np.diag(p) - np.outer(p, p), np.outer(Xt[i], Xt[i]))
    return info


def penalized_loglik(theta: np.ndarray, Xt: np.ndarray, y: np.ndarray, K: int, w) -> float:
    """``loglik + 1/2 log det I`` (Firth 1993), -inf where I is not positive definite."""
    B = unpack(theta, Xt.shape[1], K)
    eta = Xt @ B
    loglik = float(np.sum(w * (eta[np.arange(y.size), y] - np.logaddexp.reduce(eta, axis=1))))
    sign, logdet = np.linalg.slogdet(fisher_information(Xt, probabilities(Xt, B), w))
    return loglik + 0.5 * logdet if sign > 0 else -np.inf


def central_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    g = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h * max(1.0, abs(x[j]))
        g[j] = (f(x + e) - f(x - e)) / (2 * e[j])
    return g


def theta_of(model: MultinomialLogit) -> np.ndarray:
    """The model's free parameters against reference class 0 (class-major)."""
    assert model.reference_ == model.classes_[0]
    B = np.vstack([model.intercept_[None, :], model.coef_.T])
    return np.ascontiguousarray(B[:, 1:].T).ravel()


def binary_firth(X: np.ndarray, y01: np.ndarray, tol: float = 1e-12) -> tuple:
    """Heinze & Schemper (2002): Newton with the hat-matrix-modified score, step halving
    on the penalized log-likelihood (as ``logistf``). Returns (beta, standard errors)."""
    Xt = design(X)

    def pll(b):
        eta = Xt @ b
        p = 1.0 / (1.0 + np.exp(-eta))
        W = p * (1 - p)
        ll = np.sum(y01 * eta - np.logaddexp(0.0, eta))
        return ll + 0.5 * np.linalg.slogdet(Xt.T @ (W[:, None] * Xt))[1]

    b = np.zeros(Xt.shape[1])
    for _ in range(200):
        p = 1.0 / (1.0 + np.exp(-(Xt @ b)))
        W = p * (1 - p)
        info = Xt.T @ (W[:, None] * Xt)
        inv = np.linalg.inv(info)
        h = W * np.einsum("ij,jk,ik->i", Xt, inv, Xt)
        score = Xt.T @ (y01 - p + h * (0.5 - p))
        step = inv @ score
        step *= min(1.0, 5.0 / max(np.abs(step).max(), 1e-300))  # logistf's maxstep = 5
        current = pll(b)
        while pll(b + step) < current - 1e-12 and np.abs(step).max() > 1e-14:
            step /= 2
        b = b + step
        if np.abs(step).max() < tol:
            break
    p = 1.0 / (1.0 + np.exp(-(Xt @ b)))
    info = Xt.T @ ((p * (1 - p))[:, None] * Xt)
    return b, np.sqrt(np.diag(np.linalg.inv(info)))


def fit_firth(X, y, **kwargs) -> MultinomialLogit:
    sample_weight = kwargs.pop("sample_weight", None)
    kwargs.setdefault("tol", 1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return MultinomialLogit(penalty="firth", **kwargs).fit(X, y, sample_weight=sample_weight)


# ----------------------------------------------------------------------------- data sets


def customer_risk():
    return pd.DataFrame({"age": AGE, "income": INCOME}, dtype=float), np.array(RISK)


def small(K: int, seed: int, n: int = 40, p: int = 2):
    X, y, _ = make_data(n=n, p=p, K=K, seed=seed)
    return X, y


CASES = {
    "K3_small": lambda: small(3, 2),
    "K4_small": lambda: small(4, 8, n=50),
    "K3_p4": lambda: small(3, 4, n=45, p=4),
    "customer_risk_separated": lambda: (
        customer_risk()[0].to_numpy(),
        np.unique(RISK, return_inverse=True)[1],
    ),
}


# ----------------------------------------------------------------------------- the optimum


class TestIndependentOptimum:
    @pytest.mark.parametrize("case", sorted(CASES))
    @pytest.mark.parametrize("weighted", [False, True])
    def test_mnlogit_maximizes_the_penalized_likelihood(self, case, weighted) -> None:
        X, y = CASES[case]()
        K = int(y.max()) + 1
        w = (
            np.random.default_rng(0).choice([0.5, 1.0, 2.0, 3.0], size=y.size)
            if weighted
            else np.ones(y.size)
        )
        model = fit_firth(X, y, sample_weight=w if weighted else None)
        assert model.converged_
        theta = theta_of(model)
        assert np.all(np.isfinite(theta))
        Xt = design(X)

        def f(t):
            return -penalized_loglik(t, Xt, y, K, w)

        # 1. stationarity: the independent gradient vanishes at mnlogit's estimate
        grad = central_gradient(f, theta)
        assert np.abs(grad).max() < 1e-5 * max(1.0, w.sum() / 10), grad
        # 2. no better point: minimize from mnlogit's solution and from zero
        opts = {"gtol": 1e-9, "maxiter": 5000}
        from_mnlogit = scipy.optimize.minimize(f, theta, method="BFGS", options=opts)
        from_zero = scipy.optimize.minimize(f, np.zeros_like(theta), method="BFGS", options=opts)
        best = min(from_mnlogit.fun, from_zero.fun)
        assert f(theta) <= best + 1e-9, (f(theta), best)
        # ... and the optimum found from zero is mnlogit's, to a small fraction of a
        # standard error (BFGS stops early on ill-conditioned data such as age/income)
        B = unpack(theta, Xt.shape[1], K)
        se = np.sqrt(np.diag(np.linalg.inv(fisher_information(Xt, probabilities(Xt, B), w))))
        assert np.all(np.abs(from_zero.x - theta) < 1e-3 * se), (from_zero.x - theta) / se
        # 3. the reported log-likelihood is the unpenalized one at the estimate
        eta = Xt @ B
        loglik = np.sum(w * (eta[np.arange(y.size), y] - np.logaddexp.reduce(eta, axis=1)))
        assert_allclose(model.loglik_, loglik, rtol=1e-10)

    @pytest.mark.parametrize("case", ["K3_small", "K4_small", "customer_risk_separated"])
    def test_standard_errors_from_inverse_fisher_information(self, case) -> None:
        X, y = CASES[case]()
        K = int(y.max()) + 1
        model = fit_firth(X, y)
        Xt = design(X)
        B = unpack(theta_of(model), Xt.shape[1], K)
        cov = np.linalg.inv(fisher_information(Xt, probabilities(Xt, B), np.ones(y.size)))
        assert_allclose(model.cov_params().to_numpy(), cov, rtol=1e-6, atol=1e-12)
        se = model.coef_table()["std_err"].to_numpy()
        assert_allclose(se, np.sqrt(np.diag(cov)), rtol=1e-6)

    def test_solvers_agree(self) -> None:
        X, y = small(3, 2)
        newton = fit_firth(X, y, solver="newton")
        lbfgs = fit_firth(X, y, solver="lbfgs", tol=1e-8)
        assert_allclose(lbfgs.coef_, newton.coef_, atol=1e-5)
        assert_allclose(lbfgs.intercept_, newton.intercept_, atol=1e-5)

    def test_irls_is_refused_with_alternatives(self) -> None:
        X, y = small(3, 2)
        with pytest.raises(InvalidInputError, match="'newton' or 'lbfgs'"):
            MultinomialLogit(penalty="firth", solver="irls").fit(X, y)


# ----------------------------------------------------------------------------- K = 2


class TestBinaryFirth:
    """For two classes Firth's multinomial logit is binary Firth logistic regression."""

    @staticmethod
    def cases():
        rng = np.random.default_rng(4)
        X = rng.standard_normal((30, 2))
        y = (X @ [1.0, -0.5] + 0.3 * rng.standard_normal(30) > 0).astype(int)  # overlapping
        y[[0, 1, 2]] = 1 - y[[0, 1, 2]]
        x_sep = np.arange(12, dtype=float)[:, None]
        y_sep = (x_sep[:, 0] > 5.5).astype(int)  # complete separation
        x_quasi = np.column_stack([np.r_[np.zeros(8), np.ones(6)], np.linspace(-1, 1, 14)])
        y_quasi = np.r_[np.arange(8) % 2, np.ones(6, dtype=int)]  # quasi: x0 = 1 -> y = 1
        return {
            "overlap": (X, y),
            "complete": (x_sep, y_sep),
            "quasi": (x_quasi, y_quasi),
        }

    @pytest.mark.parametrize("name", ["overlap", "complete", "quasi"])
    def test_equals_heinze_schemper(self, name) -> None:
        X, y01 = self.cases()[name]
        labels = np.where(y01 == 1, "yes", "no")
        model = fit_firth(X, labels)
        assert model.reference_ == "no"
        beta, se = binary_firth(X, y01.astype(float))
        assert_allclose(model.intercept_[1], beta[0], rtol=1e-7, atol=1e-9)
        assert_allclose(model.coef_[1], beta[1:], rtol=1e-7, atol=1e-9)
        assert_allclose(model.coef_table()["std_err"].to_numpy(), se, rtol=1e-6)
        # and the decision function is the binary log-odds
        assert_allclose(model.decision_function(X), design(X) @ beta, rtol=1e-7, atol=1e-9)

    def test_swapping_the_classes_flips_the_signs(self) -> None:
        X, y01 = self.cases()["overlap"]
        a = fit_firth(X, y01)
        b = fit_firth(X, 1 - y01)
        assert_allclose(a.coef_[1], -b.coef_[1], rtol=1e-8, atol=1e-10)
        assert_allclose(a.predict_proba(X)[:, ::-1], b.predict_proba(X), atol=1e-10)


# ----------------------------------------------------------------------------- properties


class TestProperties:
    @pytest.mark.parametrize("case", ["K3_small", "K4_small", "customer_risk_separated"])
    def test_probabilities_do_not_depend_on_the_reference(self, case) -> None:
        X, y = CASES[case]()
        K = int(y.max()) + 1
        base = fit_firth(X, y)
        for ref in [*range(1, K), "last"]:
            other = fit_firth(X, y, reference=ref)
            assert_allclose(other.predict_proba(X), base.predict_proba(X), atol=1e-8)
            # the covariance moves with the reference (J cov J^T) without a refit
            moved = base.with_reference(other.reference_)
            assert_allclose(moved.cov_params().to_numpy(), other.cov_params().to_numpy(), atol=1e-6)

    def test_relabelling_the_classes_permutes_the_probabilities(self) -> None:
        X, y = small(3, 2)
        names = np.array(["zebra", "apple", "mango"])  # sorted order differs from codes
        a = fit_firth(X, y)
        b = fit_firth(X, names[y])
        order = np.argsort(names)  # b.classes_ = names[order]
        assert_array_equal(b.classes_, names[order])
        assert_allclose(b.predict_proba(X), a.predict_proba(X)[:, order], atol=1e-8)

    @pytest.mark.parametrize("seed", range(6))
    def test_bias_reduction_shrinks_the_estimates(self, seed) -> None:
        """On small data the ML estimates are biased away from zero (Firth 1993);
        Firth's slopes are smaller, as a whole and here each one."""
        X, y = small(3, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error", SeparationWarning)
            ml = MultinomialLogit(tol=1e-11).fit(X, y)
        firth = fit_firth(X, y)
        assert np.linalg.norm(firth.coef_) < np.linalg.norm(ml.coef_)
        if seed in (1, 2, 3):
            assert np.all(np.abs(firth.coef_[1:]) < np.abs(ml.coef_[1:]))
        assert firth.loglik_ < ml.loglik_  # ML maximizes the unpenalized likelihood

    @pytest.mark.parametrize("with_empty_cell", [False, True])
    def test_saturated_model_adds_one_half_to_every_cell(self, with_empty_cell) -> None:
        """Closed form (Jeffreys prior Dirichlet(1/2)): ``(n_gk + 1/2) / (n_g + K/2)``,
        finite even for an empty cell (quasi-complete separation)."""
        g = np.repeat([0, 1, 2], [10, 8, 12])
        y = np.r_[np.arange(10) % 3, np.arange(8) % 3, np.arange(12) % 3]
        if with_empty_cell:
            y[:10] = np.arange(10) % 2  # group 0 never has class 2
        X = np.column_stack([(g == 1), (g == 2)]).astype(float)
        model = fit_firth(X, y)
        P = model.predict_proba(X)
        for group in range(3):
            counts = np.bincount(y[g == group], minlength=3)
            expected = (counts + 0.5) / (counts.sum() + 1.5)
            assert_allclose(P[g == group], np.tile(expected, ((g == group).sum(), 1)), rtol=1e-7)

    def test_frequency_weights_equal_duplicated_rows(self) -> None:
        X, y = small(3, 2, n=30)
        w = np.random.default_rng(1).integers(0, 4, size=y.size)
        w[:3] = [1, 2, 3]
        weighted = fit_firth(X, y, sample_weight=w)
        repeated = fit_firth(np.repeat(X, w, axis=0), np.repeat(y, w))
        assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8, atol=1e-10)
        assert_allclose(
            weighted.coef_table().to_numpy(), repeated.coef_table().to_numpy(), rtol=1e-7
        )

    def test_sparse_equals_dense(self) -> None:
        X, y = small(3, 2)
        X[np.abs(X) < 0.5] = 0.0
        dense = fit_firth(X, y)
        sparse = fit_firth(sp.csr_matrix(X), y, solver="newton")
        assert_allclose(sparse.coef_, dense.coef_, atol=1e-9)

    def test_column_scale_only_rescales_coefficients(self) -> None:
        """log det I changes by a constant under a linear reparameterization, so the
        Firth fit is equivariant: scaling a column divides its coefficients."""
        X, y = small(3, 2)
        s = np.array([1e-3, 250.0])
        a = fit_firth(X, y)
        b = fit_firth(X * s, y)
        assert_allclose(b.coef_ * s, a.coef_, rtol=1e-7, atol=1e-10)
        assert_allclose(b.predict_proba(X * s), a.predict_proba(X), atol=1e-10)


class TestUnderSeparation:
    def test_customer_risk_gives_finite_estimates_and_inference(self) -> None:
        X, y = customer_risk()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = MultinomialLogit(penalty="firth").fit(X, y)
        assert not caught
        assert model.converged_ and model.separation_ is None
        assert np.all(np.isfinite(model.coef_)) and np.abs(model.coef_).max() < 10
        table = model.coef_table()
        assert np.all(np.isfinite(table.to_numpy()))
        assert np.all(table["std_err"] > 0)
        P = model.predict_proba(X)
        assert np.all((P > 0) & (P < 1))
        assert "Firth" in str(model.summary())

    def test_class_only_on_zero_weight_rows_no_runtime_warning(self) -> None:
        """A class seen only on rows of weight zero is an empty cell: Firth gives it the
        Jeffreys share, here ``(0 + 1/2) / (1 + 2/2) = 1/4`` (intercept only: x0 is constant
        on the weighted rows). Found by test_fuzz: the line search probes points where the
        information is nearly singular, and numpy's RuntimeWarning ('invalid value
        encountered in subtract', firth.py ``_penalty``) must not leak to the user."""
        X = np.array([[4.0], [-3.0]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", RuntimeWarning)
            model = MultinomialLogit(penalty="firth").fit(X, [1, 0], sample_weight=[1.0, 0.0])
        assert_allclose(model.predict_proba(X), [[0.25, 0.75], [0.25, 0.75]], rtol=1e-8)

    def test_likelihood_ratio_test_is_refused(self) -> None:
        X, y = customer_risk()
        model = MultinomialLogit(penalty="firth").fit(X, y)
        with pytest.raises(InvalidInputError, match="penalized"):
            model.lr_test()


def test_float32_firth_finishes_at_the_float64_optimum() -> None:
    """The float32 phase's cached penalty is dropped when the float64 phase starts: the
    fit then equals the float64 fit of the same numbers (with the stale cache the float64
    phase started from float32 penalty values and stopped 4e-8 away)."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((400, 3)) * np.geomspace(1.0, 3.0, 3)
    B = rng.standard_normal((3, 3)) * 0.7 / np.geomspace(1.0, 3.0, 3)[:, None]
    eta = X @ B + rng.standard_normal(3) * 0.3
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.random((400, 1))).argmax(axis=1)
    X32 = X.astype(np.float32)
    exact = MultinomialLogit(penalty="firth", tol=1e-13).fit(X32.astype(np.float64), y)
    fast = MultinomialLogit(penalty="firth").fit(X32, y)
    assert fast.converged_
    assert np.max(np.abs(fast.coef_ - exact.coef_)) < 1e-9 * np.max(np.abs(exact.coef_))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight", [3.0, 7.5])
def test_a_class_of_zero_weight_starts_finite_and_reaches_firths_estimate(dtype, weight) -> None:
    # found by the fuzzer: the null model's start floored the empty class's share at
    # 1e-12, where p (1 - p) is 0 in float32 and Firth's log det is -inf (the float32
    # phase's stall rule, found on the same data, is tested in test_protocol.py). One row
    # of weight W in class 1 (the other row weighs 0; x is then constant over the rows
    # that count and is dropped): Firth's intercept maximizes W log p + 1/2 log(W p (1 - p)),
    # W (1 - p) + (1 - 2p) / 2 = 0, so p = (W + 1/2) / (W + 1) and b = log(2 W + 1).
    X = np.array([[0.11135975], [2.2825103]], dtype=dtype)
    y = np.array([0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(penalty="firth").fit(X, y, sample_weight=[0.0, weight])
    assert model.convergence_.converged
    assert_allclose(model.intercept_, [0.0, np.log(2 * weight + 1)], rtol=0, atol=1e-7)
    assert_array_equal(model.coef_, 0.0)


def test_null_intercepts_add_half_a_row_only_for_firth_with_an_empty_class() -> None:
    from mnlogit.fitting import null_intercepts

    totals = np.array([0.0, 2.0, 6.0])
    # Firth, an empty class: every class gets half the mean row weight (8 / 4 rows)
    assert_allclose(null_intercepts(totals, 4, True), np.log(np.array([1.0, 3.0, 7.0]) / 11.0))
    # otherwise the plain shares, the empty class floored at 1e-12
    assert_allclose(null_intercepts(totals, 4, False), np.log([1e-12, 0.25, 0.75]))
    full = np.array([1.0, 2.0, 5.0])
    assert_allclose(null_intercepts(full, 4, True), np.log(full / 8.0))
