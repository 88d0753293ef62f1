"""The convergence contract every solver shares.

Each iteration records three numbers; ``criterion`` picks the one that stops the
solver, against a single ``tol``:

``"gradient"``
    ``max_j |g_j|``, the largest absolute entry of the gradient of the mean
    objective (scale-free in ``n``; the same quantity scikit-learn's lbfgs uses).
``"parameter"``
    ``max_j |theta_j - theta_j_prev| / (1 + max_j |theta_j|)``.
``"loglik"``
    ``|f - f_prev| / (|f| + 0.1)``, the relative change of the (penalized, mean)
    objective -- R's ``glm.fit`` rule. For an unpenalized fit this is the relative
    change of the log-likelihood.

The first record (iteration 0) is the starting point, where the two change-based
criteria are undefined (``nan``) and cannot stop the solver.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CRITERIA",
    "ConvergenceMonitor",
    "IterationRecord",
    "ObjectiveLike",
    "SolverOptions",
    "SolverResult",
    "check_requirements",
]

FloatArray = NDArray[np.float64]
CRITERIA = ("gradient", "parameter", "loglik")
STALL_RECORDS = 3


class ObjectiveLike(Protocol):
    """The part of :class:`mnlogit.objective.MultinomialObjective` solvers may use."""

    n_params: int

    def value(self, theta: FloatArray) -> float: ...

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]: ...


@dataclass(frozen=True)
class SolverOptions:
    """Options common to all solvers.

    Attributes
    ----------
    tol : float
        Tolerance of the chosen criterion.
    max_iter : int
        Maximum number of (outer) iterations.
    criterion : {"gradient", "parameter", "loglik"}
    verbose : int
        0 is silent; 1 or more prints one line per iteration.
    stop_on_stall : bool
        Also stop (unconverged) after ``STALL_RECORDS`` iterations in a row that change
        the objective by no more than rounding -- for the float32 phase of a fit, whose
        objective is only accurate to about 1e-8.
    """

    tol: float = 1e-8
    max_iter: int = 100
    criterion: str = "gradient"
    verbose: int = 0
    stop_on_stall: bool = False


@dataclass(frozen=True)
class IterationRecord:
    """The three convergence measures (and the objective) after one iteration."""

    iteration: int
    objective: float
    gradient: float
    parameter: float
    loglik: float
    step: float


@dataclass
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    x : ndarray of shape (n_params,)
        The final iterate.
    converged : bool
    n_iter : int
    history : list of IterationRecord
        Iteration 0 is the starting point.
    message : str
    state : object, optional
        Solver-specific state that lets a later call continue where this one stopped
        (``subsample-newton``: its preconditioner and correction pairs).
    """

    x: FloatArray
    converged: bool
    n_iter: int
    history: list[IterationRecord] = field(default_factory=list)
    message: str = ""
    state: object = None


def check_requirements(solver: str, objective: object, requires: tuple[str, ...]) -> None:
    """Fail early, and readably, when the objective lacks what a solver needs."""
    missing = [name for name in requires if not callable(getattr(objective, name, None))]
    if missing:
        raise TypeError(
            f"solver {solver!r} needs the objective to provide {', '.join(missing)}; "
            f"{type(objective).__name__} does not"
        )


class ConvergenceMonitor:
    """Records the three criteria each iteration and decides when to stop.

    Parameters
    ----------
    solver : str
        Name used in verbose output and messages.
    options : SolverOptions
    printer : callable, optional
        Where verbose lines go (``print`` by default).
    """

    def __init__(
        self,
        solver: str,
        options: SolverOptions,
        printer: Callable[[str], Any] = print,
    ) -> None:
        if options.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {options.criterion!r}")
        if not options.tol > 0:
            raise ValueError(f"tol must be positive, got {options.tol!r}")
        self.solver = solver
        self.options = options
        self.history: list[IterationRecord] = []
        self._printer = printer
        self._prev_x: FloatArray | None = None
        self._prev_f: float | None = None

    def record(self, x: FloatArray, f: float, g: FloatArray, step: float = float("nan")) -> bool:
        """Record the state after an iteration; return True when converged."""
        if not math.isfinite(f):
            raise FloatingPointError(f"{self.solver}: the objective became {f}")
        gnorm = float(np.max(np.abs(g))) if g.size else 0.0
        if self._prev_x is None or self._prev_f is None:
            dpar = dll = float("nan")
        else:
            dpar = float(np.max(np.abs(x - self._prev_x))) / (1.0 + float(np.max(np.abs(x))))
            dll = abs(f - self._prev_f) / (abs(f) + 0.1)
        rec = IterationRecord(len(self.history), float(f), gnorm, dpar, dll, float(step))
        self.history.append(rec)
        self._prev_x = np.array(x, copy=True)
        self._prev_f = float(f)
        if self.options.verbose:
            self._printer(
                f"[{self.solver}] iter {rec.iteration:4d}  f={rec.objective:.12g}  "
                f"|g|max={rec.gradient:.3e}  dpar={rec.parameter:.3e}  dll={rec.loglik:.3e}"
            )
        return self.converged or (self.options.stop_on_stall and self.stalled)

    @property
    def stalled(self) -> bool:
        """The last ``STALL_RECORDS`` iterations changed the objective only by rounding."""
        recent = self.history[-STALL_RECORDS:]
        if len(recent) < STALL_RECORDS or recent[0].iteration == 0:
            return False
        return all(rec.loglik <= 8 * np.finfo(np.float64).eps for rec in recent)

    @property
    def converged(self) -> bool:
        """Whether the latest record satisfies the chosen criterion."""
        if not self.history:
            return False
        value = getattr(self.history[-1], self.options.criterion)
        return bool(value <= self.options.tol)

    @property
    def last_x(self) -> FloatArray | None:
        """The most recently recorded iterate."""
        return self._prev_x

    @property
    def n_iter(self) -> int:
        """Iterations taken (records minus the starting point)."""
        return max(len(self.history) - 1, 0)

    def result(self, x: FloatArray, stop_reason: str | None = None) -> SolverResult:
        """Package the final state, with a message that says why it stopped."""
        crit = self.options.criterion
        last = self.history[-1] if self.history else None
        value = getattr(last, crit) if last is not None else float("nan")
        if self.converged:
            message = (
                f"converged: {crit} criterion {value:.3e} <= tol {self.options.tol:.1e} "
                f"after {self.n_iter} iterations"
            )
        else:
            why = stop_reason or (
                "the objective stopped changing"
                if self.options.stop_on_stall and self.stalled
                else f"reached max_iter={self.options.max_iter}"
            )
            message = (
                f"did not converge: {why}; {crit} criterion is {value:.3e}, "
                f"tol is {self.options.tol:.1e}"
            )
        return SolverResult(
            x=x,
            converged=self.converged,
            n_iter=self.n_iter,
            history=list(self.history),
            message=message,
        )
