"""Deterministic synthetic benchmark problems.

Every problem is generated from a fixed seed, so two runs (and every method within a
run) see exactly the same data.

- Dense problems: standard-normal features and labels drawn from a true multinomial
  logit with moderate coefficients (linear-predictor standard deviation about 1.5),
  so that with ``n`` well above the number of free parameters the maximum-likelihood
  estimate exists (no separation).
- The sparse problem imitates a bag-of-words matrix: tokens drawn from a Zipf-like
  vocabulary, duplicate tokens summed into counts, tf-idf weighting
  (``(1 + log tf) * idf``, rows scaled to unit length, as scikit-learn's
  ``TfidfVectorizer``), and labels from a sparse true model.

- Issue 18's additions: a sparse one-hot problem (``kind="onehot"``: categorical features
  with 11 levels as CSR indicator columns, first level dropped), ill-conditioned ones
  (``kind="illcond"``: features sharing one factor, pairwise correlation 0.95, columns
  scaled ``1e-3 .. 1e3``), a many-class one (K = 100) and a tall one (2M x 10).

``alpha`` is the ridge strength on the *mean* log-loss, mnlogit's convention;
scikit-learn's equivalent is ``C = 1 / (alpha * n)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from numpy.typing import NDArray

__all__ = ["PROBLEMS", "Problem", "get_problems"]

# Rows generated per chunk for dense problems (bounds the float64 temporaries).
_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    Attributes
    ----------
    name : str
        Identifier used on the command line and in the results.
    n, p, K : int
        Rows, features, classes (``n`` before any ``--scale``).
    dtype : str
        ``"float64"`` or ``"float32"``: the dtype of ``X`` handed to every method.
    penalty : None or "l2"
    alpha : float
        Ridge strength on the mean log-loss (0 when ``penalty`` is None).
    sparse : bool
        ``X`` is a scipy CSR matrix.
    density : float
        Fraction of nonzero entries (sparse problems only).
    min_n : int
        Lower bound on ``n`` after scaling, keeping enough rows per parameter for the
        maximum-likelihood estimate to exist.
    seed : int
    scale : float
        The factor ``n`` was scaled by (1.0 for the published sizes).
    kind : str
        ``""`` (the generator ``sparse`` implies), ``"onehot"`` or ``"illcond"``.
    """

    name: str
    n: int
    p: int
    K: int
    dtype: str = "float64"
    penalty: str | None = None
    alpha: float = 0.0
    sparse: bool = False
    density: float = 1.0
    min_n: int = 1000
    seed: int = 0
    scale: float = 1.0
    kind: str = ""

    @property
    def n_params(self) -> int:
        """Free parameters of the model, ``(K - 1)(p + 1)``."""
        return (self.K - 1) * (self.p + 1)

    @property
    def sklearn_C(self) -> float:
        """scikit-learn's ``C`` for the same objective (``inf`` when unpenalized)."""
        if self.penalty is None or self.alpha == 0.0:
            return float("inf")
        return 1.0 / (self.alpha * self.n)

    @property
    def x_nbytes(self) -> int:
        """Size of ``X`` in bytes (data, indices and indptr for a sparse ``X``)."""
        itemsize = np.dtype(self.dtype).itemsize
        if not self.sparse:
            return self.n * self.p * itemsize
        nnz = round(self.n * self.p * self.density)
        return nnz * (itemsize + 4) + (self.n + 1) * 4

    def scaled(self, scale: float) -> Problem:
        """The same problem with ``n`` multiplied by ``scale`` (at least ``min_n``)."""
        if scale == 1.0:
            return self
        n = max(round(self.n * scale), min(self.min_n, self.n))
        return replace(self, n=n, scale=scale)

    def describe(self) -> str:
        """Short human-readable description (for tables)."""
        kind = f"sparse {self.density:.1%}" if self.sparse else "dense"
        pen = "none" if self.penalty is None else f"{self.penalty} alpha={self.alpha:g}"
        return f"n={self.n:,} p={self.p:,} K={self.K} {kind} {self.dtype} penalty={pen}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)

    def generate(self) -> tuple[NDArray[Any] | sp.csr_matrix, NDArray[np.intp]]:
        """``(X, y)`` for this problem; ``y`` holds class codes ``0 .. K-1``."""
        if self.kind == "onehot":
            return _onehot_problem(self)
        if self.kind == "illcond":
            return _illconditioned_problem(self)
        if self.sparse:
            return _sparse_problem(self)
        return _dense_problem(self)


