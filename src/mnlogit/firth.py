"""Old import path: :class:`FirthObjective` is now in :mod:`mnlogit.objective.firth`."""

# TEMPORARY re-export for the parallel refactor; removed at merge

from mnlogit.objective.firth import EXACT_HESSIAN_MAX_PARAMS, FirthObjective

__all__ = ["EXACT_HESSIAN_MAX_PARAMS", "FirthObjective"]
