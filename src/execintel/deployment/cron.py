"""Translate a manifest schedule's 5-field cron (croniter's dialect) into EventBridge Scheduler's ``cron(...)``.

EventBridge Scheduler reads six fields, ``minutes hours day-of-month month day-of-week year``, numbers the days
of the week 1-7 from Sunday, and wants ``?`` in exactly one of the two day fields. croniter (what ``execintel
schedule`` and the run planner use) numbers them 0-7 from Sunday and, when both day fields are restricted, fires
on either (``0 7 1 * MON``: the 1st and every Monday), which EventBridge cannot express. The translation works
from croniter's own expansion of each field, so the deployed schedule fires at exactly the times the local
scheduler would; what has no EventBridge equivalent is refused with a sentence naming the schedule.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Mapping, Sequence

from execintel.errors import ConfigError, Problem

DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (lowest, highest) value of the minute, hour, day-of-month and month fields
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12))
_NEAREST_WEEKDAY = re.compile(r"(\d{1,2})[wW]")


class CronTranslationError(ValueError):
    """A cron expression that EventBridge Scheduler cannot express; the message says why."""


def _ranges(values: Sequence[int], name: Callable[[int], str]) -> str:
    """Sorted values, each run of three or more consecutive ones as ``first-last``, the others listed."""
    parts: list[str] = []
    start = previous = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        # a run of three or more reads best as a range; two neighbours as a list
        if previous - start >= 2:
            parts.append(f"{name(start)}-{name(previous)}")
        else:
            parts.extend(name(v) for v in range(start, previous + 1))
        if value is not None:
            start = previous = value
    return ",".join(parts)


def _compress(values: Sequence[int], low: int, high: int) -> str:
    """A field's sorted values as EventBridge text: ``start/step`` for a step running to the end, else ranges."""
    if len(values) >= 3:
        step = values[1] - values[0]
        steady = all(b - a == step for a, b in itertools.pairwise(values))
        if steady and step > 1 and values[-1] + step > high:
            return f"{values[0]}/{step}"
    return _ranges(values, str)


def _days_of_week(values: Sequence[int]) -> str:
    """Days of the week (croniter's 0-6 from Sunday) as EventBridge names, consecutive days as a range."""
    return _ranges(values, DAY_NAMES.__getitem__)


def _ints(field: Sequence[int | str], name: str) -> list[int]:
    if any(not isinstance(v, int) for v in field):
        raise CronTranslationError(f"its {name} mixes 'L' with other values, which EventBridge cannot express")
    return sorted(int(v) for v in field)


def _day_of_month(raw: str, field: Sequence[int | str]) -> str:
    if field == ["*"]:
        return "*"
    if _NEAREST_WEEKDAY.fullmatch(raw):  # nearest weekday to a day: the same syntax in EventBridge
        return raw.upper()
    if "w" in raw.lower():
        raise CronTranslationError(f"its day of month {raw!r} uses 'W' with more than one day, which EventBridge "
                                   "cannot express")  # fmt: skip
    if field == ["l"]:
        return "L"
    return _compress(_ints(field, "day of month"), *_BOUNDS[2])


def _day_of_week(field: Sequence[int | str], nth: Mapping[int, Collection[int | str]]) -> str:
    if not nth:
        return _days_of_week(_ints(field, "day of week"))
    pairs = [(day, n) for day, ns in nth.items() for n in ns]
    if len(pairs) != 1 or not isinstance(pairs[0][1], int) or field != [pairs[0][0]]:
        raise CronTranslationError("its day of week names a last weekday ('L') or several nth weekdays ('#'); "
                                   "EventBridge takes one nth weekday (such as mon#2) and no last weekday")  # fmt: skip
    day, n = pairs[0]
    return f"{day + 1}#{n}"  # AWS documents the nth weekday with a number (1 is Sunday), e.g. 6#3


def to_eventbridge(cron: str) -> str:
    """The EventBridge Scheduler expression, ``cron(...)``, firing at the same times as croniter's ``cron``."""
    from croniter import croniter  # noqa: PLC0415 - only deploying needs it

    fields = cron.split()
    if len(fields) != 5:
        raise CronTranslationError("it must have 5 fields: minute hour day month weekday")
    try:
        parsed = croniter(cron)
    except ValueError as exc:  # croniter's errors are ValueErrors
        raise CronTranslationError(f"croniter cannot read it ({exc})") from None
    minute, hour, dom, month, dow = parsed.expanded
    nth: Mapping[int, Collection[int | str]] = parsed.nth_weekday_of_month
    out = [
        "*" if field == ["*"] else _compress(_ints(field, name), low, high)
        for field, name, (low, high) in ((minute, "minute", _BOUNDS[0]), (hour, "hour", _BOUNDS[1]))
    ]
    day_star, week_star = dom == ["*"], dow == ["*"] and not nth
    if not day_star and not week_star:
        raise CronTranslationError("it restricts both the day of month and the day of week, which cron reads as "
                                   "either one (the days of the month AND every matching weekday); EventBridge "
                                   "takes only one of the two: split it into two schedules")  # fmt: skip
    out.append(_day_of_month(fields[2], dom) if week_star else "?")
    out.append("*" if month == ["*"] else _compress(_ints(month, "month"), *_BOUNDS[3]))
    out.append("?" if week_star else _day_of_week(dow, nth))
    out.append("*")  # year
    return f"cron({' '.join(out)})"


def schedule_expression(schedule_id: str, cron: str, *, where: str, index: int) -> str:
    """:func:`to_eventbridge` for the manifest schedule ``schedule_id``; a ConfigError naming it when impossible."""
    try:
        return to_eventbridge(cron)
    except CronTranslationError as exc:
        message = f"schedule {schedule_id!r}: cron {cron!r} cannot be deployed to EventBridge Scheduler: {exc}."
        raise ConfigError(Problem(where, message, key=f"schedules[{index}].cron")) from None
