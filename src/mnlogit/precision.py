"""Old import path of the float32 helpers.

# TEMPORARY re-export for the parallel refactor; removed at merge
The chunk helpers and ``float64_product`` now live in :mod:`mnlogit.objective`
(``blocks.row_blocks``, ``kernels.float64_product``), ``solve_in_precision`` and
``FLOAT32_TOL`` in :mod:`mnlogit.solvers.precision`; ``VALIDATE_DTYPES`` belongs to the
fit pipeline (defined here only until the merge).
"""

# TEMPORARY re-export for the parallel refactor; removed at merge

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.blocks import BLOCK_ELEMENTS
from mnlogit.objective.float32_curvature import float32_sparse
from mnlogit.objective.kernels import float64_product
from mnlogit.solvers.precision import FLOAT32_TOL, solve_in_precision

__all__ = [
    "FLOAT32_TOL",
    "VALIDATE_DTYPES",
    "float32_sparse",
    "float64_product",
    "row_chunks",
    "solve_in_precision",
]

VALIDATE_DTYPES: dict[str | None, Any] = {
    None: (np.float64, np.float32),
    "float32": np.float32,
    "float64": np.float64,
}


def row_chunks(n_rows: int, n_cols: int, elements: int = BLOCK_ELEMENTS) -> list[slice]:
    """Row slices of about ``elements`` numbers each (use ``objective.blocks.row_blocks``)."""
    step = max(1, elements // max(n_cols, 1))
    return [slice(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]
