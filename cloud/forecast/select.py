"""Which method for which series, its smoothing constants, and how good it was (a backtest).

**Classification** (Syntetos, Boylan & Croston 2005): `ADI`, the average interval between
non-zero demands, and `CV2`, the squared coefficient of variation of the non-zero sizes.
`ADI > 1.32` is intermittent (`CV2 <= 0.49`) or lumpy (above); otherwise smooth or erratic.
Intermittent and lumpy series get SBA; the others Holt, or additive Holt-Winters when a
`period` is given, the history holds at least three seasons, and the season explains demand
(the lag-`period` autocorrelation is at least 0.3).

**Smoothing constants**: a small grid — `alpha` in 0.05, 0.1, 0.2, 0.3 (SBA); `alpha` in 0.1,
0.2, 0.4, 0.6 with `beta` in 0.02, 0.1, 0.2 (Holt); and `gamma` in 0.1, 0.3 (Holt-Winters) — the
pair with the smallest in-sample one-step squared error after a warm-up of a season (or 7
periods). A grid rather than an optimiser: the result is reproducible and cheap to state.

**Backtest** (rolling origin): for each of the last `origins` periods as a forecast origin, fit
on the history before it, forecast `horizon` periods, compare with what happened. Reported: MAE,
RMSE, and MASE — MAE over the in-sample MAE of the naive one-step forecast (Hyndman & Koehler
2006; below 1 beats naive) — beside the same figures for the naive forecast over the same origins.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any, Final

import numpy as np

from cloud.forecast.methods import F64, Series, croston, holt, holt_winters, naive, one_step, sba

__all__ = ["Backtest", "Fitted", "backtest", "classify", "fit", "predict"]

ADI_CUT: Final = 1.32
CV2_CUT: Final = 0.49
SEASON_MIN_ACF: Final = 0.3
_SBA_ALPHAS: Final = (0.05, 0.1, 0.2, 0.3)
_HOLT_ALPHAS: Final = (0.1, 0.2, 0.4, 0.6)
_HOLT_BETAS: Final = (0.02, 0.1, 0.2)
_HW_GAMMAS: Final = (0.1, 0.3)


@dataclass(frozen=True)
class Fitted:
    """A method with its constants, for one series."""

    method: str  # "sba", "holt", "holt_winters", "naive"
    params: dict[str, float]
    kind: str  # the series' class: smooth, erratic, intermittent, lumpy
    period: int | None = None


def classify(history: Series) -> str:
    """smooth, erratic, intermittent or lumpy (see the module text)."""
    values = np.asarray(history, dtype=np.float64)
    sizes = values[values > 0]
    if len(sizes) == 0:
        return "intermittent"
    adi = len(values) / len(sizes)
    cv2 = float(sizes.std() / sizes.mean()) ** 2 if sizes.mean() > 0 else 0.0
    if adi > ADI_CUT:
        return "lumpy" if cv2 > CV2_CUT else "intermittent"
    return "erratic" if cv2 > CV2_CUT else "smooth"


def _seasonal(values: F64, period: int | None) -> bool:
    if period is None or period < 2 or len(values) < 3 * period:
        return False
    centred = values - values.mean()
    denominator = float((centred**2).sum())
    if denominator == 0:
        return False
    return float((centred[period:] * centred[:-period]).sum()) / denominator >= SEASON_MIN_ACF


def _sse(values: F64, fitted: Fitted, warm: int) -> float:
    """In-sample one-step squared error from `warm` on (one pass of the method)."""
    guesses = one_step(fitted.method, values, fitted.params, fitted.period)[warm:]
    actual = values[warm:]
    known = ~np.isnan(guesses)
    return float(((actual[known] - guesses[known]) ** 2).sum())


def fit(history: Series, period: int | None = None) -> Fitted:
    """The method and constants for `history` (see the module text)."""
    values = np.asarray(history, dtype=np.float64)
    kind = classify(values)
    if len(values) < 4 or not (values > 0).any():
        return Fitted("naive", {}, kind)
    warm = period if period and len(values) > 2 * period else min(7, len(values) // 2)
    candidates: list[Fitted]
    if kind in ("intermittent", "lumpy"):
        candidates = [Fitted("sba", {"alpha": a}, kind) for a in _SBA_ALPHAS]
    elif period is not None and _seasonal(values, period):
        warm = 2 * period
        candidates = [
            Fitted("holt_winters", {"alpha": a, "beta": b, "gamma": g}, kind, period)
            for a, b, g in product(_HOLT_ALPHAS, _HOLT_BETAS, _HW_GAMMAS)
        ]
    else:
        candidates = [
            Fitted("holt", {"alpha": a, "beta": b}, kind)
            for a, b in product(_HOLT_ALPHAS, _HOLT_BETAS)
        ]
    return min(candidates, key=lambda c: _sse(values, c, warm))


def predict(fitted: Fitted, history: Series, horizon: int) -> F64:
    """`fitted`'s forecast of the next `horizon` periods after `history`."""
    p = fitted.params
    if fitted.method == "sba":
        return sba(history, horizon, p["alpha"])
    if fitted.method == "croston":
        return croston(history, horizon, p["alpha"])
    if fitted.method == "holt":
        return holt(history, horizon, p["alpha"], p["beta"])
    if fitted.method == "holt_winters" and fitted.period is not None:
        if len(history) >= 2 * fitted.period:
            return holt_winters(history, horizon, fitted.period, p["alpha"], p["beta"], p["gamma"])
        return holt(history, horizon, p["alpha"], p["beta"])
    return naive(history, horizon)


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin errors of a method and of the naive forecast over the same origins."""

    method: str
    kind: str
    origins: int
    horizon: int
    mae: float
    rmse: float
    mase: float
    naive_mae: float
    naive_rmse: float
    naive_mase: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, rounded."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def backtest(
    history: Series, *, horizon: int = 1, origins: int = 28, period: int | None = None
) -> Backtest:
    """Fits at each of the last `origins` origins and scores `horizon`-period forecasts."""
    values = np.asarray(history, dtype=np.float64)
    first = len(values) - origins - horizon + 1
    if first < 8:
        raise ValueError(
            f"a backtest of {origins} origins {horizon} ahead needs more than "
            f"{origins + horizon + 6} periods, not {len(values)}"
        )
    errors: list[float] = []
    naive_errors: list[float] = []
    method = kind = ""
    for origin in range(first, first + origins):
        train, actual = values[:origin], values[origin : origin + horizon]
        fitted = fit(train, period)
        method, kind = fitted.method, fitted.kind
        errors.extend((predict(fitted, train, horizon) - actual).tolist())
        naive_errors.extend((naive(train, horizon) - actual).tolist())
    scale = float(np.abs(np.diff(values[:first])).mean()) or 1.0
    mine, theirs = np.abs(errors), np.abs(naive_errors)
    return Backtest(
        method,
        kind,
        origins,
        horizon,
        float(mine.mean()),
        float(np.sqrt((np.asarray(errors) ** 2).mean())),
        float(mine.mean()) / scale,
        float(theirs.mean()),
        float(np.sqrt((np.asarray(naive_errors) ** 2).mean())),
        float(theirs.mean()) / scale,
    )
