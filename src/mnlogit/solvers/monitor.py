"""The convergence contract every solver shares.

Each iteration records three numbers; ``criterion`` picks the one that stops the
solver, against a single ``tol``:

``"gradient"``
    ``max_j |g_j|``, the largest absolute entry of the gradient of the mean
    objective (scale-free in ``n``; the same quantity scikit-learn's lbfgs uses) with
    respect to the parameters the solver sees: the user's coefficients, except for
    columns the fit rescaled internally (max ``|x|`` outside ``[1e-3, 1e3]``), whose
    coefficients count per unit of their max ``|x|`` -- so that ``tol`` asks the same
    relative accuracy of every column whatever its units. Each record also holds
    ``gradient_user``, the same maximum in the user's units (``SolverOptions.gradient_scale``).
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

from mnlogit.objective.protocol import SolverObjective

__all__ = [
    "CRITERIA",
    "ConvergenceMonitor",
    "IterationRecord",
    "Resumable",
    "SolveFunction",
    "SolverOptions",
    "SolverResult",
]

FloatArray = NDArray[np.float64]
CRITERIA = ("gradient", "parameter", "loglik")
STALL_RECORDS = 3
#: :meth:`ConvergenceMonitor.predicts_convergence`: the next gradient is predicted as
#: ``g_k (g_k / g_{k-1})`` (the last iteration's contraction, again) times this safety
#: factor. On the benchmark problems' subsample-newton fits the next gradient was 0.5-1.9
#: times that prediction (docs/benchmarks.md, issue-speed7).
PREDICTION_SAFETY = 1.5


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
    stall_rtol : float
        What counts as rounding there: a relative change of the objective of at most this
        (``8 eps`` of float64; the float32 phase passes a larger one, see
        :data:`mnlogit.solvers.precision.FLOAT32_STALL_RTOL`).
    gradient_scale : ndarray of shape (n_params,), optional
        The chain rule from the solver's (internally rescaled) parameters to the user's
        coefficients, for ``IterationRecord.gradient_user``; ``None``: they coincide.
    final_hessian : bool
        The caller will take the objective's Hessian at the returned point (the
        covariance): a solver that can predict its last evaluation asks an objective
        with the ``"last-pass"`` capability to form the Hessian in that pass
        (docs/solvers.md, "The last pass").
    """

    tol: float = 1e-8
    max_iter: int = 100
    criterion: str = "gradient"
    verbose: int = 0
    stop_on_stall: bool = False
    gradient_scale: FloatArray | None = field(default=None, compare=False)
    final_hessian: bool = False
    stall_rtol: float = 8 * float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class IterationRecord:
    """The three convergence measures (and the objective) after one iteration."""

    iteration: int
    objective: float
    gradient: float
    parameter: float
    loglik: float
    step: float
    gradient_user: float = float("nan")

    def measure(self, criterion: str) -> float:
        """The value of ``criterion`` (one of :data:`CRITERIA`) in this record."""
        measures = {"gradient": self.gradient, "parameter": self.parameter, "loglik": self.loglik}
        return measures[criterion]


class SolveFunction(Protocol):
    """``solve(objective, x0, options) -> SolverResult``: what every solver module offers."""

    def __call__(
        self, objective: SolverObjective, x0: FloatArray, options: SolverOptions, /
    ) -> SolverResult: ...


class Resumable(Protocol):
    """Solver state that continues a solve where it stopped (``SolverResult.state``)."""

    def resume(
        self, objective: SolverObjective, x0: FloatArray, options: SolverOptions
    ) -> SolverResult:
        """Continue on ``objective`` (the same one, possibly in another precision)."""
        ...


