"""5-fold cross-validation over a lasso path: mnlogit's ``MultinomialLogitCV`` against R's
``cv.glmnet``, and each against its own single path (issue 14's target: CV in at most 6x the
single path's time).

One problem per call, both contenders in the same process run, one BLAS thread::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python -m benchmarks.lasso_cv dense-10k-200
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.lasso_cv sparse-20k-5000 --scale 0.25

The problems are benchmarks/lasso.py's (``--scale`` multiplies the rows). Both contenders
run the same 50-alpha grid (mnlogit's: ``alpha_min / alpha_max = 0.01``) and the same folds
(a stratified 5-fold ``foldid``, given to ``cv.glmnet`` as ``foldid`` and to mnlogit as a
``PredefinedSplit``); mnlogit's folds run one after another (``n_jobs=1``), as cv.glmnet's
without ``parallel``. CPU seconds (process time; R's from ``proc.time``). mnlogit's CV time
includes the full-data path (the grid) and the final refit at ``alpha_``; cv.glmnet's includes
its full-data fit too. Reported: each contender's path and CV seconds, CV / path, mnlogit /
glmnet, and whether the two chose the same ``alpha_`` / ``lambda.min`` and ``alpha_1se_`` /
``lambda.1se``.
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

from benchmarks.lasso import PROBLEMS, make_problem

R_CV = r"""
suppressMessages(library(glmnet))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
meta <- readLines(file.path(dir, "meta.txt"))
n <- as.integer(meta[1]); p <- as.integer(meta[2]); sparse <- meta[3] == "1"
L <- as.integer(meta[4])
y <- readBin(file.path(dir, "y.bin"), "integer", n)
foldid <- readBin(file.path(dir, "foldid.bin"), "integer", n)
lambda <- readBin(file.path(dir, "lambda.bin"), "double", L)
if (sparse) {
  nnz <- as.integer(meta[5])
  i <- readBin(file.path(dir, "i.bin"), "integer", nnz)
  j <- readBin(file.path(dir, "j.bin"), "integer", nnz)
  v <- readBin(file.path(dir, "v.bin"), "double", nnz)
  X <- sparseMatrix(i = i + 1, j = j + 1, x = v, dims = c(n, p))
} else {
  X <- matrix(readBin(file.path(dir, "X.bin"), "double", n * p), n, p)
}
t0 <- proc.time()
fit <- glmnet(X, factor(y), family = "multinomial", lambda = lambda, standardize = FALSE)
t1 <- proc.time()
cv <- cv.glmnet(X, factor(y), family = "multinomial", lambda = lambda, foldid = foldid,
                standardize = FALSE, type.measure = "deviance")
t2 <- proc.time()
cpu <- function(a, b) (b - a)[["user.self"]] + (b - a)[["sys.self"]]
writeBin(c(cpu(t0, t1), cpu(t1, t2), cv$lambda.min, cv$lambda.1se),
         file.path(dir, "out.bin"))
"""


def run_cv_glmnet(X: Any, y: np.ndarray, alphas: np.ndarray, foldid: np.ndarray) -> list[float]:
    """glmnet's path seconds, cv.glmnet's seconds, lambda.min and lambda.1se."""
    n, p = X.shape
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "cv.R").write_text(R_CV)
        y.astype(np.int32).tofile(d / "y.bin")
        (foldid + 1).astype(np.int32).tofile(d / "foldid.bin")
        alphas.astype(np.float64).tofile(d / "lambda.bin")
        meta: list[Any] = [n, p, int(sp.issparse(X)), alphas.size]
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
        subprocess.run(["Rscript", str(d / "cv.R"), str(d)], check=True, env=env)
        return [float(v) for v in np.fromfile(d / "out.bin", dtype=np.float64)]


def main() -> None:
    """Run one problem; prints one JSON line per contender."""
    from sklearn.model_selection import PredefinedSplit, StratifiedKFold

    from mnlogit import MultinomialLogitCV, regularization_path

    parser = argparse.ArgumentParser()
    parser.add_argument("problem", choices=sorted(PROBLEMS))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--no-glmnet", action="store_true")
    args = parser.parse_args()
    X, y = make_problem(args.problem, args.scale)
    foldid = np.empty(y.size, dtype=np.int64)
    for f, (_, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)):
        foldid[test] = f
    grid = {"n_alphas": 50, "alpha_min_ratio": 0.01}
    start = time.process_time()
    path = regularization_path(X, y, **grid)
    path_s = time.process_time() - start
    start = time.process_time()
    cv = MultinomialLogitCV(cv=PredefinedSplit(foldid), n_jobs=1, **grid).fit(X, y)
    cv_s = time.process_time() - start
    rows = [
        {
            "contender": "mnlogit",
            "path_cpu_s": round(path_s, 3),
            "cv_cpu_s": round(cv_s, 3),
            "cv_over_path": round(cv_s / path_s, 2),
            "alpha_min": cv.alpha_,
            "alpha_1se": cv.alpha_1se_,
        }
    ]
    if not args.no_glmnet:
        g_path, g_cv, lmin, l1se = run_cv_glmnet(X, y, path.alphas, foldid)
        rows.append(
            {
                "contender": "glmnet",
                "path_cpu_s": round(g_path, 3),
                "cv_cpu_s": round(g_cv, 3),
                "cv_over_path": round(g_cv / g_path, 2),
                "alpha_min": lmin,
                "alpha_1se": l1se,
            }
        )
        rows[0]["cv_ratio_to_glmnet"] = round(cv_s / g_cv, 3)
        rows[0]["same_choices"] = bool(
            np.isclose(cv.alpha_, lmin, rtol=1e-12) and np.isclose(cv.alpha_1se_, l1se, rtol=1e-12)
        )
    for row in rows:
        print(json.dumps({"problem": args.problem, "scale": args.scale, **row}))


if __name__ == "__main__":
    main()
