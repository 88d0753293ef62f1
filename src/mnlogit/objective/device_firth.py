"""Firth's penalized likelihood on device data (PyTorch, CuPy, array-API namespaces).

:class:`DeviceFirthObjective` is :class:`~mnlogit.objective.firth.FirthObjective` over a
:class:`~mnlogit.objective.device.DeviceObjective`: the same host algebra (the Fisher
information from the device objective's Hessian, its Cholesky factor, ``log det``, the
inverse ``(m, m)``) with the one pass that touches rows -- the per-row leverage scores
``d (1/2 log det I) / d eta`` -- run on ``X``'s device
(:func:`mnlogit.objective.xp_kernels.firth_scores`) and carried back to ``theta`` by the
device objective's backprojection. Per gradient: one ``(m, m)`` inverse to the device,
``(p1, K)`` sums back; never an ``n``-sized array.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective import xp_kernels as xk
from mnlogit.objective.device import DeviceObjective
from mnlogit.objective.firth import FirthObjective

__all__ = ["DeviceFirthObjective"]

FloatArray = NDArray[np.float64]


class DeviceFirthObjective(FirthObjective):
    """Firth's penalty around an unpenalized :class:`DeviceObjective`.

    Parameters
    ----------
    base : DeviceObjective
        Built with ``NoPenalty``.
    """

    def __init__(self, base: DeviceObjective) -> None:
        super().__init__(cast(Any, base))
        self.device_base = base

    def _penalty_gradient(self, theta: FloatArray, inv4: FloatArray) -> FloatArray:
        """``d (1/2 log det I) / d theta``: leverage scores on the device, sums back."""
        base = self.device_base
        placement = base.placement
        U = xk.firth_scores(
            placement.xp,
            base.X,
            base.probabilities(theta),
            base.sample_weight,
            placement.put(inv4),
            placement.put(base.row_unscale()),
            intercept=base.fit_intercept,
            work=base.work,
        )
        return base.backproject(U)
