"""The weekly digest, pure: its schedule and week boundaries (in a timezone), trending topics, and rendering held to
Discord's embed limits however busy the week, with nothing in it that could ping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.challenges.digest import (
    DigestData,
    DigestSchedule,
    OpenChallenge,
    Solver,
    bounded_lines,
    latest_slot,
    next_slot,
    plain,
    previous_slot,
    render_digest,
    trending,
    week_key,
)
from bot.core import limits

MONDAY_9 = DigestSchedule(0, 9)
START = datetime(2026, 11, 30, 9, tzinfo=UTC)  # a Monday
END = START + timedelta(days=7)


def test_latest_slot_is_the_moment_at_or_before_now() -> None:
    assert latest_slot(MONDAY_9, END) == END
    assert latest_slot(MONDAY_9, END - timedelta(seconds=1)) == START
    assert latest_slot(MONDAY_9, END + timedelta(days=6, hours=23)) == END
    assert next_slot(MONDAY_9, END) == END + timedelta(days=7)
    assert next_slot(MONDAY_9, END - timedelta(seconds=1)) == END
    assert week_key(MONDAY_9, END) == "2026-W50"
    assert week_key(MONDAY_9, START) == "2026-W49"


def test_a_sunday_late_slot_is_keyed_by_its_own_week() -> None:
    sunday_23 = DigestSchedule(6, 23)
    slot = latest_slot(sunday_23, datetime(2026, 12, 7, 1, tzinfo=UTC))  # early Monday: Sunday's slot still current
    assert slot == datetime(2026, 12, 6, 23, tzinfo=UTC)
    assert week_key(sunday_23, slot) == "2026-W49"


def test_week_boundaries_follow_the_local_calendar_across_a_dst_change() -> None:
    berlin = DigestSchedule(0, 9, "Europe/Berlin")
    # Clocks go back on Sunday 25 October 2026: Monday 09:00 is 07:00 UTC before, 08:00 UTC after.
    after = latest_slot(berlin, datetime(2026, 10, 26, 12, tzinfo=UTC))
    assert after == datetime(2026, 10, 26, 8, tzinfo=UTC)
    before = previous_slot(berlin, after)
    assert before == datetime(2026, 10, 19, 7, tzinfo=UTC)
    assert after - before == timedelta(hours=169)
    # 08:30 UTC on that Monday is 09:30 in Berlin: its slot; 07:30 UTC is 08:30 there: the week before.
    assert latest_slot(berlin, datetime(2026, 10, 26, 7, 30, tzinfo=UTC)) == before


def test_a_zone_east_of_utc_keys_by_its_own_date() -> None:
    # Monday 01:00 in Auckland is Sunday in UTC: the key is Auckland's ISO week, Monday's.
    auckland = DigestSchedule(0, 1, "Pacific/Auckland")
    slot = latest_slot(auckland, datetime(2026, 12, 6, 13, tzinfo=UTC))
    assert slot.weekday() == 6  # Sunday, in UTC
    assert week_key(auckland, slot) == "2026-W50"


def test_schedule_refuses_impossible_days_and_hours() -> None:
    with pytest.raises(ValueError, match="day"):
        DigestSchedule(7, 9)
    with pytest.raises(ValueError, match="hour"):
        DigestSchedule(0, 24)


def test_trending_is_the_rise_against_last_week() -> None:
    rising = trending({"Docker": 5, "Django": 3, "Redis": 2, "CORS": 1}, {"Docker": 1, "Django": 3, "CORS": 2})
    assert [(trend.title, trend.this_week, trend.last_week) for trend in rising] == [("Docker", 5, 1), ("Redis", 2, 0)]
    # Ties go to the busier topic, then by name.
    tied = trending({"B": 3, "A": 3, "C": 4}, {"C": 1})
    assert [trend.title for trend in tied] == ["C", "A", "B"]


def test_plain_names_cannot_ping_or_format() -> None:
    shown = plain("**@everyone** <@123> <@&9> [x](http://evil) _a_\nnext")
    assert "@everyone" not in shown
    assert "<@" not in shown
    assert "\n" not in shown
    assert re.search(r"(?<!\\)[*_\[\]()]", shown) is None


def test_bounded_lines_counts_what_does_not_fit() -> None:
    lines = [f"• line {number} " + "x" * 80 for number in range(100)]
    text = bounded_lines(lines, 250)
    assert len(text) <= limits.EMBED_FIELD_VALUE
    shown = text.count("• line")
    assert text.endswith(f"…and {250 - shown} more")
    assert bounded_lines(["a", "b"]) == "a\nb"
    assert bounded_lines(["a"], 3) == "a\n…and 2 more"


def _huge_week(size: int, text: str) -> DigestData:
    return DigestData(
        start=START,
        end=END,
        logged=size,
        solved=size,
        needing_help=tuple(
            OpenChallenge(
                number, text * 10, (text, text, text, text), START, f"https://discord.com/channels/1/2/{number}"
            )
            for number in range(size)
        ),
        open_total=size * 3,
        solvers=tuple(Solver(text * 10, size - number) for number in range(size)),
        solvers_total=size * 2,
        topics_this_week={f"{text}{number}": number + 2 for number in range(size)},
        topics_last_week={f"{text}{number}": 1 for number in range(size)},
        new_pairs=size,
        sessions_held=size,
        ratings=(size, size, size),
        waiting_by_track={"frontend": size, "backend": size},
    )


def test_a_huge_week_fits_discords_limits_and_says_how_many_more() -> None:
    spec = render_digest(_huge_week(5000, "@everyone **ünïcødé** <@1> " * 4), DigestSchedule(3, 23, "Africa/Lagos"))
    assert spec.problems() == []
    assert spec.total_length <= limits.EMBED_TOTAL
    fields = {field.name: field.value for field in spec.fields}
    assert fields["Still needing help (oldest first)"].endswith("more")
    assert re.search(r"…and \d+ more$", fields["Solutions accepted"])
    assert re.search(r"…and \d+ more$", fields["Trending topics"])
    everything = spec.title + spec.description + spec.footer + "".join(f.name + f.value for f in spec.fields)
    assert "@everyone" not in everything
    assert "<@1>" not in everything


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=400), text=st.text(min_size=1, max_size=120))
def test_any_week_renders_within_limits(size: int, text: str) -> None:
    spec = render_digest(_huge_week(size, text), MONDAY_9)
    assert spec.problems() == []


def test_a_quiet_week_still_renders_with_every_section_that_has_something() -> None:
    spec = render_digest(DigestData(start=START, end=END), MONDAY_9)
    assert spec.description == "No challenges were logged or solved this week."
    assert [field.name for field in spec.fields] == ["Pairing", "Waiting for a partner"]
    assert spec.title == "Weekly digest: Mon 30 Nov to Mon 7 Dec 2026"
    assert "2026-W50" in spec.footer


def test_open_challenges_link_to_their_messages_with_their_topics() -> None:
    data = DigestData(
        start=START,
        end=END,
        needing_help=(
            OpenChallenge(7, "CORS [blocked]", ("CORS", "Django"), START, "https://discord.com/channels/1/2/3"),
            OpenChallenge(9, "No link", (), START),
        ),
        open_total=2,
    )
    (help_field, *_rest) = render_digest(data, MONDAY_9).fields
    first, second = help_field.value.split("\n")
    assert first.startswith(r"• [#7 CORS \[blocked\]](https://discord.com/channels/1/2/3) · CORS, Django")
    assert second.startswith("• #9 No link (since")
