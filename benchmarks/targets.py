"""Issue 18's targets from benchmark results files: one row per problem.

::

    python -m benchmarks.targets RESULTS.json [RESULTS.json ...]

Per problem: ``auto`` (``cov_type=None``) and ``auto+cov`` (the default fit, with standard
errors) over the fastest competitor that reached the best objective (the run's reference),
the covariance step in units of the fit's own Hessian pass (``(auto+cov - auto) / Hessian``,
the Hessian's time from the profile of the ``auto+cov`` fit), and the peak extra memory of
the default fit beside scikit-learn ``lbfgs``'s. Targets: ``auto`` <= 0.5; ``auto+cov``
<= 0.5 where the Hessian is cheaper than the fit, else the covariance step <= 1.5 Hessian
passes; memory <= lbfgs's (dense), <= 1.2x (sparse); the default fit <= 0.05x
statsmodels ``MNLogit`` fit + ``bse`` where that ran.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _by_method(problem: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["method"]: r for r in problem["results"] if r.get("status") == "ok"}


def rows(data: dict[str, Any]) -> list[str]:
    """Markdown table rows for one results file."""
    out = []
    for prob in data["problems"]:
        name = prob["problem"]["name"]
        res = _by_method(prob)
        ref = prob.get("reference") or {}
        dagger = "" if ref.get("exact", True) else " †"
        auto, cov, lbfgs = (
            res.get("mnlogit-auto"),
            res.get("mnlogit-auto+cov"),
            res.get("sklearn-lbfgs"),
        )
        a = f"{auto['ratio']:.2f}{dagger}" if auto and "ratio" in auto else "—"
        c = f"{cov['ratio']:.2f}{dagger}" if cov and "ratio" in cov else "skipped"
        step = "—"
        if auto and cov and cov.get("profile") and "hessian" in cov["profile"]:
            hess = cov["profile"]["hessian"][1]
            if hess > 0:
                step = f"{(cov['time_s'] - auto['time_s']) / hess:.2f}"
        default = cov or auto
        mem = "—"
        if default and lbfgs:
            mib = 2.0**20
            mem = (
                f"{default['peak_extra_bytes'] / mib:.0f} vs {lbfgs['peak_extra_bytes'] / mib:.0f}"
            )
        sm = res.get("statsmodels-newton")
        versus_sm = f"{cov['time_s'] / sm['time_s']:.3f}" if cov and sm else "—"
        timed_out = [
            r
            for r in prob["results"]
            if r["method"] == "statsmodels-newton" and r.get("status") == "timeout"
        ]
        if cov and timed_out:  # statsmodels took longer than the timeout: a bound
            versus_sm = f"< {cov['time_s'] / timed_out[0]['time_s']:.3f} (timeout)"
        out.append(
            f"| `{name}` | {ref.get('method', '—')} | {a} | {c} | {step} | {mem} | {versus_sm} |"
        )
    return out


def main() -> None:
    """Print the table for the files given."""
    print(
        "| problem | reference | `auto` ÷ ref | default fit ÷ ref "
        "| covariance step ÷ its Hessian | extra MiB, default fit vs lbfgs "
        "| default fit ÷ statsmodels fit + bse |"
    )
    print("|---|---|--:|--:|--:|--:|--:|")
    for path in sys.argv[1:]:
        with open(path) as fh:
            print("\n".join(rows(json.load(fh))))


if __name__ == "__main__":
    main()
