"""GPU check and benchmark (issue 19): mnlogit on a device against scikit-learn's array-API lbfgs.

One short script for a machine with a GPU (docs/gpu.md)::

    SCIPY_ARRAY_API=1 python -m benchmarks.gpu --device cuda --out gpu.json
    SCIPY_ARRAY_API=1 python -m benchmarks.gpu --device cuda --cpu --out gpu.json  # + CPU fit

1. **Equality**: a small float64 problem fitted from PyTorch arrays on the device and from
   numpy arrays on the host; the largest relative differences of the coefficients and the
   standard errors (target 1e-10) and of the probabilities.
2. **Benchmark**: ``n x p`` float32 features (default 5,000,000 x 100) and ``K`` (10)
   classes drawn from a softmax model on the device; the same objective -- the mean
   log-loss plus ``1/(2 C n) ||W||²`` with ``C = 1``, which is scikit-learn's
   ``LogisticRegression()`` and mnlogit's ``penalty="l2", reference=None`` -- fitted by
   mnlogit (``solver="auto"``, covariance skipped as scikit-learn computes none; then once
   more with it) and by scikit-learn 1.9's lbfgs under ``array_api_dispatch=True``, each
   after a warm-up fit on 10,000 rows. Both objective values are evaluated by the same
   float64 code on the device, so the times are for the same objective (the relative gap
   is reported), and both in "pass equivalents" (fit time over the time of one ``X @ W`` plus
one ``Xᵀ G`` on the device). ``--cpu`` also times mnlogit on the host's CPU with 2 BLAS threads (the
   project's 2-core machine; an approximation of it).

Writes one JSON record (``--out``) and prints it. ``SCIPY_ARRAY_API=1`` must be set before
SciPy is imported (scikit-learn's array-API dispatch needs it); the script sets it when
run as a program.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np


def _sync(torch: Any, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def make_data(
    torch: Any, n: int, p: int, k: int, device: str, dtype: Any, seed: int = 0
) -> tuple[Any, Any]:
    """``(X, y)`` on ``device``: standard normal features, labels from a softmax model."""
    g = torch.Generator(device=device).manual_seed(seed)
    X = torch.randn(n, p, generator=g, device=device, dtype=dtype)
    W = torch.randn(p, k, generator=g, device=device, dtype=dtype) * (1.5 / p**0.5)
    b = torch.randn(k, generator=g, device=device, dtype=dtype) * 0.5
    y = torch.empty(n, dtype=torch.int64, device=device)
    step = 1_000_000
    for a in range(0, n, step):
        P = torch.softmax(X[a : a + step] @ W + b, dim=1)
        y[a : a + step] = torch.multinomial(P, 1, generator=g).squeeze(1)
    return X, y


def objective(torch: Any, X: Any, y: Any, coef: Any, intercept: Any, C: float) -> float:
    """Mean log-loss plus ``||coef||² / (2 C n)``, in float64 on X's device."""
    W = torch.as_tensor(np.asarray(coef, dtype=np.float64), device=X.device)
    b = torch.as_tensor(np.asarray(intercept, dtype=np.float64), device=X.device)
    n = X.shape[0]
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for a in range(0, n, 1_000_000):
        eta = X[a : a + 1_000_000].double() @ W.T + b
        hit = eta.gather(1, y[a : a + 1_000_000, None]).squeeze(1)
        total += (torch.logsumexp(eta, dim=1) - hit).sum()
    return float(total) / n + float((W * W).sum()) / (2.0 * C * n)


