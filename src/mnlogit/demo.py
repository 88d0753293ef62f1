"""The main job of the README's first command: a real fit, printed.

Fits party identification (7 classes) in the 1996 American National Election Study
on log population, left-right self-placement, age, education and income, the
example of statsmodels' ``MNLogit`` documentation, and prints the coefficients,
the convergence report and the fit statistics.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from mnlogit.datasets import ANES96_PARTY_LABELS, load_anes96
from mnlogit.estimator import MultinomialLogit

__all__ = ["main"]

FEATURES = ["logpopul", "selfLR", "age", "educ", "income"]


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    data = load_anes96()
    X = data[FEATURES]
    y = data["PID"]
    model = MultinomialLogit().fit(X, y)

    labels = [ANES96_PARTY_LABELS[int(c)] for c in model.classes_]
    table = pd.DataFrame(
        np.column_stack([model.intercept_, model.coef_]),
        index=pd.Index(labels, name="class"),
        columns=["Intercept", *FEATURES],
    )
    ref = ANES96_PARTY_LABELS[int(model.classes_[0])]
    out = sys.stdout
    out.write("mnlogit demo: ANES 1996 party identification (n = 944, K = 7)\n")
    out.write(f"PID ~ {' + '.join(FEATURES)}; reference class: {ref}\n\n")
    out.write("Coefficients (log relative-risk ratios against the reference):\n")
    with pd.option_context("display.width", 120, "display.float_format", "{:10.5f}".format):
        out.write(table.to_string() + "\n\n")
    out.write(str(model.convergence_) + "\n\n")
    out.write("Fit statistics:\n")
    for name, value in [
        ("log-likelihood", model.loglik_),
        ("null log-likelihood", model.loglik_null_),
        ("deviance", model.deviance_),
        ("LR chi2 vs null", 2 * (model.loglik_ - model.loglik_null_)),
        ("McFadden pseudo-R2", model.pseudo_r2_),
        ("AIC", model.aic_),
        ("BIC", model.bic_),
        ("free parameters", model.n_params_),
    ]:
        out.write(
            f"  {name:<22}{value:>14.4f}\n"
            if isinstance(value, float)
            else f"  {name:<22}{value:>14}\n"
        )
    out.write(f"  {'training accuracy':<22}{model.score(X, y):>14.4f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
