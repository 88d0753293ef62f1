"""What standard errors cost: the default fit (covariance in ``fit``) against ``cov_type=None``.

One configuration per fresh process (alternate them; the machine is shared)::

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.covariance onehot --cov nonrobust
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.covariance onehot --cov none

Problems: ``onehot`` -- 300,000 rows of 12 categorical features with 11 levels each as CSR
indicator columns (first level dropped: p = 120, 12 stored values a row), K = 8, labels
from a true multinomial logit; ``onehot-dense`` -- the same X as a dense float64 array.
Prints the best of ``--repeat`` fit times, the covariance status and the first standard
errors (to check two configurations computed the same thing). ``--step`` times the
covariance step alone: ``compute_covariance`` after a ``cov_type=None`` fit.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import scipy.sparse as sp


def onehot(n: int = 300_000, features: int = 12, levels: int = 11, K: int = 8) -> tuple[Any, Any]:
    """The one-hot problem: CSR ``X`` of shape (n, features * (levels - 1)) and labels."""
    rng = np.random.default_rng(18)
    codes = rng.integers(0, levels, (n, features))
    cols = (codes - 1) + np.arange(features) * (levels - 1)
    keep = codes > 0
    rows = np.broadcast_to(np.arange(n)[:, None], codes.shape)[keep]
    p = features * (levels - 1)
    X = sp.csr_matrix((np.ones(keep.sum()), (rows, cols[keep])), shape=(n, p))
    W = rng.normal(0, 0.5, (p, K))
    eta = X @ W + rng.normal(0, 0.3, K)
    y = (eta + rng.gumbel(size=eta.shape)).argmax(axis=1)
    return X, y


def main() -> None:
    """Fit one configuration (see the module docstring)."""
    from mnlogit import MultinomialLogit

    parser = argparse.ArgumentParser()
    parser.add_argument("problem", choices=["onehot", "onehot-dense"])
    parser.add_argument("--cov", choices=["nonrobust", "none"], default="nonrobust")
    parser.add_argument("--solver", default="auto")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--step", action="store_true", help="fit with cov_type=None, then time compute_covariance"
    )
    args = parser.parse_args()
    X, y = onehot()
    if args.problem == "onehot-dense":
        X = X.toarray()
    cov = None if args.cov == "none" else args.cov
    if args.step:
        model = MultinomialLogit(solver=args.solver, cov_type=None).fit(X, y)
        steps = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            model.compute_covariance(X, y, cov_type="nonrobust")
            steps.append(time.perf_counter() - t0)
        se = np.sqrt(np.diag(model.fitted_.cov))
        print(f"{args.problem}: compute_covariance {min(steps):.2f} s, se[-3:] {se[-3:]}")
        return
    times = []
    for _ in range(args.repeat):
        model = MultinomialLogit(solver=args.solver, cov_type=cov)
        t0 = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - t0)
    bse = "" if cov is None else f", bse[:3] {np.sqrt(np.diag(model.fitted_.cov))[-3:]}"
    print(
        f"{args.problem} cov={args.cov} solver={args.solver}: fit {min(times):.2f} s "
        f"(n_iter {model.n_iter_}), cov_status {model.cov_status_!r}{bse}"
    )


if __name__ == "__main__":
    main()