def _host(a: Any) -> Any:
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def check_equality(torch: Any, device: str, n: int) -> dict[str, float]:
    """Largest relative differences between a device fit and the numpy fit (float64)."""
    from mnlogit import MultinomialLogit

    X, y = make_data(torch, n, 20, 5, device, torch.float64, seed=1)
    host = MultinomialLogit().fit(_host(X), _host(y))
    dev = MultinomialLogit().fit(X, y)

    def rel(a: Any, b: Any) -> float:
        return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

    se_d = dev.coef_table()["std_err"].to_numpy()
    se_h = host.coef_table()["std_err"].to_numpy()
    return {
        "n": n,
        "coef": rel(dev.fitted_.coef, host.coef_),
        "intercept": rel(dev.fitted_.intercept, host.intercept_),
        "std_err": rel(se_d, se_h),
        "predict_proba": rel(_host(dev.predict_proba(X)), host.predict_proba(_host(X))),
        "solver": dev.solver_,
    }


def time_mnlogit(torch: Any, X: Any, y: Any, device: str, cov: bool) -> tuple[float, Any]:
    """Seconds of one mnlogit fit (after a warm-up on 10,000 rows) and the model."""
    from mnlogit import MultinomialLogit

    params = {"penalty": "l2", "reference": None, "cov_type": "nonrobust" if cov else None}
    MultinomialLogit(**params).fit(X[:10_000], y[:10_000])
    _sync(torch, device)
    t = time.perf_counter()
    model = MultinomialLogit(**params).fit(X, y)
    _sync(torch, device)
    return time.perf_counter() - t, model


def time_sklearn(torch: Any, X: Any, y: Any, device: str, tol: float) -> tuple[float, Any]:
    """Seconds of scikit-learn's array-API lbfgs fit (after a warm-up) and the model."""
    import sklearn
    from sklearn.linear_model import LogisticRegression

    with sklearn.config_context(array_api_dispatch=True):
        LogisticRegression(tol=tol, max_iter=10_000).fit(X[:10_000], y[:10_000])
        _sync(torch, device)
        t = time.perf_counter()
        model = LogisticRegression(tol=tol, max_iter=10_000).fit(X, y)
        _sync(torch, device)
    return time.perf_counter() - t, model


def pass_seconds(torch: Any, X: Any, k: int, device: str, repeat: int = 5) -> float:
    """Best time of one ``X @ W`` plus one ``Xᵀ G`` in X's dtype (a "pass" over X)."""
    W = torch.ones(X.shape[1], k, dtype=X.dtype, device=X.device)
    best = float("inf")
    for _ in range(repeat):
        _sync(torch, device)
        t = time.perf_counter()
        G = X @ W
        _ = X.T @ G
        _sync(torch, device)
        best = min(best, time.perf_counter() - t)
    return best


def time_cpu(X: Any, y: Any, threads: int) -> tuple[float, Any]:
    """Seconds of mnlogit's numpy fit of the same data with ``threads`` BLAS threads."""
    from threadpoolctl import threadpool_limits

    from mnlogit import MultinomialLogit

    Xh, yh = _host(X), _host(y)
    with threadpool_limits(limits=threads):
        t = time.perf_counter()
        model = MultinomialLogit(penalty="l2", reference=None, cov_type=None).fit(Xh, yh)
    return time.perf_counter() - t, model


