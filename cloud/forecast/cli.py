"""`taktline forecast`: each product's demand forecast from the order history, with its backtest.

The history is the orders the cloud's event log holds (`--db`: the planning ledger, rebuilt from
the log), or an orders file (`--orders`, the format of docs/schemas/orders.schema.json) — a
product's quantity due per day in the plant's time zone (`--plant`, else UTC). Per product it
prints the series' class (smooth, erratic, intermittent, lumpy), the method chosen and its
constants, the next `--days` days, and a rolling-origin backtest (`--origins` forecasts
`--horizon` days ahead) beside the naive forecast's errors (docs/forecast.md). Exit 0; 2 when an
input is invalid; products with too short a history are listed as such.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

__all__ = ["configure", "run"]


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 366:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 366")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the `forecast` options."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", help="the cloud's event log: its orders are the history")
    source.add_argument("--orders", type=Path, help="an orders file as the history (JSON)")
    parser.add_argument("--plant", type=Path, help="the plant model (its time zone for days)")
    parser.add_argument("--product", help="only this product")
    parser.add_argument("--days", type=_count, default=14, help="days to forecast (default 14)")
    parser.add_argument("--period", type=_count, default=7, help="season length in days (7)")
    parser.add_argument("--horizon", type=_count, default=7, help="backtest: days ahead (7)")
    parser.add_argument("--origins", type=_count, default=28, help="backtest: origins (28)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _orders(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.orders is not None:
        document = json.loads(args.orders.read_text())
        return list(document["orders"] if isinstance(document, dict) else document)
    from cloud.status import ResourceStatus
    from cloud.store import EventLog

    database = args.db if "://" in args.db else Path(args.db)
    if isinstance(database, Path) and not database.exists():
        raise ValueError(f"no event log at {database}")
    status = ResourceStatus()
    with EventLog(database) as log:
        status.rebuild(log.replay())
    return list(status.planning.orders.values())


def run(args: argparse.Namespace) -> int:
    """0 when forecast; 2 when an input is invalid."""
    from cloud.forecast import backtest, fit, predict
    from cloud.forecast.history import daily_demand

    try:
        timezone = "UTC"
        if args.plant is not None:
            from cloud.plant import load_plant

            timezone = load_plant(args.plant).timezone
        first, series = daily_demand(_orders(args), timezone)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"taktline forecast: {exc}", file=sys.stderr)
        return 2
    if args.product is not None:
        if args.product not in series:
            print(f"taktline forecast: no orders of product {args.product!r}", file=sys.stderr)
            return 2
        series = {args.product: series[args.product]}
    results: list[dict[str, Any]] = []
    for product, history in series.items():
        fitted = fit(history, args.period)
        start = first + timedelta(days=len(history))
        result: dict[str, Any] = {
            "product": product,
            "days_of_history": len(history),
            "kind": fitted.kind,
            "method": fitted.method,
            "params": fitted.params,
            "from": start.isoformat(),
            "forecast": [round(float(v), 2) for v in predict(fitted, history, args.days)],
        }
        try:
            test = backtest(history, horizon=args.horizon, origins=args.origins, period=args.period)
            result["backtest"] = test.as_dict()
        except ValueError as exc:
            result["backtest"] = None
            result["note"] = str(exc)
        results.append(result)
    if args.json:
        json.dump({"products": results}, sys.stdout)
        print()
        return 0
    for r in results:
        params = ", ".join(f"{k} {v:g}" for k, v in r["params"].items())
        print(f"{r['product']}: {r['days_of_history']} days, {r['kind']}: {r['method']} ({params})")
        shown = " ".join(f"{v:g}" for v in r["forecast"])
        print(f"  next {len(r['forecast'])} days from {r['from']}: {shown}")
        test = r["backtest"]
        if test is None:
            print(f"  no backtest: {r['note']}")
        else:
            print(
                f"  backtest, {test['origins']} origins {test['horizon']} days ahead: "
                f"MAE {test['mae']:g} RMSE {test['rmse']:g} MASE {test['mase']:g}; "
                f"naive MAE {test['naive_mae']:g} RMSE {test['naive_rmse']:g} "
                f"MASE {test['naive_mase']:g}"
            )
    return 0
