"""Demand forecasting methods for one product's demand per period (a day, a shift, a week).

Written here rather than taken from statsmodels (a large dependency for four small recursions
whose behaviour we must be able to state exactly):

- **Naive**: the last period's demand for every future period (the benchmark to beat).
- **Croston (1972)** for intermittent demand (many zero periods): the non-zero demand sizes `z`
  and the intervals between them `p` are smoothed separately, each only when a demand occurs,
  with the same constant `alpha`: `z <- z + alpha (d - z)`, `p <- p + alpha (q - p)` (`q`: periods
  since the last demand); the forecast per period is `z / p`. Initialised with the first demand
  and the first interval.
- **SBA** (Syntetos & Boylan 2005): Croston's `z / p` is biased upwards; multiplied by
  `1 - alpha / 2` it is approximately unbiased. The default for intermittent and lumpy series.
- **Holt (1957)**, linear trend: level `l` and trend `b`,
  `l <- alpha d + (1 - alpha)(l + b)`, `b <- beta (l - l_prev) + (1 - beta) b`; the forecast
  `h` periods ahead is `l + h b`, never below zero. Initialised with the first value and the
  mean first difference of the first few periods.
- **Holt-Winters (additive)** when the series repeats with a known period `m` (the days of a
  week): level, trend and `m` seasonal terms, `s <- gamma (d - l) + (1 - gamma) s`; forecast
  `l + h b + s[(t + h) mod m]`, never below zero. Needs two full seasons.

Each function takes the history (oldest first) and returns the forecast for the next `horizon`
periods. Smoothing constants are chosen by `cloud.forecast.select` (a small grid, in-sample
one-step squared error), not fixed here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["croston", "holt", "holt_winters", "naive", "one_step", "sba"]

F64 = NDArray[np.float64]
#: A demand history, oldest first.
Series = Sequence[float] | F64


def naive(history: Series, horizon: int) -> F64:
    """The last period's demand for every future period."""
    last = float(history[-1]) if len(history) else 0.0
    return np.full(horizon, last)


def _croston_rate(history: Series, alpha: float) -> float:
    size: float | None = None
    interval: float | None = None
    since = 0
    for demand in history:
        since += 1
        if demand > 0:
            if size is None or interval is None:
                size, interval = float(demand), float(since)
            else:
                size += alpha * (demand - size)
                interval += alpha * (since - interval)
            since = 0
    if size is None or interval is None:
        return 0.0
    return size / interval


def croston(history: Series, horizon: int, alpha: float = 0.1) -> F64:
    """Croston's method: smoothed demand size over smoothed interval, flat."""
    return np.full(horizon, _croston_rate(history, alpha))


def sba(history: Series, horizon: int, alpha: float = 0.1) -> F64:
    """Syntetos-Boylan approximation: Croston corrected for its bias, flat."""
    return np.full(horizon, _croston_rate(history, alpha) * (1.0 - alpha / 2.0))


def _holt_state(history: Series, alpha: float, beta: float) -> tuple[float, float]:
    values = np.asarray(history, dtype=np.float64)
    level = float(values[0])
    first = values[: min(len(values), 4)]
    trend = float(np.diff(first).mean()) if len(first) > 1 else 0.0
    for demand in values[1:]:
        previous = level
        level = alpha * float(demand) + (1.0 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1.0 - beta) * trend
    return level, trend


def holt(history: Series, horizon: int, alpha: float = 0.3, beta: float = 0.1) -> F64:
    """Holt's linear trend method, not below zero."""
    if not len(history):
        return np.zeros(horizon)
    level, trend = _holt_state(history, alpha, beta)
    ahead = np.arange(1, horizon + 1, dtype=np.float64)
    return np.maximum(level + ahead * trend, 0.0)


def holt_winters(
    history: Series,
    horizon: int,
    period: int,
    alpha: float = 0.3,
    beta: float = 0.05,
    gamma: float = 0.2,
) -> F64:
    """Additive Holt-Winters with season length `period` (needs two full seasons)."""
    values = np.asarray(history, dtype=np.float64)
    if period < 2 or len(values) < 2 * period:
        raise ValueError(f"Holt-Winters needs two seasons of {period}, got {len(values)} periods")
    first, second = values[:period], values[period : 2 * period]
    level = float(first.mean())
    trend = float((second.mean() - first.mean()) / period)
    season = first - level
    for t in range(period, len(values)):
        demand = float(values[t])
        k = t % period
        previous = level
        level = alpha * (demand - season[k]) + (1.0 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1.0 - beta) * trend
        season[k] = gamma * (demand - level) + (1.0 - gamma) * season[k]
    ahead = np.arange(1, horizon + 1)
    phase = (len(values) + ahead - 1) % period
    return np.maximum(level + ahead * trend + season[phase], 0.0)


def one_step(
    method: str, history: Series, params: dict[str, float], period: int | None = None
) -> F64:
    """The one-step-ahead forecasts of `method` over `history` in one pass.

    Element `t` is the forecast of period `t` made from the periods before it (NaN while the
    method has no state yet): what fitting the constants scores, without refitting per point.
    """
    values = np.asarray(history, dtype=np.float64)
    out = np.full(len(values), np.nan)
    if method in ("sba", "croston"):
        alpha = params["alpha"]
        factor = 1.0 - alpha / 2.0 if method == "sba" else 1.0
        size: float | None = None
        interval = 0.0
        since = 0
        for t, demand in enumerate(values):
            if size is not None:
                out[t] = factor * size / interval
            since += 1
            if demand > 0:
                if size is None:
                    size, interval = float(demand), float(since)
                else:
                    size += alpha * (demand - size)
                    interval += alpha * (since - interval)
                since = 0
        return out
    if method == "holt":
        alpha, beta = params["alpha"], params["beta"]
        level = float(values[0]) if len(values) else 0.0
        first = values[: min(len(values), 4)]
        trend = float(np.diff(first).mean()) if len(first) > 1 else 0.0
        for t in range(1, len(values)):
            out[t] = max(level + trend, 0.0)
            previous = level
            level = alpha * float(values[t]) + (1.0 - alpha) * (level + trend)
            trend = beta * (level - previous) + (1.0 - beta) * trend
        return out
    if method == "holt_winters" and period is not None and len(values) >= 2 * period:
        alpha, beta, gamma = params["alpha"], params["beta"], params["gamma"]
        first, second = values[:period], values[period : 2 * period]
        level = float(first.mean())
        trend = float((second.mean() - first.mean()) / period)
        season = first - level
        for t in range(period, len(values)):
            k = t % period
            out[t] = max(level + trend + season[k], 0.0)
            previous = level
            level = alpha * (float(values[t]) - season[k]) + (1.0 - alpha) * (level + trend)
            trend = beta * (level - previous) + (1.0 - beta) * trend
            season[k] = gamma * (float(values[t]) - level) + (1.0 - gamma) * season[k]
        return out
    out[1:] = values[:-1]  # naive
    return out