@dataclass
class SolverResult:
    """What a solver returns.

    The message is composed from the structured fields (never edited as text), so a
    two-phase solve (:func:`mnlogit.solvers.precision.solve_in_precision`) can merge
    two results by setting fields.

    Attributes
    ----------
    x : ndarray of shape (n_params,)
        The final iterate.
    converged : bool
    n_iter : int
    history : list of IterationRecord
        Iteration 0 is the starting point.
    state : Resumable, optional
        Solver-specific state whose ``resume`` continues where this solve stopped
        (``subsample-newton``: its preconditioner and correction pairs).
    criterion : str
        The stopping criterion, ``tol`` its tolerance.
    tol : float
    stop_reason : str
        Why an unconverged solve stopped ("reached max_iter=100", ...); empty when
        converged.
    float32_iterations : int
        How many of the ``n_iter`` iterations ran on float32 products.
    """

    x: FloatArray
    converged: bool
    n_iter: int
    history: list[IterationRecord] = field(default_factory=list)
    state: Resumable | None = None
    criterion: str = "gradient"
    tol: float = float("nan")
    stop_reason: str = ""
    float32_iterations: int = 0

    @property
    def message(self) -> str:
        """Why the solver stopped, with the chosen criterion's last value."""
        last = self.history[-1] if self.history else None
        value = last.measure(self.criterion) if last is not None else float("nan")
        if self.converged:
            phases = (
                f" ({self.float32_iterations} on float32 products)"
                if self.float32_iterations
                else ""
            )
            return (
                f"converged: {self.criterion} criterion {value:.3e} <= tol {self.tol:.1e} "
                f"after {self.n_iter} iterations{phases}"
            )
        phases = (
            f" ({self.float32_iterations} iterations on float32 products)"
            if self.float32_iterations
            else ""
        )
        return (
            f"did not converge: {self.stop_reason}{phases}; {self.criterion} criterion is "
            f"{value:.3e}, tol is {self.tol:.1e}"
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
    copy_iterates : bool, default=True
        Keep a copy of each recorded ``x`` (for the parameter change at the next
        record). ``False`` keeps a reference instead: for solvers that never change an
        iterate in place once recorded (Newton-CG, whose iterates come fresh from its
        line search), saving one array of ``n_params`` numbers made at every iteration
        (a million on a sparse text problem: issue-sparse6).
    """

    def __init__(
        self,
        solver: str,
        options: SolverOptions,
        printer: Callable[[str], Any] = print,
        copy_iterates: bool = True,
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
        self._copy_iterates = copy_iterates

    def record(self, x: FloatArray, f: float, g: FloatArray, step: float = float("nan")) -> bool:
        """Record the state after an iteration; return True when converged."""
        if not math.isfinite(f):
            raise FloatingPointError(f"{self.solver}: the objective became {f}")
        # the ndarray methods: np.max(a) costs a dispatch of its own (1.5 of 3 us on a
        # vector of 84; the same numbers)
        gnorm = float(np.abs(g).max()) if g.size else 0.0
        scale = self.options.gradient_scale
        guser = gnorm if scale is None or not g.size else float(np.abs(g * scale).max())
        if self._prev_x is None or self._prev_f is None:
            dpar = dll = float("nan")
        else:
            dpar = float(np.abs(x - self._prev_x).max()) / (1.0 + float(np.abs(x).max()))
            dll = abs(f - self._prev_f) / (abs(f) + 0.1)
        rec = IterationRecord(len(self.history), float(f), gnorm, dpar, dll, float(step), guser)
        self.history.append(rec)
        self._prev_x = np.array(x, copy=True) if self._copy_iterates else x
        self._prev_f = float(f)
        if self.options.verbose:
            self._printer(
                f"[{self.solver}] iter {rec.iteration:4d}  f={rec.objective:.12g}  "
                f"|g|max={rec.gradient:.3e}  dpar={rec.parameter:.3e}  dll={rec.loglik:.3e}"
            )
        return self.converged or (self.options.stop_on_stall and self.stalled)

    @property
    def stalled(self) -> bool:
        """The last ``STALL_RECORDS`` iterations changed the objective only by rounding
        (``SolverOptions.stall_rtol``)."""
        recent = self.history[-STALL_RECORDS:]
        if len(recent) < STALL_RECORDS or recent[0].iteration == 0:
            return False
        return all(rec.loglik <= self.options.stall_rtol for rec in recent)

    @property
    def converged(self) -> bool:
        """Whether the latest record satisfies the chosen criterion."""
        if not self.history:
            return False
        value = self.history[-1].measure(self.options.criterion)
        return bool(value <= self.options.tol)

    def predicts_convergence(self) -> bool:
        """Whether the next iteration is predicted to meet the gradient criterion.

        True when ``criterion="gradient"``, the last iteration shrank the gradient's
        largest entry (``g_k < g_{k-1}``, at least two records) and the same contraction
        once more, with a margin, reaches ``tol``:
        ``PREDICTION_SAFETY * g_k * (g_k / g_{k-1}) <= tol``. Linearly converging
        solvers (subsample-newton's steady contraction) are predicted well by it; for
        Newton's quadratic convergence it errs on the late side.
        """
        if self.options.criterion != "gradient" or len(self.history) < 2:
            return False
        g_prev, g_k = self.history[-2].gradient, self.history[-1].gradient
        if not 0.0 < g_k < g_prev:
            return False
        return PREDICTION_SAFETY * g_k * (g_k / g_prev) <= self.options.tol

    @property
    def last_x(self) -> FloatArray | None:
        """The most recently recorded iterate."""
        return self._prev_x

    @property
    def n_iter(self) -> int:
        """Iterations taken (records minus the starting point)."""
        return max(len(self.history) - 1, 0)

    def result(self, x: FloatArray, stop_reason: str | None = None) -> SolverResult:
        """Package the final state and why it stopped (``stop_reason`` if unconverged).

        Without ``stop_reason`` an unconverged solve stopped on a stall (with
        ``stop_on_stall``) or at ``max_iter``.
        """
        converged = self.converged
        why = ""
        if not converged:
            why = stop_reason or (
                "the objective stopped changing"
                if self.options.stop_on_stall and self.stalled
                else f"reached max_iter={self.options.max_iter}"
            )
        return SolverResult(
            x=x,
            converged=converged,
            n_iter=self.n_iter,
            history=list(self.history),
            criterion=self.options.criterion,
            tol=self.options.tol,
            stop_reason=why,
        )
