"""The dashboard's sections: small numbers hidden trust-wide, SVG text escaped, CSV rows."""

from __future__ import annotations

import random
import statistics
from datetime import date

from services.domain.reports.figures import median_and_p90
from services.domain.reports.messages import Figures, Report, ReportScope, ReviewHours
from services.web.reports.charts import Bar, horizontal_bars
from services.web.reports.presenter import csv_rows, sections, shown


def report(trust_wide: bool) -> Report:
    """Two schools' (or one school's) figures with small and large counts."""
    figures = Figures(
        incidents=12,
        by_status={"open": 3, "closed": 9},
        per_month=[("2026-09", 4), ("2026-10", 8)],
        by_route={"referral": 2, "in_house": 10},
        police_outcomes={"outcome_21": 1},
        review_hours=ReviewHours(3, 2.0, 24.4, (2, 0, 1, 0, 0)),
        reviews_on_time=2,
    )
    scope = ReportScope((1, 2), ("A", "B"), date(2026, 9, 1), date(2026, 10, 31), trust_wide)
    return Report(scope, figures)


def test_counts_from_one_to_four_are_hidden_only_trust_wide() -> None:
    assert [shown(n, True) for n in (0, 1, 4, 5)] == ["0", "<5", "<5", "5"]
    assert [shown(n, False) for n in (0, 1, 4, 5)] == ["0", "1", "4", "5"]
    trust = {s.id: s for s in sections(report(True))}
    assert [r.shown for r in trust["routes"].rows][:2] == ["<5", "10"]
    assert [r.shown for r in trust["months"].rows] == ["<5", "8"]
    one = {s.id: s for s in sections(report(False))}
    assert [r.shown for r in one["routes"].rows][:2] == ["2", "10"]
    rows = csv_rows(report(True))
    assert rows[0] == ["section", "label", "value"]
    assert ["Police outcomes", "Outcome 21", "<5"] in rows
    reviews = {r.label: r.shown for r in one["reviews"].rows}
    assert reviews["Median"] == "2.0 hours" and reviews["90th percentile"] == "24.4 hours"
    assert reviews["Under 4 hours"] == "2" and reviews["1 to 2 days"] == "1"
    assert {r.label: r.shown for r in trust["reviews"].rows}["Under 4 hours"] == "<5"


def test_chart_text_is_escaped_and_styles_are_attributes_only() -> None:
    svg = str(horizontal_bars("c", "A <b> chart", [Bar("<script>x</script>", 3, "3")]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "style=" not in svg and 'role="img"' in svg


def test_median_and_p90_equal_pythons_statistics_from_four_order_statistics() -> None:
    rng = random.Random(7)
    for size in range(1, 60):
        values = [rng.uniform(0, 100) for _ in range(size)]
        expected_p90 = (
            values[0] if size == 1 else statistics.quantiles(values, n=10, method="inclusive")[8]
        )
        assert median_and_p90(values) == (statistics.median(values), expected_p90)
    assert median_and_p90([]) == (None, None)
