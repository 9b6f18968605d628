"""When each path item was done, read from the record: observations by LOINC code, follow-up form
fields, home readings. Feeds the pure ``path`` module (due list, execution, screening)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthbrain.chronic import path
from healthbrain.chronic.definitions import Disease
from healthbrain.chronic.models import ChronicFollowUp, HomeReading
from healthbrain.core.time import SHANGHAI
from healthbrain.records.models import Observation

LOOKBACK_DAYS = 800  # two years and a margin: yearly items and last year's execution


def done_dates(
    session: Session, resident_id: int, diseases: Iterable[Disease], *, today: date | None = None
) -> dict[str, list[date]]:
    items = path.items_for(diseases)
    out: dict[str, list[date]] = {item.slug: [] for item in items}
    since_day = (today or datetime.now(SHANGHAI).date()) - timedelta(days=LOOKBACK_DAYS)
    since = datetime.combine(since_day, time.min, tzinfo=UTC)
    by_code: dict[str, list[str]] = defaultdict(list)
    by_field: dict[str, list[str]] = defaultdict(list)
    by_kind: dict[str, list[str]] = defaultdict(list)
    for item in items:
        target = {
            path.Evidence.OBSERVATION: by_code,
            path.Evidence.FOLLOWUP_FIELD: by_field,
            path.Evidence.HOME_READING: by_kind,
        }[item.evidence]
        for code in item.codes:
            target[code].append(item.slug)
    if by_code:
        rows = session.execute(
            select(Observation.code, Observation.effective_at).where(
                Observation.resident_id == resident_id,
                Observation.code.in_(list(by_code)),
                Observation.effective_at >= since,
            )
        )
        for code, at in rows:
            for slug in by_code[code]:
                out[slug].append(at.astimezone(SHANGHAI).date())
    if by_field:
        forms = session.scalars(
            select(ChronicFollowUp).where(
                ChronicFollowUp.resident_id == resident_id, ChronicFollowUp.visit_date >= since_day
            )
        )
        for form in forms:
            for field_name, slugs in by_field.items():
                value = getattr(form, field_name, None)
                if value is not None and value is not False:
                    for slug in slugs:
                        out[slug].append(form.visit_date)
    if by_kind:
        day = func.date(HomeReading.measured_at)
        rows2 = session.execute(
            select(HomeReading.kind, func.max(HomeReading.measured_at))
            .where(
                HomeReading.resident_id == resident_id,
                HomeReading.kind.in_(list(by_kind)),
                HomeReading.measured_at >= since,
            )
            .group_by(HomeReading.kind, day)
        )
        for kind, at in rows2:
            if at is None:
                continue
            when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at)).replace(tzinfo=UTC)
            for slug in by_kind[kind]:
                out[slug].append(when.astimezone(SHANGHAI).date())
    for dates in out.values():
        dates.sort()
    return out
