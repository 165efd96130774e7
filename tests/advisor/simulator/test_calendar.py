"""Local time: fixed offsets, a time zone's daylight-saving change, holidays; scalar and
vectorised answers agree."""

from __future__ import annotations

import datetime as dt

import numpy as np

from advisor.simulator.calendar import DAY, HOUR, Calendar, day_number

# 2025-10-20 (Monday) to 2025-11-03 UTC: Berlin leaves summer time on Sunday 26 October.
MONDAY = 1_760_918_400.0
END_OF_SUMMER_TIME = 1_761_440_400.0  # 2025-10-26 01:00 UTC = 03:00 CEST -> 02:00 CET


def berlin() -> Calendar:
    return Calendar.of_zone("Europe/Berlin", MONDAY, MONDAY + 14 * DAY)


def test_a_time_zone_changes_offset_at_its_daylight_saving_transition_to_the_second() -> None:
    calendar = berlin()
    assert calendar.transitions() == [(END_OF_SUMMER_TIME, 2 * HOUR, 1 * HOUR)]
    assert calendar.offset(END_OF_SUMMER_TIME - 1) == 2 * HOUR
    assert calendar.offset(END_OF_SUMMER_TIME) == 1 * HOUR


def test_eight_oclock_local_is_an_hour_later_in_utc_after_the_change() -> None:
    calendar = berlin()
    friday, monday = day_number(dt.date(2025, 10, 24)), day_number(dt.date(2025, 10, 27))
    assert calendar.at(friday, 8.0) == friday * DAY + 6 * HOUR
    assert calendar.at(monday, 8.0) == monday * DAY + 7 * HOUR
    for day in (friday, monday):
        t = calendar.at(day, 8.0)
        assert (calendar.day(t), calendar.hour(t)) == (day, 8.0)


def test_the_vectorised_answers_are_the_scalar_ones() -> None:
    calendar = berlin().with_holidays(frozenset({day_number(dt.date(2025, 10, 31))}))
    times = MONDAY + np.arange(0, 14 * DAY, 1234.5)
    assert np.array_equal(calendar.offsets_at(times), [calendar.offset(t) for t in times])
    assert np.array_equal(calendar.days(times), [calendar.day(t) for t in times])
    assert np.allclose(calendar.hours(times), [calendar.hour(t) for t in times])
    days = np.unique(calendar.days(times))
    assert np.array_equal(calendar.workdays(days), [calendar.is_workday(int(d)) for d in days])
    hours = np.array([[6.0], [8.5], [17.5]])
    expected = [[calendar.at(int(d), float(h)) for d in days] for h in hours[:, 0]]
    assert np.array_equal(calendar.at_many(days[None, :], hours), expected)


def test_a_holiday_is_a_day_off_like_a_weekend() -> None:
    halloween = day_number(dt.date(2025, 10, 31))  # a Friday
    calendar = Calendar.fixed(1.0, frozenset({halloween}))
    assert not calendar.is_workday(halloween)
    assert calendar.is_workday(halloween - 1)
    assert not calendar.is_workday(halloween + 1)  # Saturday
    assert calendar.is_day_off(calendar.at(halloween, 10.0))


def test_a_fixed_offset_has_no_transitions_and_shifts_every_time_alike() -> None:
    calendar = Calendar.fixed(-5.0)
    assert calendar.transitions() == []
    assert calendar.at(day_number(dt.date(2025, 10, 27)), 8.0) == MONDAY + 7 * DAY + 13 * HOUR
