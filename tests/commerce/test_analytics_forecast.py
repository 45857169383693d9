"""The forecast beats seasonal naive on history with a known weekly and holiday signal."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from commerce.analytics import forecast, history
from commerce.analytics.calendar import holiday_kind


def known_signal(seed: int = 3, days: int = 600, end: date = date(2026, 11, 28)) -> pd.Series:
    """50/day with a weekly shape, a slow swing, ×2 on 双11 days, Poisson noise."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    weekly = np.array([0.8, 0.85, 0.9, 1.0, 1.1, 1.25, 1.1])[idx.day_of_week]
    swing = 1 + 0.2 * np.sin(np.arange(days) * 2 * np.pi / 365)
    hol = np.array([2.0 if holiday_kind(d.date()) == "double11" else 1.0 for d in idx])
    return pd.Series(rng.poisson(50 * weekly * swing * hol).astype(float), index=idx)


def test_forecast_beats_seasonal_naive_on_a_known_seasonal_signal():
    # Five noisy series, twelve weekly origins each: one holdout of 84 days is itself noisy.
    runs = [forecast.backtest(known_signal(seed), horizon=7, origins=12) for seed in range(5)]
    assert all(bt["origins"] == 12 for bt in runs)
    assert np.mean([bt["model"]["mase"] for bt in runs]) < 1.0
    for bt in runs:
        assert bt["model"]["mase"] < bt["naive"]["mase"]
        assert bt["model"]["wape"] < bt["naive"]["wape"]


def test_holiday_factor_is_learned_and_applied_ahead():
    y = known_signal(end=date(2026, 10, 28))  # 双11 2026 lies ahead
    f = forecast.forecast_series(y, horizon=20)
    assert f.holiday_factors["double11"] == pytest.approx(2.0, rel=0.25)
    mean = dict(zip(f.days, f.mean, strict=True))
    assert mean["2026-11-05"] > 1.5 * mean["2026-11-15"]
    assert all(lo <= m <= hi for lo, m, hi in zip(f.lower, f.mean, f.upper, strict=True))
    # the interval widens with the horizon
    assert f.upper[-1] - f.lower[-1] >= f.upper[0] - f.lower[0]


def test_forecast_beats_naive_on_the_generated_demo_history():
    skus = [(1, "j", "大枣", 2990), (2, "w", "核桃", 2580)]
    sim = history.simulate(
        skus, days=500, customers=4000, orders=60_000, seed=4, end=date(2026, 8, 31)
    )
    lines, orders = sim["lines"], sim["orders"]
    li = lines[lines["sku"] == 0].join(orders["day"], on="order")
    units = li.groupby("day")["qty"].sum().reindex(range(500), fill_value=0)
    y = pd.Series(units.to_numpy(float), index=pd.date_range(sim["day0"], periods=500, freq="D"))
    bt = forecast.backtest(y, horizon=7, origins=6)
    assert bt["model"]["wape"] < bt["naive"]["wape"]
    assert bt["model"]["mase"] < bt["naive"]["mase"]


def test_short_or_empty_history_and_bad_horizon():
    y = pd.Series([3.0] * 10, index=pd.date_range("2026-01-01", periods=10, freq="D"))
    f = forecast.forecast_series(y, 7)
    assert f.mean == [3.0] * 7 and "too short" in f.model
    assert forecast.backtest(y)["origins"] == 0
    with pytest.raises(ValueError):
        forecast.forecast_series(y, 0)
    naive = forecast.seasonal_naive(np.arange(14, dtype=float), 9)
    assert naive.tolist() == [7, 8, 9, 10, 11, 12, 13, 7, 8]


def test_backtest_says_how_much_of_the_gain_comes_from_holiday_weeks():
    # the 12 weekly origins before 28 Nov cover 双11 (a ×2 jump seasonal naive cannot see)
    # and National Day (no jump in this signal): 4 holiday weeks, 8 ordinary ones
    runs = [forecast.backtest(known_signal(seed), horizon=7, origins=12) for seed in range(2)]
    for bt in runs:
        g = bt["gain"]
        assert g["holiday"]["weeks"] + g["ordinary"]["weeks"] == bt["origins"] == 12
        assert g["holiday"]["weeks"] == 4
        assert g["holiday"]["naive_wape"] > g["holiday"]["model_wape"]
        # per week, a holiday week saves far more than an ordinary one
        per_h = g["holiday"]["saved_units"] / g["holiday"]["weeks"]
        per_o = g["ordinary"]["saved_units"] / g["ordinary"]["weeks"]
        assert per_h > 2 * per_o
        assert 0.5 < g["holiday_share"] <= 1.0


def test_gain_split_arithmetic_and_no_gain():
    split = {
        "holiday": {"weeks": 1, "model_err": 10.0, "naive_err": 40.0, "actual": 100.0},
        "ordinary": {"weeks": 3, "model_err": 50.0, "naive_err": 60.0, "actual": 200.0},
    }
    g = forecast.gain_split(split)
    assert g["holiday"]["saved_units"] == 30.0 and g["ordinary"]["saved_units"] == 10.0
    assert g["holiday_share"] == 0.75 and g["holiday"]["naive_wape"] == 0.4
    split["holiday"]["model_err"] = 45.0
    split["ordinary"]["model_err"] = 61.0
    assert forecast.gain_split(split)["holiday_share"] is None  # the model saved nothing
    empty = {
        w: {"weeks": 0, "model_err": 0.0, "naive_err": 0.0, "actual": 0.0} for w in forecast.WEEKS
    }
    g = forecast.gain_split(empty)
    assert g["holiday"]["model_wape"] is None and g["holiday_share"] is None
