"""When schedules are due: cron in IANA zones across DST changes, intervals on a fixed grid,
windows, one-time schedules, and what each catchup policy fires after downtime."""

from __future__ import annotations

import datetime as dt

import pytest

from dagy.scheduler.timing import Timing, check_cron, missed_to_fire, next_cron, next_due, zone


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # naive UTC, as the store keeps it


def fires(expression: str, tz: str, after: dt.datetime, n: int) -> list[dt.datetime]:
    out, at = [], after
    for _ in range(n):
        at = next_cron(expression, tz, at)
        out.append(at)
    return out


def test_a_daily_cron_in_new_york_keeps_its_wall_time_across_the_spring_change():
    # 2026-03-08: clocks go from 02:00 EST to 03:00 EDT; 09:00 local is 14:00 UTC, then 13:00 UTC.
    got = fires("0 9 * * *", "America/New_York", utc(2026, 3, 7, 0), 3)
    assert got == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]


def test_a_daily_cron_in_new_york_keeps_its_wall_time_across_the_autumn_change():
    # 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST.
    got = fires("0 9 * * *", "America/New_York", utc(2026, 10, 31, 0), 3)
    assert got == [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)]


def test_a_time_the_spring_change_skips_fires_once_right_after_the_gap():
    got = fires("30 2 * * *", "America/New_York", utc(2026, 3, 7, 12), 2)
    assert got == [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)]  # 03:00 EDT, then 02:30 EDT


def test_a_time_the_autumn_change_repeats_fires_once_at_its_first_occurrence():
    got = fires("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12), 2)
    assert got == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]  # 01:30 EDT, 01:30 EST


def test_an_every_30_minutes_cron_keeps_firing_through_the_repeated_hour():
    got = fires("*/30 * * * *", "America/New_York", utc(2026, 11, 1, 4, 50), 4)
    assert got == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6)] + [
        utc(2026, 11, 1, 6, 30)
    ]


def test_europe_berlin_changes_on_its_own_date():
    # Berlin goes to summer time on 2026-03-29: 06:00 local is 05:00 UTC, then 04:00 UTC.
    got = fires("0 6 * * *", "Europe/Berlin", utc(2026, 3, 28, 0), 2)
    assert got == [utc(2026, 3, 28, 5), utc(2026, 3, 29, 4)]


def test_cron_expressions_need_five_valid_fields():
    assert check_cron(" 0  9 * * 1-5 ") == "0 9 * * 1-5"
    for bad in ("0 9 * *", "0 25 * * *", "every day", "0 9 * * * *"):
        with pytest.raises(ValueError):
            check_cron(bad)


def test_an_unknown_zone_is_refused():
    with pytest.raises(ValueError, match="unknown time zone"):
        zone("Mars/Olympus")


def test_intervals_stay_on_the_grid_of_their_start():
    timing = Timing("interval", interval_seconds=600, start_at=utc(2026, 1, 1, 0, 0))
    assert next_due(timing, utc(2025, 12, 31)) == utc(2026, 1, 1, 0, 0)
    assert next_due(timing, utc(2026, 1, 1, 0, 0)) == utc(2026, 1, 1, 0, 10)
    assert next_due(timing, utc(2026, 1, 1, 0, 17, 3)) == utc(2026, 1, 1, 0, 20)


def test_without_start_at_an_interval_is_first_due_one_interval_after_its_creation():
    timing = Timing("interval", interval_seconds=30, anchor=utc(2026, 1, 1, 12))
    assert next_due(timing, utc(2026, 1, 1, 11, 59)) == utc(2026, 1, 1, 12, 0, 30)
    assert next_due(timing, utc(2026, 1, 1, 12, 0, 30)) == utc(2026, 1, 1, 12, 1)


def test_nothing_is_due_past_end_at_or_for_a_manual_schedule():
    timing = Timing(
        "cron", cron_expression="0 * * * *", start_at=utc(2026, 1, 1), end_at=utc(2026, 1, 1, 2)
    )
    assert next_due(timing, utc(2025, 6, 1)) == utc(2026, 1, 1, 0)
    assert next_due(timing, utc(2026, 1, 1, 1)) == utc(2026, 1, 1, 2)
    assert next_due(timing, utc(2026, 1, 1, 2)) is None
    assert next_due(Timing("manual"), utc(2026, 1, 1)) is None


def test_a_one_time_schedule_is_due_once():
    timing = Timing("one_time", one_time_at=utc(2026, 5, 1, 12))
    assert next_due(timing, utc(2026, 5, 1)) == utc(2026, 5, 1, 12)
    assert next_due(timing, utc(2026, 5, 1, 12)) is None


HOURLY = Timing("cron", cron_expression="0 * * * *")
GRACE = dt.timedelta(seconds=60)
WEEK = dt.timedelta(days=7)


def catch_up(policy: str, first: dt.datetime, now: dt.datetime, limit: int = 100):
    return missed_to_fire(HOURLY, first, now, policy, grace=GRACE, limit=limit, lookback=WEEK)


@pytest.mark.parametrize("policy", ["skip", "all", "none"])
def test_a_time_due_just_now_fires_whatever_the_policy(policy):
    assert catch_up(policy, utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 0, 5)) == (
        [utc(2026, 1, 1, 10)],
        0,
    )


def test_after_downtime_all_fires_every_missed_time_in_order():
    times, dropped = catch_up("all", utc(2026, 1, 1, 7), utc(2026, 1, 1, 10, 30))
    assert times == [
        utc(2026, 1, 1, 7),
        utc(2026, 1, 1, 8),
        utc(2026, 1, 1, 9),
        utc(2026, 1, 1, 10),
    ]
    assert dropped == 0


def test_after_downtime_all_is_bounded_to_the_latest_times():
    times, dropped = catch_up("all", utc(2026, 1, 1, 0), utc(2026, 1, 1, 10, 30), limit=3)
    assert times == [utc(2026, 1, 1, 8), utc(2026, 1, 1, 9), utc(2026, 1, 1, 10)]
    assert dropped == 8


def test_after_downtime_skip_fires_only_the_latest_missed_time():
    times, dropped = catch_up("skip", utc(2026, 1, 1, 7), utc(2026, 1, 1, 10, 30))
    assert (times, dropped) == ([utc(2026, 1, 1, 10)], 3)


def test_after_downtime_none_fires_nothing_missed():
    assert catch_up("none", utc(2026, 1, 1, 7), utc(2026, 1, 1, 10, 30)) == ([], 4)


def test_due_times_older_than_the_lookback_are_not_walked():
    first = utc(2020, 1, 1)
    times, dropped = catch_up("all", first, utc(2026, 1, 8, 0, 30), limit=2)
    assert times == [utc(2026, 1, 7, 23), utc(2026, 1, 8, 0)]
    assert dropped > 100
