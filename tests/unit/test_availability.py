"""Weekly availability: every accepted form, UTC conversion with daylight saving, wrap-around, merging, overlap,
the words `describe` writes back, and properties over free text."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.pairing.availability import (
    MAX_PARTS,
    MINUTES_PER_WEEK,
    NO_HOURS,
    Availability,
    WeeklyInterval,
    describe,
    merge_intervals,
    overlap_intervals,
    overlap_minutes,
    parse_availability,
)

JANUARY = datetime(2026, 1, 14, 12, tzinfo=UTC)  # a Wednesday, winter in the north
JULY = datetime(2026, 7, 15, 12, tzinfo=UTC)
HINT = r"Try `Mon-Fri 18:00-21:00, Sat 10-14`"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def at(day: int, hour: int, minute: int = 0) -> int:
    """Minutes since Monday 00:00 UTC."""
    return (day * 24 + hour) * 60 + minute


def span(day: int, start_hour: float, end_hour: float) -> WeeklyInterval:
    """A UTC interval on `day` from `start_hour` to `end_hour` (which may pass 24: past midnight)."""
    start = at(day, 0) + round(start_hour * 60)
    return WeeklyInterval(start, at(day, 0) + round(end_hour * 60))


def utc(text: str, reference: datetime = JANUARY) -> tuple[WeeklyInterval, ...]:
    return parse_availability(text, "UTC", reference=reference).intervals


# --- the forms --------------------------------------------------------------------------------------------


def test_the_issue_example_in_utc() -> None:
    assert utc("Mon-Fri 18:00-21:00, Sat 10-14") == (
        *(span(day, 18, 21) for day in (MON, TUE, WED, THU, FRI)),
        span(SAT, 10, 14),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weekends 9-12", (span(SAT, 9, 12), span(SUN, 9, 12))),
        ("weekend 9-12", (span(SAT, 9, 12), span(SUN, 9, 12))),
        ("daily 20-22", tuple(span(day, 20, 22) for day in range(7))),
        ("every day 20-22", tuple(span(day, 20, 22) for day in range(7))),
        ("Everyday 20:00-22:00", tuple(span(day, 20, 22) for day in range(7))),
        ("weekdays 7-8", tuple(span(day, 7, 8) for day in range(5))),
        ("Tue 7pm-9pm", (span(TUE, 19, 21),)),
        ("tuesday 7-9pm", (span(TUE, 19, 21),)),  # the end's pm carries over to the start
        ("Mon 11-1pm", (span(MON, 11, 13),)),  # but not when 23:00-13:00 would make no sense
        ("Mon 12am-6:30am", (span(MON, 0, 6.5),)),
        ("Mon to Fri 9 to 5", tuple(span(day, 9, 17) for day in range(5))),  # office hours, not 20 hours
        ("Sat 10-2", (span(SAT, 10, 14),)),
        ("Sat 9:30-5:30", (span(SAT, 9.5, 17.5),)),
        ("Wed 08:00-03:00", (span(WED, 8, 27),)),  # written in full: a window that ends at dawn
        ("Wed 18-2", (span(WED, 18, 26),)),
        ("Mon 12pm-1pm", (span(MON, 12, 13),)),
        ("Mon noon-2pm", (span(MON, 12, 14),)),
        ("mon,wed,fri 06:30-08", (span(MON, 6.5, 8), span(WED, 6.5, 8), span(FRI, 6.5, 8))),
        ("MON, WED AND FRI 6:30-8", (span(MON, 6.5, 8), span(WED, 6.5, 8), span(FRI, 6.5, 8))),
        ("Monday 18-24:00", (span(MON, 18, 24),)),
        ("Saturday 22-midnight", (span(SAT, 22, 24),)),
        ("Saturdays 10 to 14", (span(SAT, 10, 14),)),
        ("Thurs from 9 until 11", (span(THU, 9, 11),)),
        ("Sat 10\u201314", (span(SAT, 10, 14),)),  # an en dash, as phones type it
        ("Mon 9-12, 14-17", (span(MON, 9, 12), span(MON, 14, 17))),
        ("Mon 0-24", (span(MON, 0, 24),)),
        ("  mon   9-10  ", (span(MON, 9, 10),)),
    ],
)
def test_forms(text: str, expected: tuple[WeeklyInterval, ...]) -> None:
    assert utc(text) == expected


def test_day_ranges_can_wrap_through_sunday() -> None:
    assert utc("Fri-Mon 10-11") == (span(MON, 10, 11), span(FRI, 10, 11), span(SAT, 10, 11), span(SUN, 10, 11))


def test_the_text_is_kept_cleaned_and_the_timezone_canonical() -> None:
    availability = parse_availability("  Mon-Fri   18:00-21:00 ", "africa/lagos", reference=JANUARY)
    assert availability.text == "Mon-Fri 18:00-21:00"
    assert availability.timezone == "Africa/Lagos"
    assert availability.hours() == 15.0


def test_city_names_are_accepted_as_the_timezone() -> None:
    assert parse_availability("Mon 9-10", "Abuja", reference=JANUARY).timezone == "Africa/Lagos"


# --- wrap-around and merging ------------------------------------------------------------------------------


def test_a_window_past_midnight_ends_the_next_day() -> None:
    assert utc("Wed 22:00-02:00") == (span(WED, 22, 26),)


def test_sunday_night_wraps_into_monday_as_one_interval() -> None:
    (interval,) = utc("Sun 22:00-02:00")
    assert interval == WeeklyInterval(at(SUN, 22), at(SUN, 22) + 4 * 60)
    assert interval.end > MINUTES_PER_WEEK


def test_a_local_monday_morning_can_be_sunday_in_utc() -> None:
    # Lagos is UTC+1: Monday 00:00-02:00 there is Sunday 23:00 to Monday 01:00 UTC.
    availability = parse_availability("Mon 00:00-02:00", "Africa/Lagos", reference=JANUARY)
    assert availability.intervals == (WeeklyInterval(at(SUN, 23), at(SUN, 23) + 120),)


def test_overlapping_and_touching_windows_merge() -> None:
    assert utc("Mon 9-12, Mon 11-14") == (span(MON, 9, 14),)
    assert utc("Mon 9-12, 12-14") == (span(MON, 9, 14),)
    assert utc("Sun 22-24, Mon 0-2") == (WeeklyInterval(at(SUN, 22), at(SUN, 22) + 240),)
    assert utc("daily 0-24") == (WeeklyInterval(0, MINUTES_PER_WEEK),)


def test_merge_intervals_normalizes_any_input() -> None:
    # The last ends the week and the first starts it: one interval through Monday 00:00.
    raw = [WeeklyInterval(100, 200), WeeklyInterval(150, 300), WeeklyInterval(10000, 10080), WeeklyInterval(0, 10)]
    assert merge_intervals(raw) == (WeeklyInterval(100, 300), WeeklyInterval(10000, 10090))
    assert merge_intervals([WeeklyInterval(10000, 10100), WeeklyInterval(0, 10)]) == (WeeklyInterval(10000, 10100),)
    assert merge_intervals([]) == ()


# --- daylight saving --------------------------------------------------------------------------------------


def test_new_york_winter_and_summer_give_different_utc() -> None:
    winter = parse_availability("Mon 18-21", "America/New_York", reference=JANUARY)
    summer = parse_availability("Mon 18-21", "America/New_York", reference=datetime(2026, 3, 18, tzinfo=UTC))
    assert winter.intervals == (span(MON, 23, 26),)  # EST, UTC-5
    assert summer.intervals == (span(MON, 22, 25),)  # EDT, UTC-4


def test_london_january_and_july_differ() -> None:
    assert parse_availability("Sat 10-14", "Europe/London", reference=JANUARY).intervals == (span(SAT, 10, 14),)
    assert parse_availability("Sat 10-14", "Europe/London", reference=JULY).intervals == (span(SAT, 9, 13),)


def test_each_day_of_the_week_with_the_change_is_converted_on_its_own() -> None:
    # New York springs forward on Sunday 8 March 2026: that Sunday's noon is an hour earlier in UTC.
    week = datetime(2026, 3, 4, tzinfo=UTC)
    intervals = parse_availability("daily 12-13", "America/New_York", reference=week).intervals
    assert intervals == (*(span(day, 17, 18) for day in range(6)), span(SUN, 16, 17))


def test_a_window_across_the_change_keeps_its_wall_clock_ends() -> None:
    # 00:00-04:00 on the night the clocks skip 02:00-03:00 lasts three real hours.
    week = datetime(2026, 3, 4, tzinfo=UTC)
    (interval,) = parse_availability("Sun 0-4", "America/New_York", reference=week).intervals
    assert interval == WeeklyInterval(at(SUN, 5), at(SUN, 8))


def test_a_window_wholly_in_the_skipped_hour_does_not_happen() -> None:
    week = datetime(2026, 3, 4, tzinfo=UTC)
    with pytest.raises(ValueError, match="do not exist"):
        parse_availability("Sun 02:00-03:00", "America/New_York", reference=week)
    others = parse_availability("Sat-Sun 02:00-03:00", "America/New_York", reference=week).intervals
    assert others == (span(SAT, 7, 8),)


# --- overlap ----------------------------------------------------------------------------------------------


def test_overlap_of_learners_in_different_zones() -> None:
    lagos = parse_availability("Mon-Fri 18:00-21:00", "Africa/Lagos", reference=JANUARY)  # 17-20 UTC
    nairobi = parse_availability("Mon-Fri 19:00-23:00", "Africa/Nairobi", reference=JANUARY)  # 16-20 UTC
    assert overlap_minutes(lagos, nairobi) == 5 * 3 * 60
    assert overlap_intervals(lagos, nairobi) == tuple(span(day, 17, 20) for day in range(5))
    assert overlap_minutes(lagos.intervals, nairobi.intervals) == overlap_minutes(nairobi, lagos)


def test_overlap_across_the_end_of_the_week() -> None:
    late = utc("Sun 22:00-02:00")
    early = utc("Mon 01:00-03:00")
    assert overlap_minutes(late, early) == 60
    assert overlap_intervals(late, early) == (span(MON, 1, 2),)


def test_no_overlap() -> None:
    assert overlap_minutes(utc("Mon 9-10"), utc("Tue 9-10")) == 0
    assert overlap_intervals(utc("Mon 9-10"), utc("Mon 10-11")) == ()


# --- describe ---------------------------------------------------------------------------------------------


def test_describe_groups_days_with_the_same_hours() -> None:
    availability = parse_availability("Mon-Fri 18:00-21:00, Sat 10-14", "Africa/Lagos", reference=JANUARY)
    assert (
        describe(availability.intervals, "Africa/Lagos", reference=JANUARY)
        == "Monday to Friday 18:00\u201321:00, Saturday 10:00\u201314:00"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("daily 20-22", "Every day 20:00\u201322:00"),
        ("weekends 9-12", "Saturday and Sunday 09:00\u201312:00"),
        ("mon,wed,fri 06:30-08", "Monday, Wednesday and Friday 06:30\u201308:00"),
        ("Sun 22:00-02:00", "Sunday 22:00\u201302:00"),
        ("Fri-Mon 10-11", "Friday to Monday 10:00\u201311:00"),
        ("Mon 9-12, 14-17, Tue 9-12", "Monday 09:00\u201312:00 and 14:00\u201317:00, Tuesday 09:00\u201312:00"),
        ("Sat 18-24", "Saturday 18:00\u201324:00"),
        ("daily 0-24", "Every day 00:00\u201324:00"),
    ],
)
def test_describe_in_words(text: str, words: str) -> None:
    assert describe(utc(text), "UTC", reference=JANUARY) == words


def test_describe_shows_an_overlap_in_each_learners_own_time() -> None:
    lagos = parse_availability("Mon-Fri 18:00-21:00", "Africa/Lagos", reference=JANUARY)
    nairobi = parse_availability("Mon-Fri 19:00-23:00", "Africa/Nairobi", reference=JANUARY)
    both = overlap_intervals(lagos, nairobi)
    assert describe(both, "Africa/Lagos", reference=JANUARY) == "Monday to Friday 18:00\u201321:00"
    assert describe(both, "Africa/Nairobi", reference=JANUARY) == "Monday to Friday 20:00\u201323:00"


def test_describe_in_a_week_the_clocks_change() -> None:
    spring = datetime(2026, 3, 25, tzinfo=UTC)  # London skips 01:00-02:00 on Sunday 29 March
    autumn = datetime(2026, 10, 21, tzinfo=UTC)  # and repeats 01:00-02:00 on Sunday 25 October
    skipped = parse_availability("Sun 1-3", "Europe/London", reference=spring)
    assert describe(skipped.intervals, "Europe/London", reference=spring) == "Sunday 02:00\u201303:00"
    for text in ("Sun 23-24", "daily 0-2", "Mon-Fri 18-21"):
        autumn_hours = parse_availability(text, "Europe/London", reference=autumn)
        words = describe(autumn_hours.intervals, "Europe/London", reference=autumn)
        assert parse_availability(words, "Europe/London", reference=autumn).intervals == autumn_hours.intervals
    sunday = parse_availability("Sun 23-24", "Europe/London", reference=autumn).intervals
    assert describe(sunday, "Europe/London", reference=autumn) == "Sunday 23:00\u201324:00"


def test_describe_of_nothing() -> None:
    assert describe((), "UTC", reference=JANUARY) == NO_HOURS


# --- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "when you are free"),
        ("   ", "when you are free"),
        (",,", "when you are free"),
        ("Funday 9-10", "`funday` is not a day"),
        ("Mon 25-26", "hours go from 0 to 24"),
        ("Mon 9-24:30", "hours go from 0 to 24"),
        ("Mon 9:75-10", "more than 59 minutes"),
        ("Mon 13pm-2pm", "from 1 to 12"),
        ("Mon 9-9", "empty range"),
        ("Mon 18:00-18:00", "empty range"),
        ("Mon 24-2", "cannot start a range"),
        ("Mon", "no hours"),
        ("Mon 9-10, Tue", "no hours"),
        ("18-21", "Which days"),
        ("Mon 9", "needs an end time"),
        ("Mon 9-", "needs an end time"),
        ("Mon 10h-12", "couldn't read `10h-12`"),
        ("Mon 9-10 \u00e9t\u00e9", "couldn't read"),
        ("weekdays-sun 9-10", "didn't expect `-`"),
    ],
)
def test_refusals_say_why_and_give_an_example(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=HINT) as caught:
        parse_availability(text, "UTC", reference=JANUARY)
    assert reason in str(caught.value)


def test_more_than_twenty_parts_is_refused() -> None:
    parse_availability(", ".join(["Mon 1-2"] * MAX_PARTS), "UTC", reference=JANUARY)
    with pytest.raises(ValueError, match=f"more than {MAX_PARTS} parts"):
        parse_availability(", ".join(["Mon 1-2"] * (MAX_PARTS + 1)), "UTC", reference=JANUARY)


def test_an_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Unknown timezone `Mars/Olympus`.*Africa/Lagos"):
        parse_availability("Mon 9-10", "Mars/Olympus", reference=JANUARY)


def test_a_naive_reference_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_availability("Mon 9-10", "UTC", reference=datetime(2026, 1, 1))  # noqa: DTZ001


# --- properties -------------------------------------------------------------------------------------------

ZONES = (
    "UTC",
    "Africa/Lagos",
    "Africa/Nairobi",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # half-hour daylight saving
    "Pacific/Chatham",  # +12:45, so local days straddle UTC days
    "Pacific/Kiritimati",  # +14
    "America/St_Johns",
)
DAY_WORDS = ("mon", "Tuesday", "wed", "thu", "Fri", "sat", "sunday")
references = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; timezones= makes them aware
    max_value=datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
# The weeks around the changes of the clocks, where conversion is hardest.
CHANGE_DAYS = [(3, 8), (3, 29), (4, 5), (10, 4), (10, 25), (11, 1)]  # New York, Europe, Lord Howe, both ways
change_weeks = st.sampled_from([datetime(2026, month, day, tzinfo=UTC) for month, day in CHANGE_DAYS]).flatmap(
    lambda day: st.integers(-7 * 24, 7 * 24).map(lambda hours: day + timedelta(hours=hours))
)


@st.composite
def clock(draw: st.DrawFn) -> str:
    hour = draw(st.integers(0, 24))
    minute = draw(st.sampled_from([0, 0, 15, 30, 45])) if hour < 24 else 0
    style = draw(st.sampled_from(["hour", "colon", "ampm"]))
    if style == "hour" and minute == 0:
        return str(hour)
    if style == "ampm" and hour < 24:
        twelve = hour % 12 or 12
        return (
            f"{twelve}:{minute:02d}{'am' if hour < 12 else 'pm'}"
            if minute
            else f"{twelve}{'am' if hour < 12 else 'pm'}"
        )
    return f"{hour:02d}:{minute:02d}"


@st.composite
def days(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["one", "range", "list", "group"]))
    if kind == "group":
        return draw(st.sampled_from(["weekdays", "weekends", "daily", "every day"]))
    if kind == "range":
        return f"{draw(st.sampled_from(DAY_WORDS))}-{draw(st.sampled_from(DAY_WORDS))}"
    if kind == "list":
        return ",".join(draw(st.lists(st.sampled_from(DAY_WORDS), min_size=1, max_size=4)))
    return draw(st.sampled_from(DAY_WORDS))


@st.composite
def availability_texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(days(), st.lists(st.tuples(clock(), clock()), min_size=1, max_size=2)), max_size=4))
    return ", ".join(f"{d} " + ", ".join(f"{a}-{b}" for a, b in hours) for d, hours in parts)


def assert_valid(intervals: tuple[WeeklyInterval, ...]) -> None:
    for interval in intervals:
        assert 0 <= interval.start < MINUTES_PER_WEEK
        assert interval.start < interval.end <= interval.start + MINUTES_PER_WEEK
    for before, after in itertools.pairwise(intervals):
        assert before.end < after.start  # sorted, apart, not touching
    if len(intervals) > 1:
        assert intervals[-1].end - MINUTES_PER_WEEK < intervals[0].start  # nor across the end of the week
    assert merge_intervals(intervals) == intervals


def parse_or_none(text: str, zone: str, reference: datetime) -> Availability | None:
    """The parse, or None when refused; a refusal must carry an example (any other exception fails the test)."""
    try:
        return parse_availability(text, zone, reference=reference)
    except ValueError as error:
        message = str(error)
    assert "Try `" in message
    return None


@given(st.text(max_size=80), st.sampled_from(ZONES), references)
def test_any_text_is_parsed_or_refused_with_a_value_error(text: str, zone: str, reference: datetime) -> None:
    availability = parse_or_none(text, zone, reference)
    if availability is not None:
        assert_valid(availability.intervals)


@given(
    availability_texts(),
    st.text(alphabet="-,:;/ &0123456789apmondtuesrh", max_size=6),
    st.sampled_from(ZONES),
    references,
)
def test_near_misses_are_parsed_or_refused(text: str, noise: str, zone: str, reference: datetime) -> None:
    availability = parse_or_none(text + noise, zone, reference)
    if availability is not None:
        assert_valid(availability.intervals)


@settings(max_examples=300)
@given(availability_texts(), st.sampled_from(ZONES), st.one_of(references, change_weeks))
def test_parse_describe_parse_gives_the_same_intervals(text: str, zone: str, reference: datetime) -> None:
    first = parse_or_none(text, zone, reference)
    assume(first is not None)
    assert first is not None
    assert_valid(first.intervals)
    words = describe(first.intervals, zone, reference=reference)
    again = parse_availability(words, zone, reference=reference)
    assert again.intervals == first.intervals, words


@given(
    st.lists(
        st.builds(
            lambda s, n: WeeklyInterval(s, s + n),
            st.integers(0, MINUTES_PER_WEEK - 1),
            st.integers(1, MINUTES_PER_WEEK),
        ),
        max_size=8,
    ),
    st.lists(
        st.builds(
            lambda s, n: WeeklyInterval(s, s + n),
            st.integers(0, MINUTES_PER_WEEK - 1),
            st.integers(1, MINUTES_PER_WEEK),
        ),
        max_size=8,
    ),
)
def test_overlap_properties(a: list[WeeklyInterval], b: list[WeeklyInterval]) -> None:
    left, right = merge_intervals(a), merge_intervals(b)
    assert_valid(left)
    both = overlap_intervals(left, right)
    assert_valid(both)
    minutes = overlap_minutes(left, right)
    assert minutes == overlap_minutes(right, left) == sum(interval.minutes for interval in both)
    assert minutes <= min(sum(i.minutes for i in left), sum(i.minutes for i in right))
    assert overlap_minutes(left, left) == sum(interval.minutes for interval in left)
    assert overlap_intervals(both, left) == both  # the overlap lies within each side


def weekly_intervals() -> st.SearchStrategy[WeeklyInterval]:
    return st.builds(
        lambda start, length: WeeklyInterval(start, start + length),
        st.integers(0, MINUTES_PER_WEEK - 1),
        st.integers(1, MINUTES_PER_WEEK),
    )


@given(st.lists(weekly_intervals(), min_size=1, max_size=6), st.sampled_from(ZONES), st.sampled_from([JANUARY, JULY]))
def test_describe_round_trips_any_intervals_in_a_week_without_a_change_of_clocks(
    raw: list[WeeklyInterval], zone: str, reference: datetime
) -> None:
    # Not only what this zone's learner typed: an overlap with someone else's hours, shown in this zone.
    intervals = merge_intervals(raw)
    words = describe(intervals, zone, reference=reference)
    assert parse_availability(words, zone, reference=reference).intervals == intervals, words
