"""The same model fitted on Dask: data beyond one machine's memory, or on a cluster.

``MultinomialLogit.fit`` hands Dask input (a ``dask.array`` ``X`` and ``y``, or a
``dask.dataframe`` with ``formula=``) to :func:`mnlogit.distributed.fit.fit_dask`; the
prediction methods hand it to :mod:`mnlogit.distributed.prediction`. Every pass over the
data is a map of the in-memory block kernels (:mod:`mnlogit.objective.kernels`,
:mod:`~mnlogit.objective.loss`, :mod:`~mnlogit.objective.hessian`) over the partitions and
a tree reduction of their additive partial sums; the solvers are the in-memory ones, given
:class:`~mnlogit.distributed.objective.DaskObjective`.

Modules:

- :mod:`~mnlogit.distributed.detect` -- whether an object is a Dask collection (no Dask
  import: the estimator asks it on every call).
- :mod:`~mnlogit.distributed.partitions` -- the partitions as blocks (features, class codes,
  weights), their alignment, persisting or streaming, the tree reduction, pass reports.
- :mod:`~mnlogit.distributed.preparation` -- classes, weights, column scales, non-finite
  values (with partition and row) and collinearity, from passes over the partitions.
- :mod:`~mnlogit.distributed.objective` -- the objective the solvers see.
- :mod:`~mnlogit.distributed.covariance` -- information and meat by partition sums.
- :mod:`~mnlogit.distributed.fit` -- the fit, stage by stage.
- :mod:`~mnlogit.distributed.prediction` -- lazy predictions and evaluation sums.

Nothing here is imported by ``import mnlogit`` or by the estimator until Dask input arrives.
"""
