"""What a solver may ask of an objective: one typed protocol and declared capabilities.

Every objective gives a value and a gradient. Everything else a solver may use is a
*capability*, declared by the objective in its ``capabilities`` set (never probed with
``getattr``) and checked against the solver's ``REQUIRES`` before the solver runs
(:func:`check_requirements`):

``"hessian"``
    :meth:`SolverObjective.hessian` is a positive (semi-)definite ``m x m`` curvature for
    Newton steps.
``"hessp"``
    :meth:`~SolverObjective.hessp` and :meth:`~SolverObjective.curvature_product` give
    curvature-vector products without forming the Hessian (Newton-CG).
``"irls"``
    The objective is a (ridge-)penalized multinomial likelihood, so
    :meth:`~SolverObjective.probabilities`, :meth:`~SolverObjective.linear_predictor`,
    :meth:`~SolverObjective.backproject`, ``y`` and ``normalized_weights`` define IRLS's
    working responses.
``"subsample"``
    :meth:`~SolverObjective.subsample` returns the same objective on a row subsample.
``"kronecker"``
    :meth:`~SolverObjective.kronecker_preconditioner` returns the Kronecker-factored
    curvature model.
``"last-pass"``
    The objective is also a :class:`LastPass`: a solver may ask that its next gradient
    at a new point form the Hessian there in the same pass (:func:`as_last_pass` gives
    the objective as one). A separate protocol, so that the objectives without it (the
    Dask and device engines) need no method they would not use.
``"row-view"``
    The objective is also a :class:`RowView`: the same objective on every ``s``-th row
    read in place (no copy of ``X``), for a preconditioner's Hessian on more rows than
    a :meth:`~SolverObjective.subsample` copy holds (:func:`as_row_view`; a separate
    protocol, as ``"last-pass"``).

Methods of a capability an objective does not declare still exist (so every objective
satisfies the one protocol, checked by mypy) but are not called; those that can decline
say so in their return type (``None``).

The protocol lives in the objective package because the objectives declare it; solvers
import it (and never :class:`~mnlogit.objective.MultinomialObjective` itself), and the
objective package never imports the solvers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CAPABILITIES",
    "HESSIAN",
    "HESSP",
    "IRLS",
    "KRONECKER",
    "LAST_PASS",
    "ROW_VIEW",
    "SUBSAMPLE",
    "Inverse",
    "LastPass",
    "RowView",
    "SolverObjective",
    "as_last_pass",
    "as_row_view",
    "check_requirements",
    "hessian_with_next_gradient",
]

FloatArray = NDArray[np.float64]
#: ``g -> P^{-1} g`` for a symmetric positive definite curvature model ``P``.
Inverse = Callable[[FloatArray], FloatArray]

HESSIAN = "hessian"
HESSP = "hessp"
IRLS = "irls"
SUBSAMPLE = "subsample"
KRONECKER = "kronecker"
LAST_PASS = "last-pass"
ROW_VIEW = "row-view"
CAPABILITIES = frozenset({HESSIAN, HESSP, IRLS, SUBSAMPLE, KRONECKER, LAST_PASS, ROW_VIEW})


class SolverObjective(Protocol):
    """The objective as the solvers see it (mean scale; free vectors of shape ``(m,)``)."""

    @property
    def n_params(self) -> int:
        """``m``, the length of the free vector."""
        ...

    @property
    def n_samples(self) -> int: ...

    @property
    def n_classes(self) -> int: ...

    @property
    def y(self) -> NDArray[np.intp]:
        """Class codes ``(n,)``."""
        ...

    @property
    def normalized_weights(self) -> FloatArray:
        """Sample weights over their total, ``(n,)``."""
        ...

    @property
    def capabilities(self) -> frozenset[str]:
        """The optional capabilities this objective offers (module docstring)."""
        ...

    @property
    def low_precision(self) -> bool:
        """Whether the data are float32, so that a solve may run in two phases."""
        ...

    def set_exact(self, exact: bool) -> None:
        """float64 products (``True``) or the data's float32 ones (``False``)."""
        ...

    def value(self, theta: FloatArray) -> float: ...

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]: ...

    def hessian(self, theta: FloatArray) -> NDArray[Any]:
        """``"hessian"``: ``(m, m)`` curvature (float32 only for a fast-mode subsample)."""
        ...

    def hessp(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """``"hessp"``: the curvature times ``v``, ``(m,)``."""
        ...

    def curvature_product(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """``"hessp"``: :meth:`hessp` for search directions (may be cheaper, less exact)."""
        ...

    def curvature_preconditioner(self, theta: FloatArray) -> Inverse | None:
        """``"hessp"``: a preconditioner for conjugate gradients, or None (plain CG)."""
        ...

    def kronecker_preconditioner(self, theta: FloatArray) -> Inverse | None:
        """``"kronecker"``: the Kronecker curvature model's inverse; None without it."""
        ...

    def probabilities(self, theta: FloatArray) -> FloatArray:
        """``"irls"``: class probabilities ``(n, K)``."""
        ...

    def linear_predictor(self, theta: FloatArray) -> FloatArray:
        """``"irls"``: ``eta`` of shape ``(n, K)``."""
        ...

    def backproject(self, U: FloatArray) -> FloatArray:
        """``"irls"``: a per-row derivative ``(n, K)`` in ``eta`` carried to ``(m,)``."""
        ...

    def subsample(self, stride: int) -> SolverObjective | None:
        """``"subsample"``: the objective on every ``stride``-th row; None without it."""
        ...


def check_requirements(solver: str, objective: SolverObjective, requires: Iterable[str]) -> None:
    """Fail early, and readably, when the objective lacks a capability ``solver`` needs.

    Raises
    ------
    TypeError
        Naming the solver, the missing capabilities and the objective's type.
    """
    missing = [name for name in requires if name not in objective.capabilities]
    if missing:
        raise TypeError(
            f"solver {solver!r} needs the objective to provide {', '.join(missing)}; "
            f"{type(objective).__name__} does not"
        )


class LastPass(Protocol):
    """``"last-pass"``: the Hessian formed in the same pass as the next gradient."""

    def hessian_with_next_gradient(self, enabled: bool) -> None:
        """With ``enabled``, the next ``value_and_gradient`` at a new point also forms the
        Hessian there, kept for the first ``hessian`` (or ``information``) at exactly that
        point; ``False`` withdraws a request not yet spent."""
        ...


def as_last_pass(objective: SolverObjective) -> LastPass | None:
    """``objective`` as a :class:`LastPass` when it declares ``"last-pass"``, else None."""
    if LAST_PASS in objective.capabilities:
        return cast(LastPass, objective)
    return None


class RowView(Protocol):
    """``"row-view"``: the objective on a row subsample, read in place."""

    def row_view(self, stride: int) -> SolverObjective:
        """The same objective on every ``stride``-th row (weights renormalized over them),
        reading the data in place, in its own dtype and precision mode."""
        ...


def as_row_view(objective: SolverObjective) -> RowView | None:
    """``objective`` as a :class:`RowView` when it declares ``"row-view"``, else None."""
    if ROW_VIEW in objective.capabilities:
        return cast(RowView, objective)
    return None


@contextmanager
def hessian_with_next_gradient(objective: SolverObjective, enabled: bool) -> Iterator[None]:
    """Within the block, the next gradient at a new point also forms the Hessian there.

    Asked of ``objective`` only when ``enabled`` and it declares ``"last-pass"``
    (otherwise the block runs unchanged); a request the block did not spend is withdrawn
    on leaving it.
    """
    fused = as_last_pass(objective) if enabled else None
    if fused is None:
        yield
        return
    fused.hessian_with_next_gradient(True)
    try:
        yield
    finally:
        fused.hessian_with_next_gradient(False)
