"""Reference (baseline-category) and symmetric parameterizations.

The full coefficient matrix ``B`` has shape ``(p1, K)``: column ``k`` holds class
``k``'s intercept (row 0, when the model has one) and feature weights. Adding the
same vector to every column of ``B`` leaves all probabilities unchanged, so only
``K - 1`` columns are free. A parameterization fixes which representative of that
equivalence class is used, through a ``(K, K-1)`` matrix ``A`` with orthonormal
columns::

    B = Theta @ A.T              Theta: (p1, K-1), the free parameters

- reference class ``r``: ``A`` is the identity with column ``r`` removed, so
  ``B[:, r] == 0`` and the other columns are log relative-risk ratios against ``r``;
- symmetric: ``A`` is the (transposed) Helmert contrast basis, orthogonal to the
  vector of ones, so the columns of ``B`` sum to zero.

Because ``A`` has orthonormal columns, ``||B||_F == ||Theta||_F`` in both forms,
which is what lets a ridge penalty act on ``Theta`` directly.

The free vector used by solvers is ``Theta`` flattened class by class (column-major),
so each non-reference class contributes a contiguous block ``[intercept, w_1 .. w_p]``.

Which class is the reference is decided here once, by :meth:`Parameterization.resolve_reference`
(the estimator's ``reference`` parameter, ``with_reference`` and ``from_coefficients`` all
go through it); everything downstream carries the resolved index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import helmert

from mnlogit.exceptions import InvalidInputError

__all__ = ["Parameterization"]

FloatArray = NDArray[np.float64]


class Parameterization:
    """A linear map between free parameters and the full coefficient matrix.

    Parameters
    ----------
    n_classes : int
        Number of classes ``K >= 2``.
    reference : int or None
        Index (into the sorted classes) of the reference class, or ``None`` for the
        symmetric (sum-to-zero) form.

    Attributes
    ----------
    A : ndarray of shape (K, K-1)
        Orthonormal columns; ``B = Theta @ A.T``.
    N : ndarray of shape (K, K)
        Projection onto this parameterization's representative:
        ``B @ N`` has a zero reference column (reference form) or zero row sums
        (symmetric form) and the same probabilities as ``B``.
    """

    def __init__(self, n_classes: int, reference: int | None) -> None:
        if n_classes < 2:
            raise ValueError(f"need at least 2 classes, got {n_classes}")
        if reference is not None and not 0 <= reference < n_classes:
            raise ValueError(f"reference index {reference} out of range for {n_classes} classes")
        self.n_classes = n_classes
        self.reference = reference
        eye = np.eye(n_classes)
        if reference is None:
            self.A: FloatArray = np.ascontiguousarray(helmert(n_classes).T)
            self.N: FloatArray = eye - 1.0 / n_classes
        else:
            self.A = np.delete(eye, reference, axis=1)
            self.N = eye.copy()
            self.N[reference, :] -= 1.0

    @staticmethod
    def resolve_reference(
        reference: Any, classes: NDArray[Any], penalized: bool = False, keywords: bool = True
    ) -> int | None:
        """Index of the reference class in ``classes``, or ``None`` for the symmetric form.

        ``"auto"``: the first class for unpenalized fits, the symmetric form for penalized
        ones with three or more classes. With two classes a penalized fit also uses the
        first class: the ridge penalty on the single log-odds vector does not depend on
        which class is the reference (switching only flips its sign), and it is then the
        penalty of ordinary binary ridge logistic regression (scikit-learn's).
        ``"first"`` / ``"last"``: by sorted order. Any other value must be one of the
        classes. The keywords are checked before the labels: a class literally named
        ``"first"``, ``"last"`` or ``"auto"`` is chosen by its sorted position instead.

        Parameters
        ----------
        reference : label, "auto", "first", "last" or None
        classes : ndarray of shape (K,)
            The classes in the order of the coefficient rows (sorted, for a fit).
        penalized : bool, default=False
            Whether the fit has a ridge penalty (decides ``"auto"``).
        keywords : bool, default=True
            ``False`` takes ``reference`` as a label only (``with_reference``,
            ``from_coefficients``): no keyword is recognised.

        Returns
        -------
        int or None

        Raises
        ------
        InvalidInputError
            ``reference`` is neither a keyword (when accepted), ``None``, nor exactly one
            of ``classes``.
        """
        if keywords and isinstance(reference, str) and reference in ("auto", "first", "last"):
            if reference == "auto":
                return None if penalized and classes.size > 2 else 0
            return 0 if reference == "first" else int(classes.size - 1)
        if reference is None:
            return None
        matches = np.flatnonzero(classes == reference)
        if matches.size != 1:
            shown = ", ".join(repr(c) for c in classes[:10].tolist())
            accepted = "a class label, 'first', 'last', 'auto'" if keywords else "a class label"
            raise InvalidInputError(
                f"reference={reference!r} is not one of the classes ({shown}); pass "
                f"{accepted} or None (symmetric form)"
            )
        return int(matches[0])

    @property
    def n_free_classes(self) -> int:
        """Number of free columns, ``K - 1``."""
        return self.n_classes - 1

    def to_full(self, theta: FloatArray, p1: int) -> FloatArray:
        """Full coefficient matrix from the free vector.

        Parameters
        ----------
        theta : ndarray of shape ((K-1) * p1,)
        p1 : int
            Rows per class (features plus one when there is an intercept).

        Returns
        -------
        ndarray of shape (p1, K)
        """
        return self.theta_matrix(theta, p1) @ self.A.T

    def theta_matrix(self, theta: FloatArray, p1: int) -> FloatArray:
        """View the free vector as a ``(p1, K-1)`` matrix (column ``j`` = free class ``j``)."""
        return theta.reshape(self.n_free_classes, p1).T

    def from_full(self, B: FloatArray) -> FloatArray:
        """Free vector representing the same probabilities as ``B``.

        Parameters
        ----------
        B : ndarray of shape (p1, K)

        Returns
        -------
        ndarray of shape ((K-1) * p1,)
        """
        theta = B @ self.N @ self.A
        return np.ascontiguousarray(theta.T).reshape(-1)

    def transform_to(self, other: Parameterization) -> FloatArray:
        """Matrix ``M`` with ``Theta_other = Theta_self @ M`` (both of shape ``(p1, K-1)``).

        Returns
        -------
        ndarray of shape (K-1, K-1)
        """
        return self.A.T @ other.N @ other.A

    def vector_jacobian(self, other: Parameterization, p1: int) -> FloatArray:
        """Jacobian of ``theta_other`` with respect to ``theta_self`` (flattened vectors).

        Covariance matrices move as ``J @ cov @ J.T``.

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1)
        """
        M = self.transform_to(other)
        return np.asarray(np.kron(M.T, np.eye(p1)), dtype=np.float64)

    def project(self, B: FloatArray) -> FloatArray:
        """``B @ N``: the same probabilities in this parameterization's representative.

        Parameters
        ----------
        B : ndarray of shape (p1, K)

        Returns
        -------
        ndarray of shape (p1, K)
            Zero reference column (reference form) or zero row sums (symmetric form).
        """
        return np.asarray(B @ self.N, dtype=np.float64)

    def full_jacobian(self, p1: int) -> FloatArray:
        """Jacobian of ``vec(B @ N)`` with respect to ``vec(B)``, both class-major.

        ``vec(B)`` stacks the columns of ``B`` (class ``k``'s block ``B[:, k]`` of ``p1``
        entries after class ``k - 1``'s), the layout of a fitted model's covariance; it
        moves to this parameterization as ``J @ cov @ J.T``.

        Returns
        -------
        ndarray of shape (K * p1, K * p1)
        """
        return np.asarray(np.kron(self.N.T, np.eye(p1)), dtype=np.float64)

    def free_gradient(self, grad_full: FloatArray) -> FloatArray:
        """Chain rule from a ``(p1, K)`` gradient over ``B`` to the free vector.

        Returns
        -------
        ndarray of shape ((K-1) * p1,)
        """
        # (grad_full @ A).T computed as A.T @ grad_full.T: C-ordered, no transposing copy
        return np.asarray(self.A.T @ grad_full.T).reshape(-1)
