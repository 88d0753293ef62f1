"""mnlogit's lasso-family paths against R's glmnet on the same data and objective.

Golden values: tests/golden/glmnet/glmnet_paths.csv, written by make_glmnet_golden.R
beside it (glmnet 4.1.6, ``standardize=FALSE``, ``thresh=1e-14``; penalty factors that
already sum to ``p``, so glmnet's rescaling is the identity). glmnet's ``lambda`` is mnlogit's
``alpha``, its ``alpha`` mnlogit's ``l1_ratio``. The objective of both solutions is
recomputed here from their coefficients; glmnet stops on a change criterion, so mnlogit's
must be at most glmnet's (up to rounding) and close to it, and the fitted probabilities
must agree (for the lasso with an even number of classes a coefficient row is only
determined up to a shift inside the median interval; K = 3 here, so rows agree too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from mnlogit import regularization_path

GOLDEN = Path(__file__).parent / "golden" / "glmnet"
CASES = ["lasso", "enet", "group", "group_enet", "lasso_weights_pf"]


@pytest.fixture(scope="module")
def golden():
    data = pd.read_csv(GOLDEN / "glmnet_data.csv")
    paths = pd.read_csv(GOLDEN / "glmnet_paths.csv")
    return data, paths


def _objective(X, y, w, W, b, alpha, l1_ratio, factor, group):
    P = softmax(X @ W + b, axis=1)
    loss = -np.sum(w * np.log(P[np.arange(len(y)), y])) / w.sum()
    sq = (W * W).sum(axis=1)
    first = np.sqrt(sq) if group else np.abs(W).sum(axis=1)
    return loss + alpha * float(factor @ (l1_ratio * first + 0.5 * (1 - l1_ratio) * sq))


@pytest.mark.parametrize("case", CASES)
def test_glmnet_path(golden, case):
    data, paths = golden
    rows = paths[paths["case"] == case]
    X = data[[c for c in data.columns if c.startswith("X")]].to_numpy()
    y = data["y"].to_numpy()
    p = X.shape[1]
    first = rows.iloc[0]
    w = data["w"].to_numpy() if first["weights"] else np.ones(len(y))
    pf = np.array([0, 1, 1, 1.5, 1, 1, 0.5, 1.0])
    factor = pf * p / pf.sum() if first["pf"] else np.ones(p)
    group = first["penalty"] == "grouped"
    l1_ratio = float(first["l1_ratio"])
    lambdas = rows.groupby("lambda_index")["lambda"].first().to_numpy()
    kind = "group" if group else ("l1" if l1_ratio == 1 else "elasticnet")
    path = regularization_path(
        X,
        y,
        penalty=kind,
        l1_ratio=None if kind == "l1" else l1_ratio,
        alphas=lambdas,
        sample_weight=w,
        penalty_factor=factor,
        tol=1e-10,
    )
    assert path.converged.all()
    np.testing.assert_allclose(path.alphas, lambdas, rtol=0)
    for l, alpha in enumerate(lambdas):
        at = rows[rows["lambda_index"] == l + 1]
        B = at.pivot(index="term", columns="class", values="coef")
        B = B.loc[["Intercept"] + [f"x{j}" for j in range(p)]].to_numpy()
        b_r, W_r = B[0], B[1:]
        W_m, b_m = path.coef[l].T, path.intercept[l]
        ours = _objective(X, y, w, W_m, b_m, alpha, l1_ratio, factor, group)
        theirs = _objective(X, y, w, W_r, b_r, alpha, l1_ratio, factor, group)
        assert ours <= theirs + 1e-13
        assert theirs - ours < 1e-9
        assert ours == pytest.approx(path.objective[l], abs=1e-13)
        np.testing.assert_allclose(
            softmax(X @ W_m + b_m, axis=1), softmax(X @ W_r + b_r, axis=1), atol=1e-6
        )
        np.testing.assert_allclose(W_m, W_r, atol=1e-5)
        assert set(np.flatnonzero(np.any(W_m != 0, axis=1))) == set(
            np.flatnonzero(np.any(np.abs(W_r) > 1e-12, axis=1))
        )
