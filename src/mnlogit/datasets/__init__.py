"""Real datasets bundled with mnlogit (provenance in ``data/README.md``)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ANES96_PARTY_LABELS", "load_anes96"]

#: Party identification codes (column ``PID``) of the ANES 1996 data.
ANES96_PARTY_LABELS: dict[int, str] = {
    0: "Strong Democrat",
    1: "Weak Democrat",
    2: "Independent-Democrat",
    3: "Independent-Independent",
    4: "Independent-Republican",
    5: "Weak Republican",
    6: "Strong Republican",
}


def load_anes96() -> pd.DataFrame:
    """American National Election Study 1996: 944 respondents, party identification.

    The standard multinomial-logit example (statsmodels' ``MNLogit`` documentation
    fits ``PID`` on ``logpopul, selfLR, age, educ, income``). The maximum-likelihood
    estimate exists: no class is separated by these predictors.

    Returns
    -------
    DataFrame of shape (944, 11)
        ``popul`` census place population in 1000s; ``TVnews`` times per week the
        respondent watches TV news; ``selfLR``, ``ClinLR``, ``DoleLR`` left-right
        placement of self, Clinton and Dole (1 extremely liberal .. 7 extremely
        conservative); ``PID`` party identification 0..6 (labels in
        :data:`ANES96_PARTY_LABELS`); ``age``; ``educ`` education 1..7; ``income``
        household income bracket 1..24; ``vote`` expected vote (0 Clinton, 1 Dole);
        ``logpopul`` = ``log(popul + 0.1)`` as in the statsmodels example.
    """
    import numpy as np
    import pandas as pd  # imported on use: ``import mnlogit`` stays light

    path = resources.files("mnlogit.datasets").joinpath("data/anes96.csv")
    with path.open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh)
    frame["logpopul"] = np.log(frame["popul"] + 0.1)
    return frame
