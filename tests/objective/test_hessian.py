"""The dense loss Hessian's kernels (issue-speed6, issue-speed9): the transposed wide
update ``[Zᵀ; Yᵀ]`` (one ``syrk`` for ``ZᵀZ`` and the block diagonal, or for a large
``m`` a ``syrk`` and a ``gemm``), the pairwise one (one ``syrk`` per block) and the
compiled narrow one (numba: a dot product per pair and column pair), each forced on
narrow and wide ``X``, against the Hessian's definition block by block and finite
differences; the narrow kernel's Python function and the routing without numba."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from helpers import hessian_by_definition
from mnlogit.objective import MultinomialObjective
from mnlogit.objective import hessian as hessian_module
from mnlogit.objective.penalties import make_penalty
from mnlogit.parameterization import Parameterization


def _force(monkeypatch, kernel):
    if kernel == "narrow":
        for name in ("NARROW_MAX_COLUMNS", "NARROW_MAX_FREE_CLASSES", "NARROW_BINARY_MAX_COLUMNS"):
            monkeypatch.setattr(hessian_module, name, 10**6)
        monkeypatch.setattr(hessian_module, "NARROW_MIN_WORK", 0)
        return
    monkeypatch.setattr(hessian_module, "NARROW_MAX_COLUMNS", 0)
    if kernel == "pairwise":
        monkeypatch.setattr(hessian_module, "PAIRWISE_MIN_COLUMNS", {1: 0, 2: 0, 3: 0})
    else:
        monkeypatch.setattr(hessian_module, "PAIRWISE_MAX_FREE_CLASSES", 0)
    if kernel == "wide, separate":  # ZᵀZ by its own syrk, the block diagonal by a gemm
        monkeypatch.setattr(hessian_module, "COMBINED_MAX_ENTRIES", 0)


CASES = [
    (kernel, K, p)
    for kernel, classes in (
        ("narrow", (2, 3, 4, 6)),
        ("pairwise", (2, 3, 4)),
        ("wide", (2, 3, 4, 6)),
        ("wide, separate", (2, 4)),
    )
    for K in classes
    for p in (3, 37)  # p1 narrow and wide
]


@pytest.mark.parametrize(("kernel", "K", "p"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("intercept", [True, False])
def test_forced_kernel_equals_thehessian_by_definition(monkeypatch, kernel, K, p, dtype, intercept):
    """Weights, column scaling, probabilities given as an array and as a function of row
    ranges (several sub-blocks, a short last one); float32 X in float64 and in float32."""
    rng = np.random.default_rng(10 * K + p)
    n = 1003
    X = rng.normal(size=(n, p)).astype(dtype)
    P = rng.dirichlet(np.ones(K), n)
    P1 = P[:, 1:]
    w = rng.uniform(0.2, 3.0, n) / n
    cf = rng.uniform(0.5, 2.0, p)
    Xs = X.astype(np.float64) * cf
    Y = np.column_stack([np.ones(n), Xs]) if intercept else Xs
    expected = hessian_by_definition(Y, P1, w)
    scale = np.abs(expected).max()
    _force(monkeypatch, kernel)
    monkeypatch.setattr(hessian_module, "block_rows", lambda width, min_rows=1: 128)
    args = dict(intercept=intercept, column_factor=cf)
    got = hessian_module.loss_hessian(X, P1, w, **args)
    assert got.dtype == np.float64
    assert_allclose(got, expected, rtol=1e-12, atol=1e-13 * scale)
    assert np.array_equal(got, got.T)
    by_rows = hessian_module.loss_hessian(X, lambda a, b: P1[a:b], w, free_classes=K - 1, **args)
    assert np.array_equal(by_rows, got)
    fast = hessian_module.loss_hessian(X, P1, w, float32=True, **args)
    if kernel == "narrow":  # the compiled kernel takes float32 requests: float64 sums
        assert fast.dtype == np.float64
        assert_allclose(fast, expected, rtol=1e-12, atol=1e-13 * scale)
    else:
        assert fast.dtype == np.float32
        assert_allclose(fast, expected, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("K", [2, 4, 6])
@pytest.mark.parametrize("p", [3, 37])
def test_wide_kernel_in_free_coordinates(K, p):
    """With ``T`` (the transformed ``Z``, the block diagonal spread by ``T``)."""
    rng = np.random.default_rng(50 + K + p)
    n = 701
    X = rng.normal(size=(n, p))
    P1 = rng.dirichlet(np.ones(K), n)[:, 1:]
    w = rng.uniform(0.2, 3.0, n) / n
    T = rng.normal(size=(K - 1, K - 1))
    expected = hessian_by_definition(np.column_stack([np.ones(n), X]), P1, w, T)
    got = hessian_module.loss_hessian(X, P1, w, intercept=True, T=T)
    assert_allclose(got, expected, rtol=1e-11, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize(("K", "p"), [(2, 3), (3, 25), (4, 6), (4, 45)])
def test_objective_hessian_against_finite_differences(K, p):
    """The kernel each shape takes by default (K = 2 narrow: pairwise now; K = 4 narrow:
    the transposed wide update), through the objective, against finite differences of
    its gradient; weights, feature scales and a non-first reference class (float32 X
    is covered above: its objective's default Hessian is the float32 preconditioner)."""
    rng = np.random.default_rng(90 + K + p)
    n = 400
    X = rng.normal(size=(n, p))
    y = rng.integers(0, K, n)
    obj = MultinomialObjective(
        X,
        y,
        K,
        rng.uniform(0.5, 2.0, n),
        Parameterization(K, K - 1),
        make_penalty(None, 0.0, True),
        feature_scale=rng.uniform(0.5, 2.0, p),
    )
    theta = rng.normal(scale=0.3, size=obj.n_params)
    H = obj.hessian(theta)
    assert H.dtype == np.float64
    eps = 1e-6
    fd = np.empty_like(H)
    for j in range(obj.n_params):
        e = np.zeros(obj.n_params)
        e[j] = eps
        fd[:, j] = (obj.value_and_gradient(theta + e)[1] - obj.value_and_gradient(theta - e)[1]) / (
            2 * eps
        )
    assert_allclose(H, fd, rtol=1e-6, atol=1e-8 * max(1.0, np.abs(fd).max()))


def _narrow_calls(monkeypatch) -> list[int]:
    """The rows of every call of the compiled kernel from now on (a spy around it)."""
    calls: list[int] = []
    real = hessian_module.narrow_pair_sums

    def spy(*args):
        calls.append(args[0].shape[0])
        return real(*args)

    monkeypatch.setattr(hessian_module, "narrow_pair_sums", spy)
    return calls


def _narrow_case(seed, n=613, p=5, K=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    P1 = rng.dirichlet(np.ones(K), n)[:, 1:]
    w = rng.uniform(0.2, 3.0, n) / n
    return X, P1, w


@pytest.mark.parametrize("intercept", [True, False])
def test_narrow_kernel_in_free_coordinates(monkeypatch, intercept):
    """``T`` applied to the narrow kernel's assembled matrix equals the definition's
    ``(T ⊗ I) H (T ⊗ I)ᵀ`` and the wide kernel's transformed ``Z``."""
    X, P1, w = _narrow_case(7)
    T = np.random.default_rng(8).normal(size=(3, 3))
    Y = np.column_stack([np.ones(len(X)), X]) if intercept else X
    expected = hessian_by_definition(Y, P1, w, T)
    _force(monkeypatch, "narrow")
    got = hessian_module.loss_hessian(X, P1, w, intercept=intercept, T=T)
    assert got.flags.c_contiguous
    assert np.array_equal(got, got.T)
    assert_allclose(got, expected, rtol=1e-11, atol=1e-12 * np.abs(expected).max())
    _force(monkeypatch, "wide")
    wide = hessian_module.loss_hessian(X, P1, w, intercept=intercept, T=T)
    assert_allclose(got, wide, rtol=1e-11, atol=1e-12 * np.abs(expected).max())


def test_narrow_kernel_is_the_default_for_narrow_x(monkeypatch):
    """With numba, ``p1 <= NARROW_MAX_COLUMNS`` in float64 takes the compiled kernel (the
    wide and pairwise ones are not called) once the work reaches ``NARROW_MIN_WORK`` or
    the caller says ``compiled=True``, float32 preconditioners included; below it, wider
    X, two classes beyond ``NARROW_BINARY_MAX_COLUMNS`` and more than
    ``NARROW_MAX_FREE_CLASSES`` free classes do not."""
    if not hessian_module.HAVE_NUMBA:
        pytest.skip("numba not installed")
    X, P1, w = _narrow_case(9, p=hessian_module.NARROW_MAX_COLUMNS - 1)
    calls = _narrow_calls(monkeypatch)
    hessian_module.loss_hessian(X, P1, w, intercept=True)  # too little work: BLAS
    hessian_module.loss_hessian(X, P1, w, intercept=True, float32=True)
    assert calls == []
    assert len(X) * ((P1.shape[1] + 1) * (X.shape[1] + 1)) ** 2 < hessian_module.NARROW_MIN_WORK
    hessian_module.loss_hessian(X, P1, w, intercept=True, compiled=True)
    assert sum(calls) == len(X)
    calls.clear()
    monkeypatch.setattr(hessian_module, "NARROW_MIN_WORK", 0)
    hessian_module.loss_hessian(X, P1, w, intercept=True)
    hessian_module.loss_hessian(X, P1, w, intercept=True, float32=True)
    assert sum(calls) == 2 * len(X)
    calls.clear()
    wider = np.column_stack([X, X[:, :2]])
    hessian_module.loss_hessian(wider, P1, w, intercept=True)
    binary = X[:, : hessian_module.NARROW_BINARY_MAX_COLUMNS]
    hessian_module.loss_hessian(binary, P1[:, :1], w, intercept=True)
    k1 = hessian_module.NARROW_MAX_FREE_CLASSES + 1
    many = np.random.default_rng(10).dirichlet(np.ones(k1 + 1), len(X))[:, 1:]
    hessian_module.loss_hessian(X[:, :3], many, w, intercept=True)
    assert calls == []
    hessian_module.loss_hessian(binary[:, 1:], P1[:, :1], w, intercept=True)
    hessian_module.loss_hessian(X[:, :3], many[:, 1:], w, intercept=True)
    assert sum(calls) == 2 * len(X)


def test_without_numba_the_blas_kernels_are_used(monkeypatch):
    """The fallback when numba is absent: the routing goes to today's kernels (the narrow
    kernel is never called), with the same Hessian."""
    X, P1, w = _narrow_case(11)
    expected = hessian_by_definition(np.column_stack([np.ones(len(X)), X]), P1, w)

    def fail(*args):
        raise AssertionError("the compiled kernel was called")

    monkeypatch.setattr(hessian_module, "HAVE_NUMBA", False)
    monkeypatch.setattr(hessian_module, "NARROW_MIN_WORK", 0)  # the work would route it
    monkeypatch.setattr(hessian_module, "narrow_pair_sums", fail)
    got = hessian_module.loss_hessian(X, P1, w, intercept=True)
    assert_allclose(got, expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("off", [0, 1])
def test_narrow_pair_sums_python_function_equals_compiled(dtype, off):
    """The kernel's Python body (what runs without numba) and the compiled one give the
    upper triangles of ``Yᵀ diag(h_ab) Y`` (``Y`` with scaled columns), tiles shorter
    than the rows and a short last tile included; float32 rows summed in float64; zeros
    in the padding; a sums array whose width is not a padded multiple of 4 refused (the
    compiled loops are unchecked)."""
    X, P1, w = _narrow_case(13, n=70, p=4, K=3)
    X = X.astype(dtype)
    cf = np.linspace(0.5, 2.0, X.shape[1])
    Xs = X.astype(np.float64) * cf
    Y = np.column_stack([np.ones(len(X)), Xs]) if off else Xs
    p1 = Y.shape[1]
    full = hessian_by_definition(Y, P1, w)
    expected = [
        full[a * p1 : (a + 1) * p1, b * p1 : (b + 1) * p1] for a, b in [(0, 0), (0, 1), (1, 1)]
    ]
    kernel = hessian_module.narrow_pair_sums
    python = getattr(kernel, "py_func", kernel)
    width = -(-p1 // 4) * 4
    for run in (kernel, python):
        acc = np.zeros((3, width, width))
        run(X, cf, P1, w, off, 16, acc)
        assert not acc[:, p1:].any() and not acc[:, :, p1:].any()
        for q in range(3):
            assert_allclose(np.triu(acc[q, :p1, :p1]), np.triu(expected[q]), rtol=1e-12, atol=1e-15)
        with pytest.raises(ValueError, match="multiple of 4"):
            run(X, np.ones(X.shape[1]), P1, w, off, 16, np.zeros((3, p1 + 1, p1 + 1)))


def test_narrow_kernel_scales_before_the_products(monkeypatch):
    """A column near 1e200 with its factor 1e-200 (the objective's internal scaling of an
    extreme column): the scaled products are finite, as with the wide kernel, where
    scaling the sums would overflow ``x²`` to ``inf`` and give ``inf * 0 = nan``."""
    X, P1, w = _narrow_case(17, p=3)
    cf = np.array([1e-200, 1.0, 1.0])
    Z = X * np.array([1e200, 1.0, 1.0])
    expected = hessian_by_definition(np.column_stack([np.ones(len(X)), X]), P1, w)
    _force(monkeypatch, "narrow")
    got = hessian_module.loss_hessian(Z, P1, w, intercept=True, column_factor=cf)
    assert np.isfinite(got).all()
    assert_allclose(got, expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())


def test_load_compiled_kernel_loads_it_without_changing_results(monkeypatch):
    """``load_compiled_kernel`` (the benchmarks' warm-up) reports whether numba is there;
    a Hessian by the compiled kernel afterwards is the same as by definition."""
    assert hessian_module.load_compiled_kernel() is hessian_module.HAVE_NUMBA
    monkeypatch.setattr(hessian_module, "NARROW_MIN_WORK", 0)
    X, P1, w = _narrow_case(13)
    expected = hessian_by_definition(np.column_stack([np.ones(len(X)), X]), P1, w)
    got = hessian_module.loss_hessian(X, P1, w, intercept=True)
    assert_allclose(got, expected, rtol=1e-11, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("p", [3, 4, 5, 6, 9, 10])
@pytest.mark.parametrize("intercept", [False, True])
def test_narrow_kernel_every_column_remainder(p, intercept):
    """Every ``p1 % 4`` (the last column with each group's last tile for 1, by strips for
    2, by ``4 x 3`` tiles and a triangle of three for 3) against the definition (numpy,
    block by block), with a column scaling and weights."""
    from mnlogit.objective.hessian import _narrow_loss_hessian, _row_slices

    rng = np.random.default_rng(p)
    n, K = 301, 4
    X = rng.normal(size=(n, p))
    eta = rng.normal(size=(n, K))
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    w = rng.uniform(0.5, 2.0, n)
    scale = rng.uniform(0.5, 2.0, p)
    got = _narrow_loss_hessian(X, _row_slices(P[:, 1:]), w, scale, intercept, K - 1, None)
    Y = X * scale
    if intercept:
        Y = np.hstack([np.ones((n, 1)), Y])
    Q = P[:, 1:]
    p1 = Y.shape[1]
    ref = np.empty_like(got)
    for a in range(K - 1):
        for b in range(K - 1):
            h = w * Q[:, a] * ((a == b) - Q[:, b])
            ref[a * p1 : (a + 1) * p1, b * p1 : (b + 1) * p1] = Y.T @ (h[:, None] * Y)
    assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("parent_reaches", [True, False])
def test_subsample_takes_the_compiled_kernel_when_the_full_data_does(monkeypatch, parent_reaches):
    """A subsample of an objective whose own Hessian reaches ``NARROW_MIN_WORK`` (so the
    fit loads the compiled kernel anyway) forms its preconditioner Hessians by that
    kernel however few its rows, in float64, equal to the Hessian by definition of the
    subsample's float32 rows; and so do its own subsamples. Otherwise the BLAS kernel's
    float32 preconditioner, as before."""
    if not hessian_module.HAVE_NUMBA:
        pytest.skip("numba not installed")
    import mnlogit.objective.multinomial as multinomial_module

    rng = np.random.default_rng(17)
    n, p, K = 4096, 6, 4
    X = rng.normal(size=(n, p))
    y = rng.integers(0, K, n)
    obj = MultinomialObjective(
        X, y, K, np.ones(n), Parameterization(K, 0), make_penalty(None, 0.0, True)
    )
    full_work = n * (obj.n_params + obj.p1) ** 2
    threshold = full_work if parent_reaches else full_work + 1
    monkeypatch.setattr(multinomial_module, "NARROW_MIN_WORK", threshold)
    calls = _narrow_calls(monkeypatch)
    sub = obj.subsample(8)
    subsub = sub.subsample(2)
    theta = rng.normal(scale=0.3, size=obj.n_params)
    for objective in (sub, subsub):
        calls.clear()
        H = objective.hessian(theta)
        Xs = objective.X.astype(np.float64)
        P = objective.probabilities(theta)
        if parent_reaches:
            assert sum(calls) == objective.n_samples
            assert H.dtype == np.float64
        else:
            assert calls == []
            assert H.dtype == np.float32
        Y = np.column_stack([np.ones(len(Xs)), Xs])
        expected = hessian_by_definition(Y, P[:, 1:], objective.normalized_weights)
        tol = 1e-12 if parent_reaches else 1e-4
        assert_allclose(H, expected, rtol=tol, atol=tol * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("p", "off"), [(1, 1), (2, 0), (4, 1), (20, 1), (10, 1), (7, 0), (3, 0), (6, 1)]
)
@pytest.mark.parametrize("tile", [8, 13, 192])
def test_narrow_pair_sums_row_groups_and_column_groups(
    dtype: type, p: int, off: int, tile: int
) -> None:
    """The kernel's pieces (issue-hess14): the transposed copy in groups of eight rows
    (tiles of 8, 13 and 192 rows over 411 rows: whole groups, a partial group, a short
    last tile), the four rows ``h Y_j`` per group of four columns, the strips and the
    last columns' own triangle (``p1`` = 2, 2, 5, 21, 11, 7, 3 and 7: no ``4 x 4`` tile,
    one, two or three columns past a multiple of four), float32 rows summed in
    float64 and a row-strided ``X`` (read in place), against ``Yᵀ diag(h_ab) Y`` by
    NumPy."""
    rng = np.random.default_rng(p + 31 * off)
    n, K = 411, 5
    X: np.ndarray = rng.normal(size=(2 * n, p)).astype(dtype)[::2]  # rows 2p apart
    assert not X.flags.c_contiguous
    P1 = rng.dirichlet(np.ones(K), n)[:, 1:]
    w = rng.uniform(0.2, 3.0, n)
    cf = rng.uniform(0.5, 2.0, p)
    Xs = X.astype(np.float64) * cf
    Y = np.column_stack([np.ones(n), Xs]) if off else Xs
    p1 = Y.shape[1]
    width = -(-p1 // 4) * 4
    acc = np.zeros((10, width, width))
    hessian_module.narrow_pair_sums(X, cf, P1, w, off, tile, acc)
    assert not acc[:, p1:].any() and not acc[:, :, p1:].any()
    q = 0
    for a in range(K - 1):
        for b in range(a, K - 1):
            h = w * P1[:, a] * ((a == b) - P1[:, b])
            expected = Y.T @ (h[:, None] * Y)
            scale = np.abs(expected).max()
            assert_allclose(
                np.triu(acc[q, :p1, :p1]), np.triu(expected), rtol=1e-12, atol=1e-14 * scale
            )
            q += 1


@pytest.mark.parametrize(("p", "off"), [(1, 0), (7, 1), (8, 0), (12, 0)])
@pytest.mark.parametrize("n", [1, 5, 8, 203])
@pytest.mark.parametrize("order", ["C", "F"])
def test_narrow_pair_sums_whole_groups_few_rows_and_zero_weights(
    p: int, off: int, n: int, order: str
) -> None:
    """The cases the row- and column-group test leaves out (the review of issue-hess14):
    ``p1 = 1`` (one column, no tile), ``p1`` a multiple of four (whole ``4 x 4`` tiles
    only), fewer rows than one group of eight, a Fortran-ordered ``X`` and rows of zero
    weight, against ``Yᵀ diag(h_ab) Y`` by NumPy; the padding is left as it was."""
    rng = np.random.default_rng(7 * p + n + off)
    K = 4
    X = np.asarray(rng.normal(size=(n, p)), order=order)
    P1 = rng.dirichlet(np.ones(K), n)[:, 1:]
    w = rng.uniform(0.2, 3.0, n)
    w[::3] = 0.0
    cf = rng.uniform(0.5, 2.0, p)
    Y = np.column_stack([np.ones(n), X * cf]) if off else X * cf
    p1 = Y.shape[1]
    width = -(-p1 // 4) * 4 + 4  # wider than needed: the padding must stay as it was
    acc = np.full((6, width, width), 7.0)
    acc[:, :p1, :p1] = 0.0
    hessian_module.narrow_pair_sums(X, cf, P1, w, off, 192, acc)
    assert np.all(acc[:, p1:] == 7.0) and np.all(acc[:, :, p1:] == 7.0)
    q = 0
    for a in range(K - 1):
        for b in range(a, K - 1):
            h = w * P1[:, a] * ((a == b) - P1[:, b])
            expected = Y.T @ (h[:, None] * Y)
            scale = max(np.abs(expected).max(), 1e-300)
            assert_allclose(
                np.triu(acc[q, :p1, :p1]), np.triu(expected), rtol=1e-12, atol=1e-14 * scale
            )
            q += 1
