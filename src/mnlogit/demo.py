"""``mnlogit demo``: the main job of the README's first command, on real data.

Fits party identification (7 classes) in the 1996 American National Election Study on
log population, left-right self-placement, age, education and income -- the example of
statsmodels' ``MNLogit`` documentation -- prints the summary, the convergence report and
an evaluation, and writes the model file and a self-contained HTML report.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from mnlogit.datasets import ANES96_PARTY_LABELS, load_anes96
from mnlogit.estimator import MultinomialLogit

__all__ = ["FORMULA", "main", "run_demo"]

FORMULA = "party ~ logpopul + selfLR + age + educ + income"


def run_demo(output_dir: Path, quiet: bool = False) -> int:
    """Fit, print, and write ``model.mnlogit`` and ``report.html`` into ``output_dir``."""
    import pandas as pd

    from mnlogit.report import write_report

    data = load_anes96()
    scale = [ANES96_PARTY_LABELS[code] for code in sorted(ANES96_PARTY_LABELS)]
    # an ordered categorical: the classes keep the 7-point scale's order in every table
    data["party"] = pd.Categorical(
        data["PID"].map(ANES96_PARTY_LABELS), categories=scale, ordered=True
    )
    model = MultinomialLogit(
        formula=FORMULA, reference="Strong Democrat", verbose=0 if quiet else 1
    )
    out = sys.stdout
    out.write("mnlogit demo: ANES 1996 party identification (n = 944, K = 7)\n")
    out.write(f"formula: {FORMULA}\n\n")
    with contextlib.redirect_stdout(sys.stderr):
        model.fit(data)
    out.write(str(model.summary()) + "\n\n")
    out.write(str(model.convergence_) + "\n\n")
    out.write(str(model.evaluate(data)) + "\n\n")
    output_dir.mkdir(parents=True, exist_ok=True)
    model_path = model.save(output_dir / "model.mnlogit")
    report_path = write_report(
        model, data, output_dir / "report.html", title="ANES 1996 party identification"
    )
    out.write(f"model file:  {model_path}\nHTML report: {report_path}\n")
    return 0


def main() -> int:
    """``python -m mnlogit.demo``: the demo into ``./mnlogit-demo``."""
    return run_demo(Path("mnlogit-demo"))


if __name__ == "__main__":
    raise SystemExit(main())
