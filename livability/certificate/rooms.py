"""A home's rooms and outdoor range per local day, from its daily ranges (`scoring.ranges`).

Rooms are named by type ("bedroom", "bedroom 2" when a type repeats), ordered by type and
then by the sensor, whose MAC is dropped here: it never reaches a page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from livability.certificate.content import MAX_ROOMS, CertificateError, Room, number
from scoring import thresholds as th

ROOM_ORDER = {name: i for i, name in enumerate(th.ROOM_TYPES)}
DAYS = 7


def rooms_of(
    ranges: Sequence[Mapping[str, Any]],
) -> tuple[tuple[Room, ...], tuple[tuple[float, float] | None, ...]]:
    """A home's rooms (by type, numbered when a type repeats) and the outdoor range per local
    day, from its rows of `scoring.ranges.daily_ranges`. The MAC orders the rooms and is
    dropped here."""
    sensors: dict[int, list[Mapping[str, Any]]] = {}
    for row in ranges:
        sensors.setdefault(int(row["mac"]), []).append(row)
    if len(sensors) > MAX_ROOMS:
        raise CertificateError(f"rooms: {len(sensors)} sensors, at most {MAX_ROOMS}")

    def kind(rows: list[Mapping[str, Any]]) -> str:
        room = rows[0].get("room")
        if room is None:
            return "room"
        if room not in ROOM_ORDER:
            raise CertificateError(f"room: {room!r} is not one of {', '.join(th.ROOM_TYPES)}")
        return "living room" if room == "living" else str(room)

    def order(item: tuple[int, list[Mapping[str, Any]]]) -> tuple[int, int]:
        return ROOM_ORDER.get(str(item[1][0].get("room")), len(ROOM_ORDER)), item[0]

    ordered = sorted(sensors.items(), key=order)
    kinds = [kind(rows) for _, rows in ordered]
    seen: dict[str, int] = {}
    rooms = []
    for name, (_, rows) in zip(kinds, ordered, strict=True):
        seen[name] = seen.get(name, 0) + 1
        label = f"{name} {seen[name]}" if kinds.count(name) > 1 else name
        days: list[tuple[float, float] | None] = [None] * DAYS
        for row in rows:
            day = _day(row["d"])
            low = number("t_min", row["t_min"], -60.0, 80.0)
            high = number("t_max", row["t_max"], -60.0, 80.0)
            days[day] = None if low is None or high is None else (low, high)
        rooms.append(
            Room(
                label,
                tuple(days),
                float(sum(r["cold_hours"] or 0 for r in rows)),
                float(sum(r["heat_hours"] or 0 for r in rows)),
                float(sum(r["damp_hours"] or 0 for r in rows)),
            )
        )
    outdoor: list[tuple[float, float] | None] = [None] * DAYS
    for row in ranges:
        low = number("t_out_min", row.get("t_out_min"), -80.0, 70.0)
        high = number("t_out_max", row.get("t_out_max"), -80.0, 70.0)
        if low is not None and high is not None:
            day = _day(row["d"])
            known = outdoor[day]
            outdoor[day] = (
                (low, high) if known is None else (min(known[0], low), max(known[1], high))
            )
    return tuple(rooms), tuple(outdoor)


def _day(value: object) -> int:
    if not isinstance(value, int) or not 0 <= value < DAYS:
        raise CertificateError(f"d: {value!r} is not a local day of the week (0-{DAYS - 1})")
    return value
