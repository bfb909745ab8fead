"""The public seller page: a shop's ratings, with charts drawn as inline SVG on the server
(no script, no external resource), its operating company's list status and grade."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from registry import seller_ratings
from registry.clock import local_date
from registry.db import db
from registry.runtime import current_runtime

bp = Blueprint("sellers", __name__, template_folder="templates")

CHART_WIDTH = 360
BAR_HEIGHT = 18
BAR_GAP = 6
LABEL_WIDTH = 28
TREND_HEIGHT = 120


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | float | None
    x: float
    y: float
    width: float
    height: float
    caption: str


def distribution_bars(distribution: dict[str, int]) -> list[Bar]:
    """Horizontal bars, 5 stars at the top, scaled to the largest count."""
    largest = max(distribution.values()) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 48
    bars = []
    for row, score in enumerate(("5", "4", "3", "2", "1")):
        count = distribution.get(score, 0)
        bars.append(
            Bar(
                label=f"{score}★",
                value=count,
                x=LABEL_WIDTH,
                y=row * (BAR_HEIGHT + BAR_GAP),
                width=round(room * count / largest, 1),
                height=BAR_HEIGHT,
                caption=str(count),
            )
        )
    return bars


def trend_bars(trend: list[dict[str, Any]]) -> list[Bar]:
    """One column per month, its height the month's average overall score (0 to 5)."""
    if not trend:
        return []
    step = CHART_WIDTH / len(trend)
    bars = []
    for column, month in enumerate(trend):
        average = month["average"]
        height = round((TREND_HEIGHT - 20) * (average or 0) / 5, 1)
        bars.append(
            Bar(
                label=month["month"][2:],
                value=average,
                x=round(column * step + 3, 1),
                y=round(TREND_HEIGHT - 20 - height, 1),
                width=round(step - 6, 1),
                height=height,
                caption="–" if average is None else f"{average:.1f}",
            )
        )
    return bars


def window_title(days: int | None) -> str:
    """A summary window's heading (the windows are configuration)."""
    if days is None:
        return _("All time")
    if days == 365:
        return _("Last 12 months")
    return _("Last %(days)d days", days=days)


@bp.get("/sellers/<platform>/<path:shop_id>")
def seller_page(platform: str, shop_id: str) -> ResponseReturnValue:
    """A shop's ratings for consumers; no login.

    ---
    get:
      operationId: sellerPage
      summary: A shop's ratings as a web page, with charts
      parameters:
        - name: platform
          in: path
          required: true
          schema:
            type: string
          description: the platform's code, or its member id
      responses:
        200: HtmlPage
        429: PageRateLimited
      problems: [404]
    """
    runtime = current_runtime()
    policy = seller_ratings.policy_from_settings(runtime.settings)
    view = seller_ratings.public_seller_view(
        db.session,
        platform,
        shop_id,
        policy=policy,
        today=local_date(runtime.clock.now()),
    )
    if view is None:
        abort(404)
    lifetime = view["windows"]["lifetime"]
    return render_template(
        "seller.html",
        view=view,
        as_of=date.fromisoformat(view["as_of"]),
        same_buyer_days=policy.same_buyer_days,
        distribution=distribution_bars(lifetime["distribution"]) if lifetime["shown"] else [],
        trend=trend_bars(view["trend"]),
        chart_width=CHART_WIDTH,
        trend_height=TREND_HEIGHT,
        bar_step=BAR_HEIGHT + BAR_GAP,
        window_titles={name: window_title(days) for name, days in policy.windows()},
    )
