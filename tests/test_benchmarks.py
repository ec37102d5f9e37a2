"""The benchmark harness: figures are compared with the issue's targets, and a book is reused only when it is the
same book (size, months, seed). Nothing here times anything."""

from __future__ import annotations

import json

from benchmarks.run import MONTHS, generated, to_markdown
from benchmarks.stage import SEED


def _size(accounts: int, build_s: float, peak_mb: float, page_s: float) -> dict:
    return {"accounts": accounts, "months": MONTHS, "stages": [
        {"stage": "generate", "wall_s": 1.0, "cpu_s": 1.0, "peak_mb": 10.0, "rows": 5},
        {"stage": "build", "wall_s": build_s, "cpu_s": build_s, "peak_mb": peak_mb, "dbt_wall_s": 10.0,
         "dbt_model_s": 20.0},
        {"stage": "dashboard", "wall_s": 1.0, "cpu_s": 1.0, "peak_mb": 10.0,
         "page_best_s": {"overview": 0.1, "declines": page_s}}]}


def test_results_state_each_figure_against_its_target():
    text = to_markdown([_size(100_000, 100.0, 2000.0, 0.2), _size(1_000_000, 1200.0, 9000.0, 1.3)], demo_s=58.0)
    assert "generation included): 58 s (target 60 s: met)" in text
    assert "build at 1,000,000: 1200 s (target 900 s: MISSED), peak 9,000 MB (target 12,288 MB: met)" in text
    assert "growth 100k -> 1M: 12.0x time (target at most 11x: MISSED)" in text
    assert "slowest dashboard page at 1,000,000: declines 1.30 s (target 1 s: MISSED)" in text
    assert "slowest dashboard page at 100,000: declines 0.20 s (target 1 s: met)" in text
    assert "dbt overhead at 1,000,000: 0.50 (wall / sum of model times; target 1.3: met)" in text


def test_a_book_is_reused_only_when_it_is_the_same_book(tmp_path):
    assert not generated(tmp_path, 10_000)
    (tmp_path / "manifest.json").write_text(json.dumps({"accounts": 10_000, "months": MONTHS, "seed": SEED}))
    assert generated(tmp_path, 10_000)
    assert not generated(tmp_path, 100_000)
    (tmp_path / "manifest.json").write_text(json.dumps({"accounts": 10_000, "months": MONTHS, "seed": SEED + 1}))
    assert not generated(tmp_path, 10_000)


def test_model_quality_is_stated_per_book_and_across_books_against_the_targets():
    from benchmarks.accuracy import to_markdown

    good = {"wape": 0.30, "naive_wape": 1.0, "oracle_wape": 0.28, "bottom_up_wape": 0.31, "coverage_80": 0.80,
            "coverage_95": 0.93, "auc": 0.80, "oracle_auc": 0.81, "ece": 0.02, "capture": 0.4, "rule_capture": 0.3}
    off = {**good, "wape": 0.40, "coverage_80": 0.70, "ece": 0.05}  # 43 % above the oracle, narrow bands
    text = to_markdown({1: good, 2: off}, 2000, 24)
    assert "| 1 | 30.0% | 100.0% | 28.0% | +70.0% | +7.1% | 80.0% |" in text
    assert "| 2 | 40.0% | 100.0% | 28.0% | +60.0% | +42.9% | 70.0% |" in text
    assert "- daily WAPE within 15 % of the oracle's: 1 of 2 books; across books MISSED" in text  # mean gap 25 %
    assert "- daily WAPE >= 25 % better than seasonal naive: 2 of 2 books; across books met" in text
    assert "- 80 % intervals cover 75-85 %: 1 of 2 books; across books met" in text  # mean 75 %
    assert "- risk ECE <= 0.03: 1 of 2 books; across books MISSED" in text
