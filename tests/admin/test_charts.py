"""The console's server-drawn charts: labels that never run into each other, and a chart
with nothing to show says so."""

import re

from admin import charts
from tests.console_helpers import seed, sign_in


def labelled(drawn):
    return [c for c in drawn if c.labelled]


def test_labels_are_thinned_so_that_none_overlaps_and_the_last_is_always_named():
    days = [(f"11-{d:02d}", d) for d in range(1, 31)]  # 30 days on 480 px
    drawn = charts.columns(days)
    shown = labelled(drawn)
    assert len(shown) < len(days) and shown[-1].label == "11-30"
    for left, right in zip(shown, shown[1:], strict=False):
        assert right.x - left.x >= charts.label_width(left.label)
    # Few columns: every label shows.
    assert all(c.labelled for c in charts.columns(days[:8]))
    # Chinese labels are twice as wide: thinned sooner.
    grades = [(f"{g}级信用", 1) for g in "ABCDEFGHIJKL"]
    shown = labelled(charts.columns(grades))
    assert len(shown) < len(grades)
    for left, right in zip(shown, shown[1:], strict=False):
        assert right.x - left.x >= charts.label_width(left.label)


def test_an_empty_chart_is_empty():
    assert charts.is_empty([]) and charts.is_empty(charts.columns([("A", 0), ("B", 0)]))
    assert not charts.is_empty(charts.columns([("A", 0), ("B", 2)]))


def test_the_dashboard_says_when_a_chart_has_nothing_to_show(client, session, runtime, clock):
    seed(session, runtime, clock.now())
    sign_in(client, "bob")
    page = client.get("/console/").get_data(as_text=True)
    grades = re.search(r'<svg id="chart-grades".*?</svg>', page, re.S).group(0)
    # Said in the page's language (which this test does not set): the empty mark, no bar.
    assert '<text class="empty"' in grades and "<rect" not in grades