def check_second_pass(torch: Any, device: str, n: int) -> dict[str, Any]:
    """Largest relative differences from numpy of what the second pass of issue 19 runs
    on the device (float64, ``n`` rows, p = 5, K = 3): Firth's fit and covariance, the
    cluster covariance, the data fingerprint, marginal effects, ``evaluate``'s log loss,
    ``predict_interval``, and the separation verdict on separated data."""
    import warnings

    from mnlogit import MultinomialLogit

    X, y = make_data(torch, n, 5, 3, device, torch.float64, seed=2)
    Xh, yh = _host(X), _host(y)
    groups = np.arange(n) % 50

    def rel(a: Any, b: Any) -> float:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return float(np.nanmax(np.abs(a - b)) / np.nanmax(np.abs(b)))

    fd = MultinomialLogit(penalty="firth").fit(X, y)
    fh = MultinomialLogit(penalty="firth").fit(Xh, yh)
    cd = MultinomialLogit(cov_type="cluster").fit(X, y, groups=torch.asarray(groups, device=device))
    ch = MultinomialLogit(cov_type="cluster").fit(Xh, yh, groups=groups)
    lower_d, _ = cd.predict_interval(X)
    lower_h, _ = ch.predict_interval(Xh)
    sep = (Xh[:, 0] > 0).astype(np.int64) + (Xh[:, 0] > 1.0).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = MultinomialLogit().fit(X, torch.asarray(sep, device=device))
        sh = MultinomialLogit().fit(Xh, sep)
    return {
        "n": n,
        "firth_coef": rel(fd.fitted_.coef, fh.coef_),
        "firth_cov": rel(fd.fitted_.cov, fh.fitted_.cov),
        "cluster_cov": rel(cd.fitted_.cov, ch.fitted_.cov),
        "fingerprint_equal": cd.fitted_.fingerprint == ch.fitted_.fingerprint,
        "margins": rel(
            cd.marginal_effects(X).to_numpy(float), ch.marginal_effects(Xh).to_numpy(float)
        ),
        "log_loss": rel(cd.evaluate(X, y).log_loss, ch.evaluate(Xh, yh).log_loss),
        "predict_interval": rel(_host(lower_d), lower_h),
        "separation_same": (sd.separation_ is None) == (sh.separation_ is None)
        and (sd.separation_ is None or sd.separation_.kind == sh.separation_.kind),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The check and the benchmark; returns the JSON record."""
    import sklearn
    import torch

    device = args.device
    record: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else device,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "equality": check_equality(torch, device, args.check_n),
        "equality_second_pass": check_second_pass(torch, device, min(args.check_n, 20_000)),
    }
    dtype = torch.float32 if args.dtype == "float32" else torch.float64
    X, y = make_data(torch, args.n, args.p, args.k, device, dtype)
    record.update(n=args.n, p=args.p, k=args.k, dtype=args.dtype)
    t_mn, mn = time_mnlogit(torch, X, y, device, cov=False)
    t_cov, _ = time_mnlogit(torch, X, y, device, cov=True)
    t_sk, sk = time_sklearn(torch, X, y, device, args.sklearn_tol)
    f_mn = objective(torch, X, y, mn.fitted_.coef, mn.fitted_.intercept, 1.0)
    f_sk = objective(torch, X, y, _host(sk.coef_), _host(sk.intercept_), 1.0)
    record["mnlogit"] = {
        "seconds": t_mn,
        "seconds_with_covariance": t_cov,
        "solver": mn.solver_,
        "n_iter": int(mn.n_iter_),
        "objective": f_mn,
    }
    record["sklearn_lbfgs"] = {
        "seconds": t_sk,
        "n_iter": int(np.max(_host(sk.n_iter_))),
        "objective": f_sk,
        "tol": args.sklearn_tol,
    }
    one_pass = pass_seconds(torch, X, args.k, device)
    record["pass_seconds"] = one_pass
    record["mnlogit"]["pass_equivalents"] = t_mn / one_pass
    record["sklearn_lbfgs"]["pass_equivalents"] = t_sk / one_pass
    record["objective_gap_relative"] = (f_sk - f_mn) / abs(f_mn)
    record["ratio_mnlogit_over_sklearn"] = t_mn / t_sk
    if args.cpu:
        t_cpu, cpu = time_cpu(X, y, args.cpu_threads)
        record["cpu"] = {
            "seconds": t_cpu,
            "threads": args.cpu_threads,
            "solver": cpu.solver_,
            "objective": objective(torch, X, y, cpu.coef_, cpu.intercept_, 1.0),
        }
        record["speedup_over_cpu"] = t_cpu / t_mn
    return record


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the arguments, run, write and print the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=5_000_000)
    parser.add_argument("--p", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--check-n", type=int, default=200_000)
    parser.add_argument("--sklearn-tol", type=float, default=1e-8)
    parser.add_argument("--cpu", action="store_true", help="also time the numpy fit")
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    record = run(args)
    text = json.dumps(record, indent=2)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    print(text)
    return record


if __name__ == "__main__":
    main()
