"""Named exceptions and warnings raised by mnlogit.

Every exception subclasses a standard Python or scikit-learn one, so that code
catching ``ValueError`` or scikit-learn's ``ConvergenceWarning`` keeps working.
Messages say what happened, where (column, row or class) and what to do about it.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

__all__ = [
    "CollinearityWarning",
    "ConvergenceWarning",
    "DataWarning",
    "InferenceUnavailableError",
    "InvalidInputError",
    "MnlogitWarning",
    "PenalizedInferenceWarning",
    "ReportError",
    "ReportWarning",
    "SeparationError",
    "SeparationWarning",
    "SolverError",
    "warn",
]

_PACKAGE = str(Path(__file__).resolve().parent)


class MnlogitWarning(UserWarning):
    """Base class of the warnings mnlogit emits (other than convergence)."""


class DataWarning(MnlogitWarning):
    """Something about the data deserves attention (e.g. a class seen only once)."""


class CollinearityWarning(MnlogitWarning):
    """Columns are linear combinations of others; they were dropped from the fit and their
    coefficients are reported as not estimable."""


class SeparationWarning(MnlogitWarning):
    """The classes are (quasi-)completely separated: the maximum-likelihood estimate does
    not exist. The message names the classes and predictors involved."""


if TYPE_CHECKING:
    from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

    class ConvergenceWarning(_SklearnConvergenceWarning):
        """The solver stopped before its convergence criterion was met."""

else:

    def __getattr__(name: str) -> Any:
        # ConvergenceWarning subclasses scikit-learn's, so that code filtering
        # sklearn.exceptions.ConvergenceWarning sees ours; it is made on first use, so that
        # ``import mnlogit`` does not import scikit-learn (0.6 s)
        if name == "ConvergenceWarning":
            return _convergence_warning()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _convergence_warning() -> type[Warning]:
    """``ConvergenceWarning``, made once, on first use."""
    made: type[Warning] | None = globals().get("_ConvergenceWarning")
    if made is not None:
        return made
    from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

    class ConvergenceWarning(_SklearnConvergenceWarning):
        """The solver stopped before its convergence criterion was met.

        The message names the criterion, the value it reached and the tolerance, and
        suggests what to try (more iterations, another solver, a penalty).
        """

    ConvergenceWarning.__module__ = __name__
    ConvergenceWarning.__qualname__ = "ConvergenceWarning"
    globals()["_ConvergenceWarning"] = ConvergenceWarning
    return ConvergenceWarning


class InvalidInputError(ValueError):
    """The data, the labels, the weights or a parameter cannot be used as given."""


class SolverError(RuntimeError):
    """A solver could not make progress at all (for example a non-finite objective)."""


class InferenceUnavailableError(RuntimeError):
    """Standard errors or tests were asked for but no covariance matrix is available.

    The message says why (``cov_type=None``, too many parameters, a singular
    information matrix) and how to obtain one.
    """


class SeparationError(InferenceUnavailableError):
    """Inference was asked of a fit whose classes are separated: the estimates are not
    maximum-likelihood estimates (none exists) and their standard errors are meaningless.
    Refit with ``penalty="firth"`` (or ``"l2"``)."""


class PenalizedInferenceWarning(MnlogitWarning):
    """Inference on a penalized fit: the numbers are not classical standard errors.

    The covariance of a penalized fit is the inverse penalized information (the
    posterior covariance under the Gaussian prior that the ridge penalty encodes).
    The estimates are shrunk toward zero, so intervals are not centred on the true
    value and tests against zero are conservative in unknown measure.
    """


class ReportWarning(MnlogitWarning):
    """A figure of the HTML report could not be drawn; the page says which and why."""


class ReportError(RuntimeError):
    """A figure of the HTML report could not be drawn and ``strict=True`` was asked."""


def _external_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside mnlogit, as seen by ``warn``'s caller.

    Frames are counted from this function's caller (``warn``, level 1) up the stack
    while they run mnlogit's own code.
    """
    level = 1
    here = inspect.currentframe()
    frame: FrameType | None = None if here is None or here.f_back is None else here.f_back.f_back
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


def warn(warning: Warning) -> None:
    """Emit ``warning`` at the user's line: the first caller outside mnlogit.

    A fixed ``stacklevel`` points at the wrong line when the same warning is reached by
    call paths of different depths (a fit, a refit inside a test, a formula), and past
    the outermost frame Python reports ``sys:1``.

    Parameters
    ----------
    warning : Warning
    """
    warnings.warn(warning, stacklevel=_external_stacklevel() + 1)
