"""Whether an object is a Dask collection, asked without importing Dask.

The estimator asks on every ``fit`` and prediction call; importing Dask for that would
make every in-memory call pay for it (and ``mnlogit`` does not require Dask).
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_dask"]

_DASK_PACKAGES = ("dask", "dask_expr")


def is_dask(*objects: Any) -> bool:
    """Whether any of ``objects`` is a Dask collection (array, data frame, series).

    Decided by the type's module (``dask.array``, ``dask.dataframe``, ``dask_expr``), so
    no Dask import happens for in-memory data.
    """
    for obj in objects:
        module = type(obj).__module__ or ""
        if module.split(".")[0] in _DASK_PACKAGES:
            return True
    return False
