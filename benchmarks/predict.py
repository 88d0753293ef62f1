"""Prediction timing: mnlogit's ``predict_proba`` against scikit-learn's, same coefficients.

Run one library per fresh process (alternate them; the machine is shared)::

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.predict mnlogit --n 1000000 --p 50 --k 10
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.predict sklearn --n 1000000 --p 50 --k 10

Prints the best of ``--repeat`` wall times of ``predict_proba`` (and ``predict``), the
tracemalloc peak of one ``predict_proba`` call and the growth of the process's peak RSS
over that call (both in MB, beyond the data and the fitted model).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from typing import Any

import numpy as np


def _model(library: str, p: int, k: int) -> Any:
    rng = np.random.default_rng(1)
    coef = rng.normal(0.0, 1.5 / np.sqrt(p), (k, p))
    coef -= coef.mean(axis=0)
    intercept = rng.normal(0.0, 0.5, k)
    intercept -= intercept.mean()
    classes = np.arange(k)
    if library == "sklearn":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression()
        model.coef_, model.intercept_, model.classes_ = coef, intercept, classes
        model.n_features_in_ = p
        return model
    from mnlogit import MultinomialLogit

    return MultinomialLogit.from_coefficients(classes, intercept, coef)


def main() -> None:
    """Time one library's predictions (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("library", choices=["mnlogit", "sklearn"])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--p", type=int, default=50)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--float32", action="store_true")
    args = parser.parse_args()
    X = np.random.default_rng(0).standard_normal((args.n, args.p))
    if args.float32:
        X = X.astype(np.float32)
    model = _model(args.library, args.p, args.k)
    model.predict_proba(X[:100])  # warm imports
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    model.predict_proba(X)
    first = time.perf_counter() - t0
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    times = [first]
    for _ in range(args.repeat - 1):
        t0 = time.perf_counter()
        model.predict_proba(X)
        times.append(time.perf_counter() - t0)
    ptimes = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        model.predict(X)
        ptimes.append(time.perf_counter() - t0)
    tracemalloc.start()
    model.predict_proba(X)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"{args.library}: predict_proba {min(times):.3f} s, predict {min(ptimes):.3f} s, "
        f"tracemalloc peak {peak:.0f} MB, RSS growth {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
