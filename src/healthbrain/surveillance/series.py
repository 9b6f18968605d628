"""From feed rows to count series: which signal, at which places, on which day each row counts.

One definition serves both paths: :func:`contributions` maps columns of feed rows (NumPy arrays)
to (signal, place, day, value) contributions; the ingestion path applies them as deltas to the
day and week tables as rows arrive (a correction subtracts the old values and adds the new), and
:func:`rebuild` recomputes the tables from the feeds in one pass (simulator load, repair). A test
checks that both give the same tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from healthbrain.surveillance.definitions import DISEASES, FEVER_CAUSES, SIGNALS, SYMPTOMS, Feed, PlaceKind

IntArray = NDArray[np.int64]
DayArray = NDArray[np.datetime64]
Columns = Mapping[str, NDArray[np.generic]]

_SYNDROME_OF_CAUSE = {code: s for code, (_zh, _en, s) in SYMPTOMS.items()} | {
    c: x.syndrome for c, x in DISEASES.items()
}


@dataclass(frozen=True)
class PlaceIndex:
    """Where places sit: the district, each division's town, each institution's community."""

    district_id: int
    town_of_division: Mapping[int, int]  # community or town id → town id
    division_of_institution: Mapping[int, int]  # institution id → its division (community) id

    def town_of_institution(self, institution_id: int) -> int:
        return self.town_of_division.get(self.division_of_institution.get(institution_id, -1), -1)

    @cached_property
    def towns(self) -> IntArray:
        """``town_of_division`` as a dense array indexed by division id (-1: none)."""
        return _dense(self.town_of_division)

    @cached_property
    def divisions(self) -> IntArray:
        """``division_of_institution`` as a dense array indexed by institution id (-1: none)."""
        return _dense(self.division_of_institution)


def _dense(mapping: Mapping[int, int]) -> IntArray:
    out = np.full(max(mapping, default=0) + 1, -1, dtype=np.int64)
    if mapping:
        out[np.fromiter(mapping.keys(), dtype=np.int64)] = np.fromiter(mapping.values(), dtype=np.int64)
    return out


SIGNAL_SLUGS: tuple[str, ...] = tuple(sorted(SIGNALS))
PLACE_KINDS: tuple[str, ...] = tuple(k.value for k in PlaceKind)
_SIGNAL_CODE = {slug: i for i, slug in enumerate(SIGNAL_SLUGS)}
_KIND_CODE = {kind: i for i, kind in enumerate(PLACE_KINDS)}
# Signals counted against a denominator (laboratory positives out of specimens tested).
_WITH_DENOMINATOR = np.array([SIGNALS[slug].feed == Feed.LAB for slug in SIGNAL_SLUGS])


@dataclass(frozen=True)
class Contributions:
    """Parallel arrays: each element adds ``value`` (and ``denominator``; 0 for signals that have
    none, see ``_WITH_DENOMINATOR``) to one cell.
    Signals and place kinds are codes (indexes of SIGNAL_SLUGS / PLACE_KINDS), so that a district's
    millions of contributions stay small."""

    signal: NDArray[np.int16]
    place_kind: NDArray[np.int8]
    place_id: IntArray
    day: DayArray
    value: IntArray
    denominator: IntArray

    def __len__(self) -> int:
        return int(self.place_id.shape[0])

    def negated(self) -> Contributions:
        return Contributions(
            self.signal,
            self.place_kind,
            self.place_id,
            self.day,
            -self.value,
            -self.denominator,
        )


def _empty() -> Contributions:
    return Contributions(
        np.array([], dtype=np.int16),
        np.array([], dtype=np.int8),
        np.array([], dtype=np.int64),
        np.array([], dtype="datetime64[D]"),
        np.array([], dtype=np.int64),
        np.array([], dtype=np.int64),
    )


def concat(parts: list[Contributions]) -> Contributions:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    return Contributions(
        np.concatenate([p.signal for p in parts]),
        np.concatenate([p.place_kind for p in parts]),
        np.concatenate([p.place_id for p in parts]),
        np.concatenate([p.day for p in parts]),
        np.concatenate([p.value for p in parts]),
        np.concatenate([p.denominator for p in parts]),
    )


def _spread(
    signals: NDArray[np.int16],
    day: DayArray,
    value: IntArray,
    places: list[tuple[PlaceKind, IntArray]],
    denominator: IntArray | None = None,
) -> Contributions:
    """The same (signal, day, value) at each of several places; place id < 0 means 'not there'."""
    den = denominator if denominator is not None else np.zeros(len(value), dtype=np.int64)
    parts = []
    for kind, ids in places:
        keep = ids >= 0
        parts.append(
            Contributions(
                signals[keep],
                np.full(int(keep.sum()), _KIND_CODE[kind], dtype=np.int8),
                ids[keep].astype(np.int64),
                day[keep],
                value[keep],
                den[keep],
            )
        )
    return concat(parts)


def _lookup(dense: IntArray, keys: NDArray[np.generic]) -> IntArray:
    """Vectorised lookup in a dense id → id array; unknown ids give -1."""
    ids = np.asarray(keys, dtype=np.int64)
    known = (ids >= 0) & (ids < len(dense))
    out = np.full(len(ids), -1, dtype=np.int64)
    out[known] = dense[ids[known]]
    return out


def _signal_codes(prefix: str, keys: NDArray[np.generic]) -> NDArray[np.int16]:
    """Signal codes of ``prefix + key`` for each key (looked up once per distinct key)."""
    distinct, inverse = np.unique(np.asarray(keys).astype(str), return_inverse=True)
    codes = np.array([_SIGNAL_CODE[prefix + str(k)] for k in distinct], dtype=np.int16)
    return codes[inverse.reshape(-1)] if len(distinct) else np.array([], dtype=np.int16)


def contributions(feed: Feed, rows: Columns, places: PlaceIndex) -> Contributions:
    """Where each feed row counts. ``rows`` holds the model's columns as arrays (``day`` or
    ``onset_date`` as datetime64[D])."""
    n = len(next(iter(rows.values()))) if rows else 0
    if n == 0:
        return _empty()
    district = np.full(n, places.district_id, dtype=np.int64)
    match feed:
        case Feed.SCHOOL_ABSENCE:
            school = rows["school_id"].astype(np.int64)
            day = rows["day"].astype("datetime64[D]")
            value = rows["absent"].astype(np.int64)
            town = _lookup(places.towns, _lookup(places.divisions, school))
            at = [
                (PlaceKind.CLASS, rows["class_id"].astype(np.int64)),
                (PlaceKind.SCHOOL, school),
                (PlaceKind.TOWN, town),
                (PlaceKind.DISTRICT, district),
            ]
            causes = np.asarray(rows["cause"]).astype(str)
            distinct, inverse = np.unique(causes, return_inverse=True)
            syndromes = np.array([_SYNDROME_OF_CAUSE[str(c)] for c in distinct], dtype=object)[inverse.reshape(-1)]
            fever = np.isin(causes, list(FEVER_CAUSES))
            return concat(
                [
                    _spread(np.full(n, _SIGNAL_CODE["absence.all"], dtype=np.int16), day, value, at),
                    _spread(_signal_codes("absence.", syndromes), day, value, at),
                    _spread(
                        np.full(int(fever.sum()), _SIGNAL_CODE["absence.fever"], dtype=np.int16),
                        day[fever],
                        value[fever],
                        [(kind, ids[fever]) for kind, ids in at],
                    ),
                ]
            )
        case Feed.FEVER_CLINIC | Feed.PHARMACY | Feed.LAB:
            institution = rows["institution_id"].astype(np.int64)
            town = _lookup(places.towns, _lookup(places.divisions, institution))
            at = [(PlaceKind.INSTITUTION, institution), (PlaceKind.TOWN, town), (PlaceKind.DISTRICT, district)]
            day = rows["day"].astype("datetime64[D]")
            if feed == Feed.FEVER_CLINIC:
                return _spread(
                    _signal_codes("fever_clinic.", rows["category"]), day, rows["visits"].astype(np.int64), at
                )
            if feed == Feed.PHARMACY:
                return _spread(_signal_codes("pharmacy.", rows["category"]), day, rows["quantity"].astype(np.int64), at)
            return _spread(
                _signal_codes("lab.", rows["pathogen"]),
                day,
                rows["positive"].astype(np.int64),
                at,
                denominator=rows["tested"].astype(np.int64),
            )
        case Feed.CASE:
            live = ~np.asarray(rows["deleted"]).astype(bool)
            community = rows["community_id"].astype(np.int64)[live]
            day = rows["onset_date"].astype("datetime64[D]")[live]
            m = int(live.sum())

            def optional(name: str) -> IntArray:
                values = np.asarray(rows[name])[live]
                return np.array([-1 if v is None else int(v) for v in values], dtype=np.int64)

            at = [
                (PlaceKind.COMMUNITY, community),
                (PlaceKind.TOWN, _lookup(places.towns, community)),
                (PlaceKind.DISTRICT, district[:m]),
                (PlaceKind.SCHOOL, optional("school_id")),
                (PlaceKind.CLASS, optional("class_id")),
            ]
            return _spread(
                _signal_codes("case.", np.asarray(rows["disease"])[live]), day, np.ones(m, dtype=np.int64), at
            )
    raise ValueError(f"unknown feed {feed}")


def monday(days: DayArray) -> DayArray:
    """The Monday that starts each day's ISO week (1970-01-01 was a Thursday)."""
    as_int = days.astype("datetime64[D]").astype(np.int64)
    return (as_int - (as_int + 3) % 7).astype("datetime64[D]")


