"""Small server-rendered bar charts: geometry for an inline SVG, a sentence for those who cannot
see it. No chart framework reaches the browser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

WIDTH = 600  # the viewBox's width; the SVG scales to its box
GAP = 0.15  # of each slot left empty between bars


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # the bar's own tooltip
    kind: str  # a CSS class suffix: what the bar stands for


@dataclass(frozen=True)
class BarChart:
    """Bars side by side, scaled to the largest value, in a viewBox of WIDTH × height."""

    bars: tuple[Bar, ...]
    height: int
    top: float  # the value a full-height bar stands for
    text: str  # what the chart says, in words
    width: ClassVar[int] = WIDTH

    @classmethod
    def of(
        cls,
        values: Sequence[float],
        titles: Sequence[str],
        kinds: Sequence[str],
        text: str,
        *,
        height: int = 60,
    ) -> BarChart:
        top = max(values, default=0) or 1
        slot = WIDTH / max(len(values), 1)
        bars = []
        for index, value in enumerate(values):
            # A bar of zero still shows as a hairline, so an empty slot reads as "none".
            tall = max(height * value / top, 1.0 if value == 0 else 2.0)
            bars.append(
                Bar(
                    round(index * slot + slot * GAP / 2, 2),
                    round(height - tall, 2),
                    round(slot * (1 - GAP), 2),
                    round(tall, 2),
                    titles[index],
                    kinds[index],
                )
            )
        return cls(tuple(bars), height, top, text)
