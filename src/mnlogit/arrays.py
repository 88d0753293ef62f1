"""Array namespaces: which arrays run on another namespace, on which device, and transfers.

mnlogit runs its in-memory engine on numpy and scipy.sparse. Arrays of any other
namespace that `array-api-compat <https://data-apis.org/array-api-compat/>`_ recognizes
(PyTorch on CPU or CUDA, CuPy, array-api-strict, ...) are fitted and predicted by the
array-API engine (:mod:`mnlogit.objective.xp_kernels`, :mod:`mnlogit.objective.device`,
:mod:`mnlogit.device_fit`) on the array's own device. This module is the one place that
decides which path an input takes (:func:`placement_of`) and the one place that moves
arrays between the host and a device (:meth:`Placement.put`, :func:`to_host`): the
engine moves only results of ``(p1, p1)``, ``(p1, K)`` or ``(K-1)(p+1)``-square size, never
``X`` (docs/gpu.md).

Dask arrays are *not* taken here (they have an engine of their own), nor are numpy
arrays, scipy sparse matrices, data frames and lists: :func:`placement_of` returns None
for them and nothing else changes on those paths. ``array-api-compat`` is imported only
when an input is a candidate (the ``mnlogit[array-api]`` extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError

__all__ = ["Placement", "placement_of", "to_host"]

# Top-level modules whose arrays stay on the numpy/scipy path (or another engine's).
_HOST_MODULES = frozenset({"numpy", "scipy", "pandas", "polars", "pyarrow", "dask", "builtins"})


def _candidate(X: Any) -> bool:
    """Whether ``X`` may be an array of another namespace (cheap: no import)."""
    if isinstance(X, np.ndarray | np.generic | list | tuple) or X is None:
        return False
    root = type(X).__module__.split(".", 1)[0]
    if root in _HOST_MODULES:
        return False
    return hasattr(X, "__array_namespace__") or root in ("torch", "cupy", "jax")


def _compat() -> Any:
    try:
        import array_api_compat
    except ImportError as exc:  # pragma: no cover - the extra is installed by the tests
        raise ImportError(
            "fitting arrays of PyTorch, CuPy or another array-API namespace needs "
            "array-api-compat: pip install 'mnlogit[array-api]'"
        ) from exc
    return array_api_compat


@dataclass(frozen=True)
class Placement:
    """An array namespace and a device: where the array-API engine runs.

    Attributes
    ----------
    xp : module
        The array-API namespace (array-api-compat's wrapper for PyTorch and CuPy).
    device : object
        The device of the input array (``xp``'s own device object).
    name : str
        The namespace's name for messages, e.g. ``"torch"``.
    dtype : dtype of xp or None
        The input array's dtype when it is float32 or float64 (``None`` otherwise): the
        dtype of fitted attributes (:meth:`attribute`).
    """

    xp: Any
    device: Any
    name: str
    dtype: Any = None

    @cached_property
    def float64(self) -> bool:
        """Whether the device computes in float64 (False e.g. on Apple's MPS)."""
        try:
            self.xp.zeros(1, dtype=self.xp.float64, device=self.device)
        except (TypeError, RuntimeError, ValueError):
            return False
        return True

    @property
    def work_dtype(self) -> Any:
        """The dtype of accumulations and exact products: float64 where supported."""
        return self.xp.float64 if self.float64 else self.xp.float32

    def put(self, a: Any, dtype: Any = None) -> Any:
        """A host (numpy) array or scalar as an array of this namespace on this device.

        Parameters
        ----------
        a : array-like of any shape
            Small: coefficients, class labels, weights given on the host.
        dtype : dtype of ``xp``, optional
            Default: :attr:`work_dtype` for floating input, else ``a``'s own.
        """
        host = np.asarray(a)
        if dtype is None and host.dtype.kind == "f":
            dtype = self.work_dtype
        if host.dtype.kind == "f" and (dtype == self.xp.float32 or not self.float64):
            host = host.astype(np.float32)  # a device without float64 takes no float64
        return self.xp.asarray(host, dtype=dtype, device=self.device)

    def attribute(self, a: Any) -> Any:
        """A host array as a fitted attribute on this device, in the input's dtype.

        As scikit-learn's array-API convention: ``X @ model.coef_.T`` works on float32
        device data without a cast (the float64 estimate stays in ``fitted_``).
        """
        return self.put(a, dtype=self.dtype)

    @staticmethod
    def data(X: Any) -> Any:
        """``X`` without an autograd history (a PyTorch tensor that requires grad is
        detached: a fit or a prediction is not differentiated, and the graph of its many
        products would hold their intermediates in memory)."""
        return X.detach() if bool(getattr(X, "requires_grad", False)) else X

    def take(self, a: Any) -> Any:
        """``a`` (of any namespace or a host array) as an array of this namespace and
        device: a host ``y`` or weight vector goes to the device; a device array stays."""
        if placement_of(a) is None:
            return self.xp.asarray(np.asarray(a), device=self.device)
        compat = _compat()
        if compat.device(a) != self.device:
            raise InvalidInputError(
                f"all arrays must be on X's device {self.device!r}, got one on {compat.device(a)!r}"
            )
        return a


def placement_of(X: Any) -> Placement | None:
    """The namespace and device of ``X``, or None for the numpy path.

    Parameters
    ----------
    X : any
        What was passed to ``fit``, ``predict_proba`` and the like.

    Returns
    -------
    Placement or None
        None for numpy arrays, scipy sparse matrices, data frames, lists, Dask arrays and
        anything array-api-compat does not recognize.
    """
    if not _candidate(X):
        return None
    compat = _compat()
    if not compat.is_array_api_obj(X) or compat.is_numpy_array(X) or compat.is_dask_array(X):
        return None
    xp = compat.array_namespace(X)
    name = xp.__name__.removeprefix("array_api_compat.")
    dtype = getattr(X, "dtype", None)
    floating = dtype is not None and dtype in (xp.float32, xp.float64)
    return Placement(xp, compat.device(X), name, dtype if floating else None)


def to_host(a: Any) -> NDArray[Any]:
    """A small device array (a reduction, a ``(p1, p1)`` matrix) as a numpy array.

    Parameters
    ----------
    a : array of any array-API namespace, any shape

    Returns
    -------
    ndarray of the same shape
    """
    if isinstance(a, np.ndarray):
        return a
    compat = _compat()
    if compat.is_torch_array(a):
        return np.asarray(a.detach().cpu().numpy())
    if compat.is_cupy_array(a):
        return np.asarray(a.get())
    try:
        return np.asarray(a)
    except (TypeError, ValueError, RuntimeError):  # a namespace that refuses __array__
        return np.asarray(np.from_dlpack(a))