@dataclass(frozen=True)
class Sums:
    """Contributions summed per cell: codes, place, period (days since 1970), value, denominator."""

    signal: NDArray[np.int16]
    place_kind: NDArray[np.int8]
    place_id: IntArray
    period: IntArray
    value: IntArray
    denominator: IntArray

    def __len__(self) -> int:
        return int(self.place_id.shape[0])


def sum_cells(c: Contributions | Sums, *, weekly: bool = False) -> Sums:
    """Sum per (signal, place kind, place id, period) — the day, or the ISO week's Monday."""
    if isinstance(c, Contributions):
        periods = (monday(c.day) if weekly else c.day.astype("datetime64[D]")).astype(np.int64)
    else:
        periods = c.period
    if len(c) == 0:
        empty = np.array([], dtype=np.int64)
        return Sums(np.array([], dtype=np.int16), np.array([], dtype=np.int8), empty, empty, empty, empty)
    # One int64 key per cell (signal and kind in the top 11 bits, the place in the next 35, the
    # day in the last 17): sorting int64 is an order of magnitude faster than a structured array,
    # which at the full district (16 M contributions) was most of the rebuild.
    label = c.signal.astype(np.int64) * 8 + c.place_kind.astype(np.int64)
    keys = (label << 52) | (c.place_id.astype(np.int64) << 17) | periods.astype(np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    values = np.bincount(inverse, weights=c.value, minlength=len(unique)).astype(np.int64)
    dens = np.bincount(inverse, weights=c.denominator, minlength=len(unique)).astype(np.int64)
    label = unique >> 52
    return Sums(
        (label // 8).astype(np.int16),
        (label % 8).astype(np.int8),
        (unique >> 17) & ((1 << 35) - 1),
        unique & ((1 << 17) - 1),
        values,
        dens,
    )


def concat_sums(parts: list[Sums]) -> Sums:
    return Sums(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("signal", "place_kind", "place_id", "period", "value", "denominator")
        )
    )


@dataclass(frozen=True)
class Cells:
    """Summed cells in storage form, sorted (concurrent writers touch rows in the same order)."""

    signal: list[str]
    place_kind: list[str]
    place_id: list[int]
    period: list[date]
    value: list[int]
    denominator: list[int | None]

    def __len__(self) -> int:
        return len(self.signal)

    def rows(self) -> list[tuple[str, str, int, date, int, int | None]]:
        return list(
            zip(self.signal, self.place_kind, self.place_id, self.period, self.value, self.denominator, strict=True)
        )


_EPOCH = date(1970, 1, 1).toordinal()


def storage_columns(sums: Sums) -> list[list[object]]:
    """Sums as the count tables' columns (signal, place kind, place id, ISO date, value,
    denominator), built column-wise for the set-based insert."""
    days = np.datetime_as_string(sums.period.astype("datetime64[D]")).tolist()
    denominators = np.where(_WITH_DENOMINATOR[sums.signal], sums.denominator, -1).tolist()
    return [
        np.array(SIGNAL_SLUGS, dtype=object)[sums.signal].tolist(),
        np.array(PLACE_KINDS, dtype=object)[sums.place_kind].tolist(),
        sums.place_id.tolist(),
        days,
        sums.value.tolist(),
        [None if d < 0 else d for d in denominators],
    ]


def to_cells(sums: Sums) -> Cells:
    return Cells(
        signal=[SIGNAL_SLUGS[i] for i in sums.signal.tolist()],
        place_kind=[PLACE_KINDS[i] for i in sums.place_kind.tolist()],
        place_id=sums.place_id.tolist(),
        period=[date.fromordinal(_EPOCH + p) for p in sums.period.tolist()],
        value=sums.value.tolist(),
        denominator=[
            d if has else None
            for d, has in zip(sums.denominator.tolist(), _WITH_DENOMINATOR[sums.signal].tolist(), strict=True)
        ],
    )


def aggregate(c: Contributions, *, weekly: bool = False) -> Cells:
    """Sum contributions per cell (by day, or by ISO week when ``weekly``)."""
    return to_cells(sum_cells(c, weekly=weekly))


def school_days(first: date, last: date, holidays: list[tuple[date, date]]) -> DayArray:
    """School days from ``first`` to ``last``: weekdays outside the holidays."""
    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    weekday = (days.astype(np.int64) + 3) % 7
    keep = weekday < 5
    for start, end in holidays:
        keep &= ~((days >= np.datetime64(start, "D")) & (days <= np.datetime64(end, "D")))
    return days[keep]
