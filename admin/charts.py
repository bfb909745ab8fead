"""Bar charts drawn on the server as SVG: no script, no chart library, nothing fetched at
run time. A template draws the bars from these numbers, each chart with a title and a
data table beside it for screen readers."""

from __future__ import annotations

import math
from dataclasses import dataclass

WIDTH = 480
HEIGHT = 160
BOTTOM = 20  # room for the labels under the columns


# The labels' font (the console's CSS sets 10px text in the charts): a label of N characters
# takes about N * CHARACTER_WIDTH pixels, a CJK character about twice that.
CHARACTER_WIDTH = 6.0


@dataclass(frozen=True)
class Column:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    # Whether the label is drawn under the column: where labels would run into each other,
    # only every so many are (the data table beside the chart has them all).
    labelled: bool = True


def label_width(label: str) -> float:
    return sum(CHARACTER_WIDTH * (2 if ord(c) > 0x2E7F else 1) for c in label)


def columns(
    values: list[tuple[str, int]], *, width: int = WIDTH, height: int = HEIGHT
) -> list[Column]:
    """One column per value, scaled to the largest; an empty list draws nothing. Labels are
    thinned to every k-th column so that no two overlap."""
    if not values:
        return []
    largest = max(v for _, v in values) or 1
    step = width / len(values)
    room = height - BOTTOM - 14  # and room above the tallest for its number
    widest = max(label_width(label) for label, _ in values) + 4  # a gap between labels
    every = max(1, math.ceil(widest / step))
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
                # Counted from the last column, so the latest day or month is always named.
                labelled=(len(values) - 1 - index) % every == 0,
            )
        )
    return drawn


def is_empty(drawn: list[Column]) -> bool:
    """Nothing to show: no column, or every one zero."""
    return not any(column.value for column in drawn)
