"""What statsmodels and scikit-learn answer for docs/robustness.md's "Second pass" table.

The cases of issue 16 that the other libraries have (many are about mnlogit's own
refits, model files or threads: "n/a" there). From the repository root::

    .venv/bin/python tools/second_pass_oracles.py

Each printed line is one cell of the table's statsmodels or scikit-learn column.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from sklearn.linear_model import LogisticRegression


def run(name: str, call: Callable[[], object]) -> None:
    try:
        print(f"{name}: {call()}")
    except Exception as exc:
        print(f"{name}: {type(exc).__name__}: {str(exc)[:90]}")


def sm_fit(Z: np.ndarray, y: np.ndarray) -> str:
    res = sm.MNLogit(y, sm.add_constant(Z)).fit(disp=0)
    bse, p = np.asarray(res.bse)[1], np.asarray(res.pvalues)[1]
    return f"params finite={np.isfinite(res.params).all()}, bse x0={bse}, p x0={p}"


def sk_coef(Z: np.ndarray, y: np.ndarray, column: int = 0, **kwargs: object) -> str:
    return f"coef={LogisticRegression(**kwargs).fit(Z, y).coef_[:, column]}"


def main() -> None:
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    n = 120
    X = rng.normal(size=(n, 2))
    y = rng.integers(0, 3, n)
    # 2. scale limits
    for factor in (1e200, 1e-155):
        Z = X * np.array([factor, 1.0])
        run(f"sm x{factor}", lambda Z=Z: sm_fit(Z, y))
        run(f"sk x{factor}", lambda Z=Z: sk_coef(Z, y))
    for top in (1e-310, 1.7e308):
        Z = X.copy()
        Z[:, 0] = Z[:, 0] / np.abs(Z[:, 0]).max() * top
        run(f"sm column at {top}", lambda Z=Z: sm_fit(Z, y))
        run(f"sk column at {top}", lambda Z=Z: sk_coef(Z, y))
    # 3. separation at n = 10,001
    N = 10_001
    yy = rng.integers(0, 3, N)
    ind = np.zeros(N)
    ind[np.flatnonzero(yy == 2)[:5]] = 1.0
    Z = np.column_stack([rng.normal(size=N), ind])

    def sm_separated() -> str:
        res = sm.MNLogit(yy, sm.add_constant(Z)).fit(disp=0)
        coef, bse = np.asarray(res.params)[2], np.asarray(res.bse)[2]
        return f"converged={res.mle_retvals['converged']}, coef={coef}, bse={bse}"

    run("sm separation n=10001", sm_separated)
    run("sk separation n=10001", lambda: sk_coef(Z, yy, 1))
    run("sk penalty=None n=10001", lambda: sk_coef(Z, yy, 1, penalty=None, max_iter=1000))
    # 4. p > n without penalty
    W = rng.normal(size=(10, 50))
    yw = rng.integers(0, 3, 10)
    run("sk penalty=None p>n", lambda: sk_coef(W, yw, penalty=None, max_iter=2000))
    run("sm p>n", lambda: sm_fit(W, yw))
    # 5. a typo in a number column, through statsmodels' formulas
    d = pd.DataFrame({"a": rng.normal(40, 10, 200).round(1), "y": rng.choice([0, 1, 2], 200)})
    d["a"] = d["a"].astype(object)
    d.loc[17, "a"] = "?"
    run("sm typo", lambda: f"fit with {len(smf.mnlogit('y ~ a', d).fit(disp=0).params)} terms")
    run("sk typo", lambda: LogisticRegression().fit(d[["a"]], d.y))
    # 7. overflowing linear predictors
    model = LogisticRegression().fit(X, y)
    run("sk log proba at 1e308", lambda: model.predict_log_proba([[1e308, 1e308]]))
    res = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0)
    run("sm predict at 1e308", lambda: res.predict(np.array([[1.0, 1e308, 1e308]])))
    # 12. crashes
    mixed = np.array([1, "a", 2] * 40, dtype=object)
    na = pd.array(["a", "b", pd.NA] * 40, dtype="string")
    run("sk mixed labels", lambda: LogisticRegression().fit(X, mixed))
    run("sm mixed labels", lambda: sm_fit(X, mixed))
    run("sk pd.NA labels", lambda: LogisticRegression().fit(X, na))
    run("sm pd.NA labels", lambda: sm_fit(X, pd.Series(na)))
    heavy = np.full(n, 1e307)
    run("sk weights 1e307", lambda: LogisticRegression().fit(X, y, sample_weight=heavy).coef_[0])
    run("sk labels 0.5/1.5/2.5", lambda: LogisticRegression().fit(X, np.array([0.5, 1.5, 2.5])[y]))
    run("sm labels 0.5/1.5/2.5", lambda: sm_fit(X, np.array([0.5, 1.5, 2.5])[y]))

    def sm_cluster() -> str:
        groups = np.array([1.0, np.nan] * (n // 2))
        fitted = sm.MNLogit(y, sm.add_constant(X)).fit(
            disp=0, cov_type="cluster", cov_kwds={"groups": groups}
        )
        return f"bse={np.asarray(fitted.bse)[:2].ravel()}"

    run("sm cluster groups with NaN", sm_cluster)


if __name__ == "__main__":
    main()
