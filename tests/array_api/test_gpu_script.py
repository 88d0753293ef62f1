"""benchmarks/gpu.py runs (on the CPU, at a tiny size), so the prepared GPU run is known to
work: its equality check holds and both libraries reach the same objective."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_script_runs_on_the_cpu(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("array_api_strict")  # scikit-learn's dispatch needs array-api-compat
    out = tmp_path / "gpu.json"
    env = dict(os.environ, SCIPY_ARRAY_API="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    args = ["--device", "cpu", "--n", "6000", "--p", "6", "--k", "3", "--check-n", "2000"]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", *args, "--cpu", "--out", str(out)],
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=300,
    )
    record = json.loads(out.read_text())
    eq = record["equality"]
    assert max(eq["coef"], eq["intercept"], eq["std_err"], eq["predict_proba"]) < 1e-10
    second = record["equality_second_pass"]
    assert second["fingerprint_equal"] and second["separation_same"]
    for key in (
        "firth_coef",
        "firth_cov",
        "cluster_cov",
        "margins",
        "log_loss",
        "predict_interval",
    ):
        assert second[key] < 1e-10, key
    assert record["mnlogit"]["solver"] == "newton"
    assert record["mnlogit"]["objective"] == pytest.approx(record["cpu"]["objective"], rel=1e-12)
    # scikit-learn (tol 1e-8) reaches the same objective to about its tolerance
    assert abs(record["objective_gap_relative"]) < 1e-7
    assert record["ratio_mnlogit_over_sklearn"] > 0 and record["speedup_over_cpu"] > 0
