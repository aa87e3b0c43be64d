"""Demand forecasts: the method fits the series, and its backtest beats the naive forecast on a
generated seasonal history and on an intermittent one (the errors printed); the command reads
the order history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from cloud.forecast import backtest, classify, fit, predict
from cloud.forecast.history import daily_demand
from cloud.forecast.methods import croston, holt, one_step, sba

WEEK = np.array([1.3, 1.2, 1.1, 1.0, 0.9, 0.3, 0.2])


def _seasonal(days: int = 364, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return np.maximum(0, 40 * WEEK[t % 7] + 0.03 * t + rng.normal(0, 3, days)).round()


def _intermittent(days: int = 364, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(days) < 0.25, rng.poisson(30, days), 0).astype(float)


def test_the_backtest_beats_the_naive_forecast(capsys: pytest.CaptureFixture[str]) -> None:
    seasonal = backtest(_seasonal(), horizon=7, origins=28, period=7)
    intermittent = backtest(_intermittent(), horizon=7, origins=28, period=7)
    with capsys.disabled():
        for name, test in (("seasonal", seasonal), ("intermittent", intermittent)):
            print(f"\n{name}: {test.method}: {test.as_dict()}")
    assert seasonal.method == "holt_winters"
    assert seasonal.mae < 0.5 * seasonal.naive_mae and seasonal.rmse < seasonal.naive_rmse
    assert seasonal.mase < 1 < seasonal.naive_mase
    assert intermittent.kind == "intermittent" and intermittent.method == "sba"
    # MAE rewards forecasting zero (or the last zero) on intermittent demand, which no stock
    # should be sized by; the squared error scores the level a kanban loop needs
    assert intermittent.rmse < 0.8 * intermittent.naive_rmse


def test_the_methods_do_what_their_texts_say() -> None:
    demand = [0, 0, 6, 0, 0, 0, 6, 0, 0, 6]  # a demand of 6 every 3 to 4 periods
    assert croston(demand, 3, alpha=0.5)[0] == pytest.approx(6 / 3.25)
    assert sba(demand, 1, alpha=0.5)[0] == pytest.approx(6 / 3.25 * 0.75)
    trend = [10.0 + 2 * t for t in range(20)]
    assert holt(trend, 3, 0.5, 0.5).tolist() == pytest.approx([50, 52, 54])
    steps = one_step("holt", trend, {"alpha": 0.5, "beta": 0.5})
    assert np.isnan(steps[0]) and steps[5] == pytest.approx(20.0)
    assert classify(demand) == "intermittent" and classify(trend) == "smooth"
    assert classify([0, 1, 0, 0, 90, 0, 0, 2]) == "lumpy"
    fitted = fit(_seasonal(), 7)
    ahead = predict(fitted, _seasonal(), 7)
    assert ahead.argmin() in (5, 6) or ahead[5:].mean() < ahead[:5].mean()  # the weekend dip
    assert (predict(fit([0.0] * 30), [0.0] * 30, 3) == 0).all()


def test_the_command_reads_the_order_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from taktline.cli import main

    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    history = _seasonal(140)
    orders = [
        {"id": f"O-{n}", "product": "DOOR", "quantity": int(q),
         "due": (start + timedelta(days=n)).isoformat()}
        for n, q in enumerate(history) if q > 0
    ]  # fmt: skip
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": orders}))
    first, series = daily_demand(orders)
    assert first == start.date() and series["DOOR"][: len(history)] == history.tolist()
    assert main(["forecast", "--orders", str(path), "--days", "7", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["products"]
    assert result["method"] == "holt_winters" and len(result["forecast"]) == 7
    assert result["backtest"]["mase"] < result["backtest"]["naive_mase"]
    assert main(["forecast", "--orders", str(path), "--product", "NOPE"]) == 2
    assert capsys.readouterr().err.strip() == "taktline forecast: no orders of product 'NOPE'"