def _gumbel_labels(eta: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.intp]:
    """Draw ``y_i ~ softmax(eta_i)`` by the Gumbel-max trick."""
    return np.asarray(np.argmax(eta + rng.gumbel(size=eta.shape), axis=1), dtype=np.intp)


def _dense_problem(prob: Problem) -> tuple[NDArray[Any], NDArray[np.intp]]:
    rng = np.random.default_rng(prob.seed)
    n, p, K = prob.n, prob.p, prob.K
    signal = 1.5
    W = rng.normal(0.0, signal / np.sqrt(p), size=(p, K))
    b = rng.normal(0.0, 0.5, size=K)
    X = np.empty((n, p), dtype=prob.dtype)
    y = np.empty(n, dtype=np.intp)
    # Row chunks drawn from per-chunk child generators: the data do not depend on the
    # dtype (float32 is the rounded float64 matrix) and memory stays bounded.
    children = rng.spawn((n + _CHUNK_ROWS - 1) // _CHUNK_ROWS)
    for i, child in enumerate(children):
        lo, hi = i * _CHUNK_ROWS, min(n, (i + 1) * _CHUNK_ROWS)
        Xc = child.standard_normal((hi - lo, p))
        X[lo:hi] = Xc
        y[lo:hi] = _gumbel_labels(Xc @ W + b, child)
    _ensure_all_classes(y, K)
    return X, y


def _onehot_problem(prob: Problem) -> tuple[sp.csr_matrix, NDArray[np.intp]]:
    """``p / 10`` categorical features of 11 levels as CSR indicators (first level dropped)."""
    rng = np.random.default_rng(prob.seed)
    n, K, levels = prob.n, prob.K, 11
    features = prob.p // (levels - 1)
    codes = rng.integers(0, levels, (n, features))
    cols = (codes - 1) + np.arange(features) * (levels - 1)
    keep = codes > 0
    rows = np.broadcast_to(np.arange(n)[:, None], codes.shape)[keep]
    X = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=prob.dtype), (rows, cols[keep])), shape=(n, prob.p)
    )
    W = rng.normal(0.0, 0.5, (prob.p, K))
    y = _gumbel_labels(np.asarray(X @ W) + rng.normal(0.0, 0.3, K), rng)
    _ensure_all_classes(y, K)
    return X, y


