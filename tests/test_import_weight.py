"""Import weight (issue 17, item 9): ``import mnlogit`` imports neither scikit-learn, pandas,
SciPy, formulaic nor matplotlib; the estimator imports no plotting, metrics or statsmodels.
Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mnlogit

SRC = str(Path(mnlogit.__file__).parent.parent)
HEAVY = ["sklearn", "pandas", "scipy", "formulaic", "matplotlib", "statsmodels", "numpy"]


def loaded_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC},
    ).stdout
    return json.loads(out.splitlines()[-1])


def test_import_mnlogit_is_light() -> None:
    modules = loaded_after("import mnlogit, mnlogit.exceptions, mnlogit.datasets")
    assert [m for m in HEAVY if m in modules] == []


def test_the_estimator_imports_no_plotting_metrics_or_statsmodels() -> None:
    modules = loaded_after("from mnlogit import MultinomialLogit")
    assert "sklearn.base" in modules  # what the estimator is built on
    for name in ("matplotlib", "statsmodels", "sklearn.metrics", "sklearn.linear_model"):
        assert name not in modules, name
    assert [m for m in modules if m.split(".")[0] in ("dask", "distributed")] == []
    modules = loaded_after("import mnlogit.cli; mnlogit.cli.build_parser()")
    assert [m for m in ("sklearn", "formulaic", "matplotlib") if m in modules] == []


def test_convergence_warning_is_scikit_learns_made_on_first_use() -> None:
    import pickle

    import sklearn.exceptions

    from mnlogit.exceptions import ConvergenceWarning

    assert issubclass(ConvergenceWarning, sklearn.exceptions.ConvergenceWarning)
    assert ConvergenceWarning is mnlogit.exceptions.ConvergenceWarning
    assert f"{ConvergenceWarning.__module__}.{ConvergenceWarning.__qualname__}" == (
        "mnlogit.exceptions.ConvergenceWarning"
    )
    assert type(pickle.loads(pickle.dumps(ConvergenceWarning("x")))) is ConvergenceWarning
