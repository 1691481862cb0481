"""Feed dates keep the publisher's calendar date; nothing unparseable raises."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.dates import calendar_date, from_utc_struct, parse_date

NEW_YORK = ZoneInfo("America/New_York")
EDT = timezone(timedelta(hours=-4))
EST = timezone(timedelta(hours=-5))
MST = timezone(timedelta(hours=-7))


def test_reference_release_keeps_its_offset_and_calendar_date() -> None:
    """22:30 at -04:00 on 3 April stays 3 April, with or without a feed zone."""
    for zone in (None, NEW_YORK):
        value = parse_date("Thu, 03 Apr 2014 22:30:00 -0400", zone)
        assert value == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)
        assert isinstance(value, datetime)
        assert value.utcoffset() == timedelta(hours=-4)
        assert calendar_date(value) == date(2014, 4, 3)


def test_utc_time_moves_into_the_feed_zone() -> None:
    """A GMT stamp after midnight UTC is still 3 April for a New York publisher."""
    value = parse_date("Fri, 04 Apr 2014 02:30:00 GMT", NEW_YORK)
    assert isinstance(value, datetime)
    assert (value.hour, value.minute, value.utcoffset()) == (22, 30, timedelta(hours=-4))
    assert calendar_date(value) == date(2014, 4, 3)


def test_utc_time_without_a_zone_stays_utc() -> None:
    """Without a configured zone there is nothing to move a UTC stamp into."""
    value = parse_date("Fri, 04 Apr 2014 02:30:00 GMT", None)
    assert value == datetime(2014, 4, 4, 2, 30, tzinfo=UTC)
    assert calendar_date(value) == date(2014, 4, 4)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tue, 24 Jul 2018 17:13 EDT", datetime(2018, 7, 24, 17, 13, tzinfo=EDT)),
        ("Sun, 09 Feb 2020 15:55:05 EST", datetime(2020, 2, 9, 15, 55, 5, tzinfo=EST)),
        (
            "Fri, 07 Feb 2020 23:10:00 PST",
            datetime(2020, 2, 7, 23, 10, tzinfo=timezone(timedelta(hours=-8))),
        ),
        ("Thu, 03 Apr 2014 22:30:00 UT", datetime(2014, 4, 3, 22, 30, tzinfo=UTC)),
        ("Thu, 03 Apr 2014 22:30:00 Z", datetime(2014, 4, 3, 22, 30, tzinfo=UTC)),
        ("Thu, 03 Apr 14 22:30:00 -0400", datetime(2014, 4, 3, 22, 30, tzinfo=EDT)),
        ("Thu, 3 Apr 2014 22:30:00 -0400 (EDT)", datetime(2014, 4, 3, 22, 30, tzinfo=EDT)),
        (
            "Thu, 03 Apr 2014 22:30:00 CEST",
            datetime(2014, 4, 3, 22, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("Thu, 03 Apr 2014 22:30:00 -0000", datetime(2014, 4, 3, 22, 30, tzinfo=UTC)),
    ],
)
def test_rfc822_dates_with_named_zones_and_missing_seconds(raw: str, expected: datetime) -> None:
    """RFC 822 dates as NASA, ScienceDaily and Phys.org write them are read exactly."""
    value = parse_date(raw, None)
    assert value == expected
    assert isinstance(value, datetime)
    assert value.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2017-06-15T10:29:47-07:00", datetime(2017, 6, 15, 10, 29, 47, tzinfo=MST)),
        ("2015-01-21T02:41:55Z", datetime(2015, 1, 21, 2, 41, 55, tzinfo=UTC)),
        ("2014-04-03T22:30:00.000-04:00", datetime(2014, 4, 3, 22, 30, tzinfo=EDT)),
        ("20140403T223000Z", datetime(2014, 4, 3, 22, 30, tzinfo=UTC)),
        ("2014-04-03 22:30", datetime(2014, 4, 3, 22, 30, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_iso8601_dates(raw: str, expected: datetime) -> None:
    """ISO 8601 with an offset, Z, or none (read as UTC without a zone)."""
    value = parse_date(raw, None)
    assert value == expected
    assert isinstance(value, datetime)
    assert value.utcoffset() == expected.utcoffset()


def test_iso8601_without_offset_is_wall_time_in_the_feed_zone() -> None:
    """An offset-less time from a New York feed means New York time."""
    value = parse_date("2014-04-03T22:30:00", NEW_YORK)
    assert value == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)


def test_iso8601_z_moves_into_the_feed_zone() -> None:
    """A Z time is converted into the feed zone, keeping the instant."""
    value = parse_date("2014-04-04T02:30:00Z", NEW_YORK)
    assert value == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)
    assert isinstance(value, datetime)
    assert value.utcoffset() == timedelta(hours=-4)


@pytest.mark.parametrize("raw", ["2023-12-16", "20231216", "Sat, 16 Dec 2023", "16 Dec 2023"])
def test_date_only_values_stay_dates(raw: str) -> None:
    """A calendar date with no time stays a plain date, not midnight UTC."""
    value = parse_date(raw, NEW_YORK)
    assert value == date(2023, 12, 16)
    assert not isinstance(value, datetime)
    assert calendar_date(value) == date(2023, 12, 16)


@pytest.mark.parametrize(
    "raw",
    [
        "Xyz, 24 Set 2018 19:42:40 -0300",  # a weekday no language we read has
        "Seg, 24 Sextembro 2018 19:42:40 -0300",  # a month no language we read has
        "",
        "   ",
        "not a date",
        "2014-13-45",
        "2014-04",
        "Thu, 03 Apr 2014 22:30:00 +9999",
        "Thu, 32 Apr 2014 22:30:00 -0400",
    ],
)
def test_unparseable_dates_give_none(raw: str) -> None:
    """Dates nobody can read give None instead of an error or a wrong date."""
    assert parse_date(raw, NEW_YORK) is None


def test_feedparser_utc_tuple_is_a_fallback_moved_into_the_zone() -> None:
    """feedparser's UTC 9-tuple becomes an aware time in the feed zone; junk gives None."""
    parsed = time.strptime("2014-04-04 02:30:00", "%Y-%m-%d %H:%M:%S")
    value = from_utc_struct(parsed, NEW_YORK)
    assert value == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)
    assert from_utc_struct(None, NEW_YORK) is None
    assert from_utc_struct(("2014", 4, 4, 2, 30, 0), None) is None
    assert from_utc_struct((2014, 2, 30, 0, 0, 0), None) is None


@given(st.text(max_size=60), st.sampled_from([None, NEW_YORK, ZoneInfo("Australia/Brisbane")]))
def test_parse_date_never_raises(raw: str, zone: ZoneInfo | None) -> None:
    """Any string gives None, a date, or an aware datetime: never an exception."""
    value = parse_date(raw, zone)
    assert value is None or isinstance(value, date)
    if isinstance(value, datetime):
        assert value.tzinfo is not None


offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).filter(lambda m: m != 0)
moments = st.datetimes(
    min_value=datetime.fromisoformat("1971-01-01"), max_value=datetime.fromisoformat("2099-12-31")
).map(lambda moment: moment.replace(microsecond=0))


@given(moments, offsets)
def test_rfc822_and_iso_round_trip_keep_instant_and_offset(moment: datetime, minutes: int) -> None:
    """A time written either way with a non-UTC offset comes back with that same offset."""
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    for raw in (format_datetime(aware), aware.isoformat()):
        value = parse_date(raw, NEW_YORK)
        assert value == aware
        assert isinstance(value, datetime)
        assert value.utcoffset() == aware.utcoffset()
        assert calendar_date(value) == moment.date()
