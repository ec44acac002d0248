"""Weekly availability: the compact form learners type (`Mon-Fri 18:00-21:00, Sat 10-14`), as UTC week minutes.

Learners type hours in their own timezone; matching compares learners in different ones. So every window is
converted to UTC and folded onto one week counted in minutes from Monday 00:00 UTC: two learners' overlap is then
integer arithmetic. A window may run past the end of that week (`Sun 22:00-02:00` in UTC+0 ends on Monday): such an
interval keeps `end > MINUTES_PER_WEEK` rather than being cut in two, so a week is a circle, not a line.

Daylight saving makes the UTC form depend on the date, so the conversion uses a `reference` week: each local
window of that week is converted on its own day, with `zoneinfo`. Callers keep the text and the timezone and parse
again when the week matters (a London learner's `Mon 18-21` is 18:00 UTC in January and 17:00 UTC in July).

Pure: no clock. Any text either parses or raises a `ValueError` whose message says what to type instead.

`week` holds the arithmetic of UTC week minutes, `parsing` the compact form, `words` the way back (`describe`).
"""

from __future__ import annotations

from bot.pairing.availability.parsing import EXAMPLE, MAX_PARTS, MAX_TEXT, clean, parse_availability
from bot.pairing.availability.week import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    Availability,
    WeeklyInterval,
    merge_intervals,
    overlap_intervals,
    overlap_minutes,
    week_line,
)
from bot.pairing.availability.words import DAY_NAMES, NO_HOURS, describe

__all__ = [
    "DAY_NAMES",
    "EXAMPLE",
    "MAX_PARTS",
    "MAX_TEXT",
    "MINUTES_PER_DAY",
    "MINUTES_PER_WEEK",
    "NO_HOURS",
    "Availability",
    "WeeklyInterval",
    "clean",
    "describe",
    "merge_intervals",
    "overlap_intervals",
    "overlap_minutes",
    "parse_availability",
    "week_line",
]
