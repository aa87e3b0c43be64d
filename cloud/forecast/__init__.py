"""Demand forecasting per product, each series with the method that fits it, backtested.

Croston/SBA for intermittent demand, Holt (and additive Holt-Winters) for trending and seasonal
demand.

`methods` (the recursions), `select` (classification, constants, rolling-origin backtest),
`history` (a product's demand per day from the planning ledger's orders). docs/forecast.md.
"""

from cloud.forecast.select import Backtest, Fitted, backtest, classify, fit, predict

__all__ = ["Backtest", "Fitted", "backtest", "classify", "fit", "predict"]
