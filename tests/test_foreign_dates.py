"""Dates from non-English feeds: RFC 822 with Portuguese, Spanish, French, German and Italian
day and month names keep the publisher's offset (issue 11 point 10)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.dates import calendar_date, parse_date

NEW_YORK = ZoneInfo("America/New_York")
BRASILIA = timezone(-timedelta(hours=3))

# The names as each language's feeds write them (accents and all), written out here rather
# than taken from bot.feeds.dates: full names, then the usual abbreviations.
MONTHS = {
    "pt": [
        ("janeiro", "jan"), ("fevereiro", "fev"), ("março", "mar"), ("abril", "abr"),
        ("maio", "mai"), ("junho", "jun"), ("julho", "jul"), ("agosto", "ago"),
        ("setembro", "set"), ("outubro", "out"), ("novembro", "nov"), ("dezembro", "dez"),
    ],
    "es": [
        ("enero", "ene"), ("febrero", "feb"), ("marzo", "mar"), ("abril", "abr"),
        ("mayo", "may"), ("junio", "jun"), ("julio", "jul"), ("agosto", "ago"),
        ("septiembre", "sep"), ("octubre", "oct"), ("noviembre", "nov"), ("diciembre", "dic"),
    ],
    "fr": [
        ("janvier", "janv"), ("février", "févr"), ("mars", "mars"), ("avril", "avr"),
        ("mai", "mai"), ("juin", "juin"), ("juillet", "juil"), ("août", "août"),
        ("septembre", "sept"), ("octobre", "oct"), ("novembre", "nov"), ("décembre", "déc"),
    ],
    "de": [
        ("Januar", "Jan"), ("Februar", "Feb"), ("März", "Mär"), ("April", "Apr"),
        ("Mai", "Mai"), ("Juni", "Jun"), ("Juli", "Jul"), ("August", "Aug"),
        ("September", "Sep"), ("Oktober", "Okt"), ("November", "Nov"), ("Dezember", "Dez"),
    ],
    "it": [
        ("gennaio", "gen"), ("febbraio", "feb"), ("marzo", "mar"), ("aprile", "apr"),
        ("maggio", "mag"), ("giugno", "giu"), ("luglio", "lug"), ("agosto", "ago"),
        ("settembre", "set"), ("ottobre", "ott"), ("novembre", "nov"), ("dicembre", "dic"),
    ],
}  # fmt: skip
# Monday first: full name, abbreviation.
DAYS = {
    "pt": [
        ("segunda-feira", "seg"), ("terça-feira", "ter"), ("quarta-feira", "qua"),
        ("quinta-feira", "qui"), ("sexta-feira", "sex"), ("sábado", "sáb"), ("domingo", "dom"),
    ],
    "es": [
        ("lunes", "lun"), ("martes", "mar"), ("miércoles", "mié"), ("jueves", "jue"),
        ("viernes", "vie"), ("sábado", "sáb"), ("domingo", "dom"),
    ],
    "fr": [
        ("lundi", "lun"), ("mardi", "mar"), ("mercredi", "mer"), ("jeudi", "jeu"),
        ("vendredi", "ven"), ("samedi", "sam"), ("dimanche", "dim"),
    ],
    "de": [
        ("Montag", "Mo"), ("Dienstag", "Di"), ("Mittwoch", "Mi"), ("Donnerstag", "Do"),
        ("Freitag", "Fr"), ("Samstag", "Sa"), ("Sonntag", "So"),
    ],
    "it": [
        ("lunedì", "lun"), ("martedì", "mar"), ("mercoledì", "mer"), ("giovedì", "gio"),
        ("venerdì", "ven"), ("sabato", "sab"), ("domenica", "dom"),
    ],
}  # fmt: skip


def test_brazilian_date_keeps_its_offset() -> None:
    """The issue's `Seg, 24 Set 2018 19:42:40 -0300` is 24 September at -03:00, zone or not."""
    for zone in (None, NEW_YORK):
        value = parse_date("Seg, 24 Set 2018 19:42:40 -0300", zone)
        assert value == datetime(2018, 9, 24, 19, 42, 40, tzinfo=BRASILIA)
        assert isinstance(value, datetime)
        assert value.utcoffset() == timedelta(hours=-3)
        assert calendar_date(value) == date(2018, 9, 24)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Sáb, 1 Dez 2018", date(2018, 12, 1)),
        ("24 août 2018", date(2018, 8, 24)),
        ("Mo, 24. Sep. 2018", date(2018, 9, 24)),
    ],
)
def test_foreign_date_only_values_stay_dates(raw: str, expected: date) -> None:
    """A foreign calendar date with no time stays a plain date."""
    value = parse_date(raw, NEW_YORK)
    assert value == expected
    assert not isinstance(value, datetime)


@given(
    language=st.sampled_from(sorted(MONTHS)),
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
    clock=st.times().map(lambda value: value.replace(microsecond=0)),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: m - m % 15),
    long_month=st.booleans(),
    weekday_form=st.sampled_from(["none", "long", "short"]),
    dotted=st.booleans(),
    case=st.sampled_from([str.lower, str.capitalize, str.upper]),
)
def test_day_and_month_names_of_five_languages(
    language: str,
    day: date,
    clock: time,
    offset_minutes: int,
    long_month: bool,
    weekday_form: str,
    dotted: bool,
    case: object,
) -> None:
    """Any date written with the day and month names of pt, es, fr, de or it parses to the same
    instant, in the publisher's own offset."""
    assert callable(case)
    offset = timezone(timedelta(minutes=offset_minutes))
    moment = datetime.combine(day, clock, tzinfo=offset)
    month = MONTHS[language][moment.month - 1][0 if long_month else 1]
    if dotted and not long_month:
        month += "."
    weekday = ""
    if weekday_form != "none":
        weekday = DAYS[language][moment.weekday()][0 if weekday_form == "long" else 1] + ", "
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    raw = (
        f"{case(weekday)}{moment.day:02d} {case(month)} {moment.year} "
        f"{moment:%H:%M:%S} {sign}{hours:02d}{minutes:02d}"
    )
    value = parse_date(raw, None)
    assert value == moment, raw
    assert isinstance(value, datetime)
    assert value.utcoffset() == timedelta(minutes=offset_minutes), raw
