"""Old import path: the penalties are now in :mod:`mnlogit.objective.penalties`."""

# TEMPORARY re-export for the parallel refactor; removed at merge

from mnlogit.objective.penalties import L2Penalty, NoPenalty, Penalty, make_penalty

__all__ = ["L2Penalty", "NoPenalty", "Penalty", "make_penalty"]
