"""Lasso-family paths: mnlogit against R's glmnet (and scikit-learn's saga) on issue 14's problems.

One problem per call; all contenders in the same process run, one BLAS thread::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python -m benchmarks.lasso dense-10k-200 --penalty l1
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.lasso sparse-20k-5000 --penalty group --no-glmnet
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.lasso dense-4k-1000 --scale 0.25 --saga

Problems (labels drawn from a sparse true model: 10 features with nonzero coefficients):
``dense-10k-200`` (10,000 x 200, K = 5), ``dense-4k-1000`` (4,000 x 1,000, K = 4),
``sparse-20k-5000`` (CSR 20,000 x 5,000 with 0.2% stored values, K = 10). ``--scale``
multiplies the number of rows (the shared machine: say so when reporting).

Every contender solves the same 50-alpha path (``alpha_min / alpha_max = 0.01``, mnlogit's
grid given to the others) of the same objective: glmnet's ``lambda`` is ``alpha``
(``standardize=FALSE``, its default ``thresh`` and, with ``--tight``, ``thresh=1e-12``);
scikit-learn's ``C = 1 / (n alpha)``. Each alpha's objective is recomputed here from the
returned coefficients (numpy, independent of the solvers) and compared with the best found;
the table reports CPU seconds (process time; glmnet's from R's ``proc.time``), the ratio to
glmnet and the largest objective excess over the best. ``--repeats N`` times mnlogit and glmnet
``N`` times each, alternated, and reports the least time of each (on a shared machine one run
of each can land on either side of a threshold; the least of alternated runs is the time each
takes when nothing else slows it down).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

PROBLEMS: dict[str, tuple[int, int, int, float | None]] = {
    "dense-10k-200": (10_000, 200, 5, None),
    "dense-4k-1000": (4_000, 1_000, 4, None),
    "sparse-20k-5000": (20_000, 5_000, 10, 0.002),
}

R_SCRIPT = r"""
suppressMessages(library(glmnet))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
meta <- readLines(file.path(dir, "meta.txt"))
n <- as.integer(meta[1]); p <- as.integer(meta[2]); sparse <- meta[3] == "1"
type <- meta[4]; alpha <- as.numeric(meta[5]); thresh <- as.numeric(meta[6])
y <- readBin(file.path(dir, "y.bin"), "integer", n)
lambda <- readBin(file.path(dir, "lambda.bin"), "double", as.integer(meta[7]))
if (sparse) {
  nnz <- as.integer(meta[8])
  i <- readBin(file.path(dir, "i.bin"), "integer", nnz)
  j <- readBin(file.path(dir, "j.bin"), "integer", nnz)
  v <- readBin(file.path(dir, "v.bin"), "double", nnz)
  X <- sparseMatrix(i = i + 1, j = j + 1, x = v, dims = c(n, p))
} else {
  X <- matrix(readBin(file.path(dir, "X.bin"), "double", n * p), n, p)
}
t0 <- proc.time()
fit <- glmnet(X, factor(y), family = "multinomial", type.multinomial = type,
              alpha = alpha, lambda = lambda, standardize = FALSE, thresh = thresh,
              maxit = 1e6)