def _illconditioned_problem(prob: Problem) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Features correlated 0.95 (one shared factor), columns scaled ``1e-3 .. 1e3``."""
    rng = np.random.default_rng(prob.seed)
    n, p, K = prob.n, prob.p, prob.K
    common = rng.standard_normal((n, 1))
    Z = np.sqrt(0.95) * common + np.sqrt(0.05) * rng.standard_normal((n, p))
    eta = Z @ rng.normal(0.0, 4.5 / np.sqrt(p), (p, K)) + rng.normal(0.0, 0.5, K)
    y = _gumbel_labels(eta, rng)
    _ensure_all_classes(y, K)
    return np.asarray(Z * np.logspace(-3, 3, p), dtype=prob.dtype), y


def _ensure_all_classes(y: NDArray[np.intp], K: int) -> None:
    """Every class must occur (tiny scaled problems could miss a rare one)."""
    missing = np.setdiff1d(np.arange(K), y)
    if missing.size:
        y[: missing.size] = missing


def _tokens_per_row(q: NDArray[np.float64], distinct: float) -> float:
    """Poisson rate of tokens per row giving ``distinct`` expected distinct terms."""

    def excess(lam: float) -> float:
        return float(np.sum(-np.expm1(-lam * q))) - distinct

    return float(scipy.optimize.brentq(excess, distinct * 0.5, distinct * 100.0))


def _sparse_problem(prob: Problem) -> tuple[sp.csr_matrix, NDArray[np.intp]]:
    rng = np.random.default_rng(prob.seed)
    n, p, K = prob.n, prob.p, prob.K
    # Zipf-like vocabulary (flattened so that the target density is reachable).
    q: NDArray[np.float64] = (np.arange(p, dtype=np.float64) + 10.0) ** -0.9
    q /= q.sum()
    lam = _tokens_per_row(q, prob.density * p)
    lengths = np.maximum(rng.poisson(lam, size=n), 1)
    rows = np.repeat(np.arange(n, dtype=np.int32), lengths)
    cols = rng.choice(p, size=rows.size, p=q).astype(np.int32)
    counts = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float64), (rows, cols)), shape=(n, p), dtype=np.float64
    )
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=p)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    X: Any = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-300)) @ counts)
    X.sort_indices()
    # Sparse true model: 10% of the (feature, class) weights nonzero.
    Wt = rng.standard_normal((p, K)) * (rng.random((p, K)) < 0.1)
    eta = np.asarray(X @ Wt)
    eta *= 2.0 / max(float(eta.std()), 1e-12)
    eta += rng.normal(0.0, 0.5, size=K)
    y = _gumbel_labels(eta, rng)
    _ensure_all_classes(y, K)
    X = X.astype(np.dtype(prob.dtype)).tocsr()
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X, y


PROBLEMS: dict[str, Problem] = {
    prob.name: prob
    for prob in [
        Problem("dense-100k-20-5", n=100_000, p=20, K=5, seed=1),
        Problem("dense-200k-100-10", n=200_000, p=100, K=10, seed=2, min_n=20_000),
        Problem("dense-50k-300-20", n=50_000, p=300, K=20, seed=3, min_n=25_000),
        Problem("dense-1m-50-3", n=1_000_000, p=50, K=3, seed=4),
        Problem("dense-200k-100-10-f32", n=200_000, p=100, K=10, dtype="float32", seed=2,
                min_n=20_000),
        Problem("dense-200k-100-10-l2", n=200_000, p=100, K=10, penalty="l2", alpha=1e-3,
                seed=2, min_n=20_000),
        Problem("sparse-100k-50k-20-l2", n=100_000, p=50_000, K=20, penalty="l2", alpha=1e-5,
                sparse=True, density=0.001, seed=5),
        # issue 18: what users run
        Problem("onehot-300k-120-8", n=300_000, p=120, K=8, sparse=True, density=12 / 132,
                kind="onehot", seed=18, min_n=20_000),
        Problem("illcond-20k-50-6", n=20_000, p=50, K=6, kind="illcond", seed=7),
        Problem("illcond-200k-50-6", n=200_000, p=50, K=6, kind="illcond", seed=7,
                min_n=20_000),
        Problem("dense-100k-20-100", n=100_000, p=20, K=100, seed=8, min_n=50_000),
        Problem("tall-2m-10-4", n=2_000_000, p=10, K=4, seed=9),
    ]
}  # fmt: skip


def get_problems(names: Iterable[str] | None = None, scale: float = 1.0) -> list[Problem]:
    """Problems by name (all when ``names`` is None), with ``n`` scaled by ``scale``."""
    selected = list(PROBLEMS) if names is None else list(names)
    unknown = [name for name in selected if name not in PROBLEMS]
    if unknown:
        raise KeyError(f"unknown problems {unknown}; known: {sorted(PROBLEMS)}")
    return [PROBLEMS[name].scaled(scale) for name in selected]


def main(argv: list[str] | None = None) -> None:
    """List the problems (``python -m benchmarks.problems [--scale S]``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    for prob in get_problems(scale=args.scale):
        print(f"{prob.name:24s} {prob.describe()}  m={prob.n_params:,}")


if __name__ == "__main__":
    main()
