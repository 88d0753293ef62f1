"""The convergence report stored on a fitted model as ``convergence_``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from mnlogit.solvers import IterationRecord, SolverResult

__all__ = ["ConvergenceReport"]


@dataclass(frozen=True)
class ConvergenceReport:
    """How a fit ended, with the full per-iteration history.

    Attributes
    ----------
    solver : str
        The solver that ran (``"auto"`` resolved).
    criterion : str
        The criterion that decides convergence: ``"gradient"``, ``"parameter"``
        or ``"loglik"`` (definitions in :mod:`mnlogit.solvers.monitor`).
    tol : float
    max_iter : int
    converged : bool
    n_iter : int
    gradient, parameter, loglik : float
        Final values of the three criteria (``nan`` for a change-based criterion
        when no iteration was taken). ``gradient`` is in the scale ``tol`` is checked in
        (:mod:`mnlogit.solvers.monitor`: the user's units, except that columns the fit
        rescaled internally count per unit of their max ``|x|``).
    objective : float
        Final penalized mean objective.
    message : str
    history : list of IterationRecord
        Iteration 0 is the starting point.
    gradient_user : float
        The final largest absolute gradient in the user's units (derivatives with respect
        to the coefficients of the features as given); equal to ``gradient`` unless the
        fit rescaled some columns. ``nan`` in model files written before it existed.
    """

    solver: str
    criterion: str
    tol: float
    max_iter: int
    converged: bool
    n_iter: int
    gradient: float
    parameter: float
    loglik: float
    objective: float
    message: str
    history: list[IterationRecord] = field(default_factory=list, repr=False)
    gradient_user: float = float("nan")

    @classmethod
    def from_result(
        cls, solver: str, criterion: str, tol: float, max_iter: int, result: SolverResult
    ) -> ConvergenceReport:
        """Build the report from a :class:`~mnlogit.solvers.SolverResult`."""
        last = result.history[-1]
        return cls(
            solver=solver,
            criterion=criterion,
            tol=tol,
            max_iter=max_iter,
            converged=result.converged,
            n_iter=result.n_iter,
            gradient=last.gradient,
            parameter=last.parameter,
            loglik=last.loglik,
            objective=last.objective,
            message=result.message,
            history=list(result.history),
            gradient_user=last.gradient_user,
        )

    def history_frame(self) -> pd.DataFrame:
        """The history as a DataFrame indexed by iteration.

        Returns
        -------
        DataFrame of shape (n_iter + 1, 6)
            Columns ``objective, gradient, parameter, loglik, step, gradient_user``.
        """
        frame = pd.DataFrame([asdict(r) for r in self.history])
        return frame.set_index("iteration")

    def __str__(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        return (
            f"{self.solver}: {status} in {self.n_iter} iterations "
            f"(criterion {self.criterion}, tol {self.tol:.1e})\n"
            f"  max |gradient|      {self.gradient:.3e} (the scale tol is checked in)\n"
            f"  in your units       {self.gradient_user:.3e}\n"
            f"  parameter change    {self.parameter:.3e}\n"
            f"  log-lik change      {self.loglik:.3e}\n"
            f"  {self.message}"
        )
