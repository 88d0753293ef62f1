"""The loss: block kernels, their composition over rows, penalties and curvature models.

- :mod:`~mnlogit.objective.kernels`, :mod:`~mnlogit.objective.loss`,
  :mod:`~mnlogit.objective.hessian`, :mod:`~mnlogit.objective.float32_curvature`: the
  multinomial loss of one block of rows as pure functions of arrays (the seam every
  engine shares); :mod:`~mnlogit.objective.blocks`: the one block size they walk rows in;
- :class:`MultinomialObjective` (:mod:`~mnlogit.objective.multinomial`): those kernels
  composed over data in memory, with the parameterization, feature scaling and penalty;
- :class:`FirthObjective` (:mod:`~mnlogit.objective.firth`): Firth's penalized likelihood;
- :mod:`~mnlogit.objective.penalties`: the penalties;
- :mod:`~mnlogit.objective.curvature`: Kronecker-factored curvature models
  (preconditioners);
- :mod:`~mnlogit.objective.protocol`: what a solver may ask of an objective.
"""

from typing import TYPE_CHECKING

from mnlogit.objective.firth import FirthObjective
from mnlogit.objective.kernels import float64_product, log_softmax
from mnlogit.objective.multinomial import MultinomialObjective
from mnlogit.objective.penalties import L2Penalty, NoPenalty, Penalty, make_penalty
from mnlogit.objective.protocol import SolverObjective, check_requirements

__all__ = [
    "FirthObjective",
    "L2Penalty",
    "MultinomialObjective",
    "NoPenalty",
    "Penalty",
    "SolverObjective",
    "check_requirements",
    "float64_product",
    "log_softmax",
    "make_penalty",
]

if TYPE_CHECKING:  # mypy checks that both objectives satisfy the solvers' protocol

    def _conforms(m: MultinomialObjective, f: FirthObjective) -> list[SolverObjective]:
        return [m, f]