el <- proc.time() - t0
out <- c(el[["user.self"]] + el[["sys.self"]], length(fit$lambda))
for (k in seq_along(fit$beta)) {
  out <- c(out, as.vector(fit$a0[k, ]), as.vector(as.matrix(fit$beta[[k]])))
}
writeBin(out, file.path(dir, "out.bin"))
"""


def make_problem(name: str, scale: float = 1.0) -> tuple[Any, np.ndarray]:
    """``(X, y)`` of a named problem with ``scale`` times its rows."""
    n, p, K, density = PROBLEMS[name]
    n = int(n * scale)
    rng = np.random.default_rng(14)
    X: Any
    if density is None:
        X = rng.standard_normal((n, p))
    else:
        X = sp.random(n, p, density=density, format="csr", random_state=14)
        X.data = rng.standard_normal(X.data.size)
    W = np.zeros((p, K))
    W[rng.choice(p, 10, replace=False)] = rng.normal(0, 1.0, (10, K))
    if density is not None:
        W *= 3.0  # few stored values per row: stronger effects
    eta = np.asarray(X @ W)
    y = (eta + rng.gumbel(size=eta.shape)).argmax(axis=1)
    return X, y


def objective(
    X: Any, y: np.ndarray, W: np.ndarray, b: np.ndarray, alpha: float, kind: str, l1_ratio: float
) -> float:
    """Mean NLL + alpha * penalty, from scratch (``W`` of shape (p, K))."""
    eta = np.asarray(X @ W) + b
    top = eta.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    loss = float(np.mean(lse - eta[np.arange(len(y)), y]))
    sq = (W * W).sum(axis=1)
    first = np.sqrt(sq) if kind == "group" else np.abs(W).sum(axis=1)
    return loss + alpha * float(l1_ratio * first.sum() + 0.5 * (1 - l1_ratio) * sq.sum())


def run_glmnet(
    X: Any, y: np.ndarray, alphas: np.ndarray, kind: str, l1_ratio: float, thresh: float
) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
    """CPU seconds of glmnet's path and its ``(W, b)`` per alpha."""
    n, p = X.shape
    K = int(y.max()) + 1
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "fit.R").write_text(R_SCRIPT)
        y.astype(np.int32).tofile(d / "y.bin")
        alphas.astype(np.float64).tofile(d / "lambda.bin")
        meta = [
            n,
            p,
            int(sp.issparse(X)),
            "grouped" if kind == "group" else "ungrouped",
            l1_ratio,
            thresh,
            alphas.size,
        ]
        if sp.issparse(X):
            coo = X.tocoo()
            coo.row.astype(np.int32).tofile(d / "i.bin")
            coo.col.astype(np.int32).tofile(d / "j.bin")
            coo.data.astype(np.float64).tofile(d / "v.bin")
            meta.append(coo.nnz)
        else:
            np.asfortranarray(X, dtype=np.float64).ravel(order="F").tofile(d / "X.bin")
        (d / "meta.txt").write_text("\n".join(str(m) for m in meta) + "\n")
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        subprocess.run(["Rscript", str(d / "fit.R"), str(d)], check=True, env=env)
        out = np.fromfile(d / "out.bin", dtype=np.float64)
    seconds, L = float(out[0]), int(out[1])
    body = out[2:].reshape(K, L + L * p)
    sols = []
    for l in range(L):
        b = body[:, l]
        W = body[:, L:].reshape(K, p, L, order="F")[:, :, l].T
        sols.append((np.ascontiguousarray(W), b.copy()))
    return seconds, sols


def run_saga(
    X: Any, y: np.ndarray, alphas: np.ndarray, kind: str, l1_ratio: float, tol: float
) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
    """CPU seconds of scikit-learn's saga over the path (warm-started)."""
    from sklearn.linear_model import LogisticRegression

    n = X.shape[0]
    model = LogisticRegression(
        solver="saga", l1_ratio=l1_ratio, tol=tol, max_iter=10_000, warm_start=True
    )
    sols = []
    start = time.process_time()
    for a in alphas:
        model.set_params(C=1.0 / (n * a))
        model.fit(X, y)
        sols.append((model.coef_.T.copy(), model.intercept_.copy()))
    return time.process_time() - start, sols


