"""Bar charts drawn on the server as SVG: no script, no chart library, nothing fetched at
run time. A template draws the bars from these numbers, each chart with a title and a
data table beside it for screen readers."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 480
HEIGHT = 160
BOTTOM = 20  # room for the labels under the columns


@dataclass(frozen=True)
class Column:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


def columns(
    values: list[tuple[str, int]], *, width: int = WIDTH, height: int = HEIGHT
) -> list[Column]:
    """One column per value, scaled to the largest; an empty list draws nothing."""
    if not values:
        return []
    largest = max(v for _, v in values) or 1
    step = width / len(values)
    room = height - BOTTOM - 14  # and room above the tallest for its number
    drawn = []
    for index, (label, value) in enumerate(values):
        bar = round(room * value / largest, 1)
        drawn.append(
            Column(
                label=label,
                value=value,
                x=round(index * step + 2, 1),
                y=round(height - BOTTOM - bar, 1),
                width=round(max(step - 4, 1), 1),
                height=bar,
            )
        )
    return drawn
