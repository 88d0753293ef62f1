"""What each engine takes: the lasso family fits in-memory data only.

A Dask or device (array-API) fit with ``penalty="l1"``, ``"elasticnet"`` or ``"group"`` is
refused with a clear message rather than fitted without its penalty, and the CLI refuses the
sparse-penalty flags with ``--workers``.
"""

from __future__ import annotations

import numpy as np
import pytest

from mnlogit import MultinomialLogit
from mnlogit.cli import main
from mnlogit.exceptions import InvalidInputError

SPARSE = [("l1", None), ("elasticnet", 0.5), ("group", None)]


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, np.arange(60) % 3


@pytest.mark.parametrize(("penalty", "l1_ratio"), SPARSE)
def test_dask_input_refuses_the_lasso_family(penalty: str, l1_ratio: float | None) -> None:
    da = pytest.importorskip("dask.array")
    X, y = _data()
    model = MultinomialLogit(penalty=penalty, l1_ratio=l1_ratio, alpha=0.01)
    with pytest.raises(InvalidInputError, match="Dask and device"):
        model.fit(da.from_array(X, chunks=20), da.from_array(y, chunks=20))
    assert not hasattr(model, "coef_")
    # the same model fits the same numbers in memory
    assert model.fit(X, y).coef_.shape == (3, 3)


@pytest.mark.parametrize(("penalty", "l1_ratio"), SPARSE)
def test_device_arrays_refuse_the_lasso_family(penalty: str, l1_ratio: float | None) -> None:
    xs = pytest.importorskip("array_api_strict")
    X, y = _data()
    model = MultinomialLogit(penalty=penalty, l1_ratio=l1_ratio, alpha=0.01)
    with pytest.raises(InvalidInputError, match="Dask and device"):
        model.fit(xs.asarray(X), xs.asarray(y))
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("flags", [["--cv", "3"], ["--penalty", "l1", "--alpha", "0.1"]])
def test_cli_refuses_sparse_penalty_flags_on_dask(
    flags: list[str], tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dask")
    code = main(["fit", "nowhere.parquet", "--formula", "y ~ x", "--workers", "1", *flags])
    assert code != 0
    assert "fit those on data in memory" in capsys.readouterr().err
