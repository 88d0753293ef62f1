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
        when no iteration was taken).
    objective : float
        Final penalized mean objective.
    message : str
    history : list of IterationRecord
        Iteration 0 is the starting point.
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
        )

    def history_frame(self) -> pd.DataFrame:
        """The history as a DataFrame indexed by iteration.

        Returns
        -------
        DataFrame of shape (n_iter + 1, 5)
            Columns ``objective, gradient, parameter, loglik, step``.
        """
        frame = pd.DataFrame([asdict(r) for r in self.history])
        return frame.set_index("iteration")

    def __str__(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        return (
            f"{self.solver}: {status} in {self.n_iter} iterations "
            f"(criterion {self.criterion}, tol {self.tol:.1e})\n"
            f"  max |gradient|      {self.gradient:.3e}\n"
            f"  parameter change    {self.parameter:.3e}\n"
            f"  log-lik change      {self.loglik:.3e}\n"
            f"  {self.message}"
        )