def main() -> None:
    """Run one problem (see the module docstring); prints a JSON line per contender."""
    from mnlogit import regularization_path

    parser = argparse.ArgumentParser()
    parser.add_argument("problem", choices=sorted(PROBLEMS))
    parser.add_argument("--penalty", choices=["l1", "group"], default="l1")
    parser.add_argument("--l1-ratio", type=float, default=1.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--no-glmnet", action="store_true")
    parser.add_argument("--tight", action="store_true", help="also glmnet with thresh=1e-12")
    parser.add_argument("--saga", action="store_true")
    parser.add_argument(
        "--support-cg", action="store_true", help="lasso with sparse X: support solves on"
    )
    parser.add_argument(
        "--extra-tol", type=float, default=None, help="also mnlogit at this tol, timed too"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="time mnlogit's path and glmnet's this many times each, alternated (mnlogit, "
        "glmnet, mnlogit, ...), and report the least CPU time of each",
    )
    args = parser.parse_args()
    if args.support_cg:
        from mnlogit.solvers import proximal_newton

        proximal_newton.SUPPORT_NEWTON = True
    X, y = make_problem(args.problem, args.scale)
    # the compiled kernels load (or compile) once per process: not part of the timing, as
    # R's library(glmnet) is not part of glmnet's
    regularization_path(X[:50], y[:50], penalty=args.penalty, n_alphas=2)
    kind = "elasticnet" if args.penalty == "l1" and args.l1_ratio < 1 else args.penalty

    def ours_once() -> tuple[float, Any]:
        start = time.process_time()
        path = regularization_path(
            X,
            y,
            penalty=kind,
            l1_ratio=args.l1_ratio if kind == "elasticnet" else None,
            n_alphas=50,
            alpha_min_ratio=0.01,
            tol=args.tol,
        )
        return time.process_time() - start, path

    ours, path = ours_once()
    alphas = path.alphas
    results: dict[str, tuple[float, list[float]]] = {}

    def objectives(sols: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
        return [
            objective(X, y, W, b, a, args.penalty, args.l1_ratio)
            for (W, b), a in zip(sols, alphas, strict=True)
        ]

    results["mnlogit"] = (
        ours,
        objectives([(c.T, b) for c, b in zip(path.coef, path.intercept, strict=True)]),
    )
    if args.extra_tol is not None:
        start = time.process_time()
        other = regularization_path(
            X,
            y,
            penalty=kind,
            l1_ratio=args.l1_ratio if kind == "elasticnet" else None,
            alphas=alphas,
            tol=args.extra_tol,
        )
        secs = time.process_time() - start
        results[f"mnlogit(tol={args.extra_tol:g})"] = (
            secs,
            objectives([(c.T, b) for c, b in zip(other.coef, other.intercept, strict=True)]),
        )
    if not args.no_glmnet:
        secs, sols = run_glmnet(X, y, alphas, args.penalty, args.l1_ratio, 1e-7)
        for _ in range(args.repeats - 1):  # alternated: the machine's drift hits both
            ours = min(ours, ours_once()[0])
            secs = min(secs, run_glmnet(X, y, alphas, args.penalty, args.l1_ratio, 1e-7)[0])
        results["mnlogit"] = (ours, results["mnlogit"][1])
        results["glmnet"] = (secs, objectives(sols))
        if args.tight:
            secs, sols = run_glmnet(X, y, alphas, args.penalty, args.l1_ratio, 1e-12)
            results["glmnet-tight"] = (secs, objectives(sols))
    if args.saga:
        secs, sols = run_saga(X, y, alphas, args.penalty, args.l1_ratio, 1e-8)
        results["saga"] = (secs, objectives(sols))
    best = np.min([np.asarray(v[1]) for v in results.values()], axis=0)
    ref = results.get("glmnet", (float("nan"), []))[0]
    for name, (secs, objs) in results.items():
        excess = float(np.max(np.asarray(objs) - best))
        print(
            json.dumps(
                {
                    "problem": args.problem,
                    "scale": args.scale,
                    "penalty": kind,
                    "contender": name,
                    "cpu_s": round(secs, 3),
                    "ratio_to_glmnet": round(secs / ref, 3) if ref == ref else None,
                    "max_objective_excess": excess,
                    "converged": bool(path.converged.all()) if name == "mnlogit" else None,
                }
            )
        )


if __name__ == "__main__":
    main()
