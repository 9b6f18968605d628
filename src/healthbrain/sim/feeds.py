"""Daily early-warning feeds for the synthetic district, with outbreaks injected and their truth.

Generated as column arrays (the columns of the feed tables), so the same output is loaded into the
database by the simulator and fed straight to the detectors by ``healthbrain surveillance
evaluate``. Background: school absence due to illness with winter seasonality, weekday effects and
the school calendar (no school at weekends and in holidays); fever-clinic visits, pharmacy sales and
laboratory positivity following the influenza season; notifiable-disease reports by age-specific
incidence and season, each card linked to a real resident of the district. Outbreaks: school
norovirus and influenza-like-illness clusters, community hand-foot-mouth clusters and the winter
influenza wave, each recorded in ``surv_outbreak_truth``.

Rates are order-of-magnitude figures for a Chinese district (sources in comments); the point is a
realistic mix of noise and signal for the detectors, not an epidemiological forecast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from healthbrain.sim.facility_feeds import WEEKDAY_FACTOR, facility_feeds, seasonal
from healthbrain.sim.geography import Geography
from healthbrain.sim.institutions import Directory
from healthbrain.surveillance.definitions import Feed

# Illness absence per pupil and school day (因病缺课率): Chinese school-absence surveillance reports
# daily rates of roughly 0.1–0.6 %, highest in kindergartens and in winter.
ABSENCE_RATE = {"kindergarten": 0.006, "primary": 0.003, "junior": 0.0015, "senior": 0.001}
ABSENCE_CAUSES = (  # cause, share of illness absences
    ("fever", 0.34),
    ("cough", 0.18),
    ("sore_throat", 0.08),
    ("headache", 0.05),
    ("vomiting", 0.07),
    ("diarrhoea", 0.05),
    ("abdominal_pain", 0.06),
    ("rash", 0.02),
    ("conjunctivitis", 0.01),
    ("parotid_swelling", 0.005),
    ("other", 0.135),
)

# Notifiable diseases: (code, cases per 100,000 a year, ages (lo, hi), month of peak, seasonal
# amplitude). Orders of magnitude from China's national notifiable-disease reports 2015–2019
# (influenza excluded from the winter wave, which is added separately).
DISEASES = (
    ("influenza", 120.0, (0, 90), 1, 0.8),
    ("hfmd", 140.0, (1, 6), 5, 0.6),
    ("infectious_diarrhoea", 80.0, (0, 90), 7, 0.4),
    ("varicella", 60.0, (4, 15), 12, 0.5),
    ("norovirus", 12.0, (3, 80), 12, 0.6),
    ("mumps", 12.0, (4, 15), 5, 0.4),
    ("scarlet_fever", 6.0, (3, 10), 12, 0.5),
    ("tuberculosis", 45.0, (18, 90), 3, 0.1),
    ("hepatitis_b", 60.0, (20, 80), 3, 0.0),
    ("syphilis", 30.0, (20, 70), 6, 0.0),
    ("dysentery", 3.0, (0, 80), 8, 0.6),
    ("rubella", 1.0, (3, 20), 4, 0.4),
)
SCHOOL_STAGE_AGES = {"kindergarten": (3, 6), "primary": (6, 12), "junior": (12, 15), "senior": (15, 18)}
STAGE_FIRST_GRADE = {"kindergarten": 0, "primary": 1, "junior": 7, "senior": 10}


@dataclass
class Truth:
    kind: str
    signal: str
    place_kind: str
    place_id: int
    first_day: date
    last_day: date
    cases: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Feeds:
    """Rows of each feed as named columns, the school holidays and the outbreaks' truth."""

    rows: dict[Feed, dict[str, Any]]
    holidays: list[tuple[str, date, date]]
    truth: list[Truth]
    first_day: date
    last_day: date

    def count(self, feed: Feed) -> int:
        columns = self.rows.get(feed) or {}
        return len(next(iter(columns.values()))) if columns else 0


def school_holidays(first: date, last: date) -> list[tuple[str, date, date]]:
    """Zhejiang's school calendar in outline: winter break around the Spring Festival, summer
    break, and the national holidays."""
    out: list[tuple[str, date, date]] = []
    for year in range(first.year - 1, last.year + 1):
        out += [
            ("元旦", date(year, 1, 1), date(year, 1, 1)),
            ("寒假", date(year, 1, 22), date(year, 2, 18)),
            ("清明节", date(year, 4, 4), date(year, 4, 6)),
            ("劳动节", date(year, 5, 1), date(year, 5, 5)),
            ("暑假", date(year, 7, 5), date(year, 8, 31)),
            ("国庆节", date(year, 10, 1), date(year, 10, 7)),
        ]
    return [(n, a, b) for n, a, b in out if b >= first and a <= last]


def _flu_waves(rng: np.random.Generator, days: np.ndarray) -> tuple[np.ndarray, list[tuple[date, date, float]]]:
    """A winter influenza wave each season (start in December or January, 8–11 weeks, a peak of
    3–6 × the baseline): the relative intensity per day, and the waves."""
    intensity = np.zeros(len(days))
    waves: list[tuple[date, date, float]] = []
    first, last = days[0].item(), days[-1].item()
    for season in range(first.year - 1, last.year + 1):
        start = date(season, 12, 1) + timedelta(days=int(rng.integers(0, 50)))
        weeks = int(rng.integers(8, 12))
        end = start + timedelta(weeks=weeks)
        height = float(rng.uniform(3.0, 6.0))
        t = (days - np.datetime64(start, "D")).astype(np.int64)
        span = weeks * 7
        inside = (t >= 0) & (t < span)
        # A gamma-shaped epidemic curve peaking a third of the way in.
        shape = np.zeros(len(days))
        x = t[inside] / span
        shape[inside] = (x / 0.33) ** 2 * np.exp(2 * (1 - x / 0.33))
        intensity += height * shape / max(shape.max(), 1e-9) if inside.any() else 0.0
        if end >= first and start <= last:
            waves.append((start, end, height))
    return intensity, waves


_CASE_COLUMNS = (
    "institution_id",
    "card_no",
    "disease",
    "classification",
    "onset_date",
    "diagnosis_date",
    "reported_at",
    "resident_id",
    "patient_name",
    "id_number",
    "sex",
    "age_years",
    "community_id",
    "school_id",
    "class_id",
    "hospitalised",
)
_ABSENCE_COLUMNS = ("school_id", "class_id", "day", "cause", "absent", "enrolled")


@dataclass
class _Context:
    rng: np.random.Generator
    days: np.ndarray  # datetime64[D], every day of the span
    school_day: np.ndarray  # bool per day
    flu: np.ndarray  # influenza wave intensity per day (0 outside a wave)
    ages: np.ndarray
    community: np.ndarray  # community index per resident
    community_ids: list[int]
    directory: Directory
    geo: Geography
    names: list[str]
    id_numbers: list[str]
    male: np.ndarray
    registrar: list[int]  # per community index: the institution that registers its residents
    hospitals: list[int] = field(default_factory=list)
    truth: list[Truth] = field(default_factory=list)
    cases: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in _CASE_COLUMNS})
    absence: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in _ABSENCE_COLUMNS})


def _schools(directory: Directory) -> tuple[list[Any], dict[int, list[tuple[int, Any]]]]:
    schools = [i for i in directory.institutions if i.kind == "school"]
    classes: dict[int, list[tuple[int, Any]]] = {s.id: [] for s in schools}
    for k, c in enumerate(directory.classes):
        classes[c.school_id].append((k + 1, c))
    return schools, classes


def _add_case(
    ctx: _Context,
    *,
    disease: str,
    onset: date,
    resident: int,
    school_id: int | None = None,
    class_id: int | None = None,
) -> None:
    # One draw of five uniforms per case: a per-case rng.choice/geometric call costs ~0.1 ms, which
    # over the 120 k cards of the full district was 12 s.
    u = ctx.rng.random(5)
    delay = min(int(np.log(u[0]) / np.log(0.45)), 6)  # geometric: diagnosis 0–6 days after onset
    diagnosis = onset + timedelta(days=delay)
    community = int(ctx.community[resident])
    reporter = (
        ctx.registrar[community]
        if u[1] < 0.55 or not ctx.hospitals
        else ctx.hospitals[int(u[1] * 1e6) % len(ctx.hospitals)]
    )
    serial = len(ctx.cases["card_no"]) + 1
    hours = 1 + 9 * u[2]  # reported 09:00–18:00 local (01:00–10:00 UTC)
    ctx.cases["institution_id"].append(reporter)
    ctx.cases["card_no"].append(f"{diagnosis:%Y%m%d}{serial:07d}")
    ctx.cases["disease"].append(disease)
    ctx.cases["classification"].append("clinical" if u[3] < 0.6 else "confirmed" if u[3] < 0.95 else "suspected")
    ctx.cases["onset_date"].append(onset)
    ctx.cases["diagnosis_date"].append(diagnosis)
    ctx.cases["reported_at"].append(datetime.combine(diagnosis, time(0), tzinfo=UTC) + timedelta(hours=float(hours)))
    ctx.cases["resident_id"].append(resident + 1)
    ctx.cases["patient_name"].append(ctx.names[resident])
    ctx.cases["id_number"].append(ctx.id_numbers[resident])
    ctx.cases["sex"].append("M" if ctx.male[resident] else "F")
    ctx.cases["age_years"].append(int(ctx.ages[resident]))
    ctx.cases["community_id"].append(ctx.community_ids[community])
    ctx.cases["school_id"].append(school_id)
    ctx.cases["class_id"].append(class_id)
    ctx.cases["hospitalised"].append(bool(u[4] < 0.05))


def _pupil_place(
    ctx: _Context,
    resident: int,
    schools_by_town: dict[tuple[int, str], list[Any]],
    classes: dict[int, list[tuple[int, Any]]],
) -> tuple[int | None, int | None]:
    """The school and class a child of this age living here would attend (None for non-pupils)."""
    age = int(ctx.ages[resident])
    town = ctx.geo.communities[int(ctx.community[resident])].parent or 0
    for stage, (lo, hi) in SCHOOL_STAGE_AGES.items():
        if lo <= age < hi:
            options = schools_by_town.get((town, stage)) or schools_by_town.get((-1, stage)) or []
            if not options:
                return None, None
            school = options[int(ctx.rng.integers(len(options)))]
            grade = STAGE_FIRST_GRADE[stage] + (age - lo)
            in_grade = [cid for cid, c in classes[school.id] if c.grade == grade] or [
                cid for cid, _c in classes[school.id]
            ]
            return school.id, (int(ctx.rng.choice(in_grade)) if in_grade else None)
    return None, None


def _background_cases(
    ctx: _Context,
    first_case_day: date,
    schools_by_town: dict[tuple[int, str], list[Any]],
    classes: dict[int, list[tuple[int, Any]]],
) -> None:
    rng = ctx.rng
    days = np.arange(np.datetime64(first_case_day, "D"), ctx.days[-1] + 1)
    flu = np.zeros(len(days))
    flu[-len(ctx.flu) :] = ctx.flu[-len(days) :] if len(ctx.flu) >= len(days) else 0
    # Case histories reach further back than the other feeds (Farrington needs 5 years): waves
    # for the earlier years are drawn the same way.
    if len(days) > len(ctx.flu):
        early, _ = _flu_waves(rng, days[: len(days) - len(ctx.flu)])
        flu[: len(early)] = early
    n = len(ctx.ages)
    for disease, incidence, (lo, hi), peak, amplitude in DISEASES:
        eligible = np.flatnonzero((ctx.ages >= lo) & (ctx.ages < hi))
        if not len(eligible):
            continue
        daily = n * incidence / 1e5 / 365.25 * seasonal(days, peak, amplitude)
        if disease == "influenza":
            daily = daily * (1 + 8 * flu)
        counts = rng.poisson(daily)
        for i in np.flatnonzero(counts):
            onset = days[i].item()
            for resident in rng.choice(eligible, size=int(counts[i])):
                school_id, class_id = (None, None)
                if rng.random() < 0.6:
                    school_id, class_id = _pupil_place(ctx, int(resident), schools_by_town, classes)
                _add_case(
                    ctx, disease=disease, onset=onset, resident=int(resident), school_id=school_id, class_id=class_id
                )


def _absence(ctx: _Context, schools: list[Any], classes: dict[int, list[tuple[int, Any]]]) -> None:
    rng = ctx.rng
    days = ctx.days[ctx.school_day]
    season = seasonal(days, 1, 0.45)
    weekday = WEEKDAY_FACTOR[((days.astype(np.int64) + 3) % 7)]
    flu = ctx.flu[ctx.school_day]
    for school in schools:
        members = classes[school.id]
        if not members:
            continue
        ids = np.array([cid for cid, _c in members])
        enrolled = np.array([c.enrolled for _cid, c in members], dtype=float)
        effect = rng.gamma(5.0, 1 / 5.0, size=len(members))  # some classes are sicklier
        base = ABSENCE_RATE.get(school.subtype or "primary", 0.005)
        lam = np.outer(enrolled * effect * base, season * weekday)  # (classes, days)
        # The wave adds respiratory absence: up to three to four times the usual at its peak (school
        # absenteeism roughly doubles to quadruples in a Chinese influenza season).
        flu_lam = np.outer(enrolled * effect * base * 0.6, flu)
        for cause, share in ABSENCE_CAUSES:
            mean = lam * share + (flu_lam * share if cause in ("fever", "cough", "sore_throat") else 0.0)
            counts = rng.poisson(mean)
            ci, di = np.nonzero(counts)
            ctx.absence["school_id"].extend([school.id] * len(ci))
            ctx.absence["class_id"].extend(ids[ci].tolist())
            ctx.absence["day"].extend(days[di].tolist())
            ctx.absence["cause"].extend([cause] * len(ci))
            ctx.absence["absent"].extend(np.minimum(counts[ci, di], enrolled[ci].astype(int)).tolist())
            ctx.absence["enrolled"].extend(enrolled[ci].astype(int).tolist())


def _curve(rng: np.random.Generator, cases: int, length: int, peak_at: float = 0.3) -> np.ndarray:
    """Cases per day of an outbreak: a log-normal-like curve over ``length`` days."""
    t = np.arange(length) + 0.5
    weights = np.exp(-((np.log(t / (peak_at * length + 0.5))) ** 2) / 0.5)
    return rng.multinomial(cases, weights / weights.sum())


def _inject_school(
    ctx: _Context,
    kind: str,
    school: Any,
    classes: list[tuple[int, Any]],
    start_index: int,
    residents_by_age: dict[int, np.ndarray],
) -> None:
    """A school outbreak: absences in a few classes over a few school days; some are reported."""
    rng = ctx.rng
    school_days = ctx.days[ctx.school_day]
    if kind == "school_norovirus":
        length, size = int(rng.integers(4, 7)), int(rng.integers(12, 35))
        causes, shares, disease, report_share = (
            ["vomiting", "diarrhoea", "abdominal_pain"],
            [0.6, 0.3, 0.1],
            "norovirus",
            0.4,
        )
        signal = "absence.gastrointestinal"
    else:
        length, size = int(rng.integers(6, 10)), int(rng.integers(25, 60))
        causes, shares, disease, report_share = ["fever", "cough", "sore_throat"], [0.6, 0.25, 0.15], "influenza", 0.2
        signal = "absence.respiratory"
    span = school_days[start_index : start_index + length]
    if len(span) == 0:
        return
    by_grade: dict[int, list[tuple[int, Any]]] = {}
    for cid, c in classes:
        by_grade.setdefault(c.grade, []).append((cid, c))
    grade = int(rng.choice(list(by_grade)))
    hit = by_grade[grade][: int(rng.integers(2, 5))]
    if len(hit) < 3:  # spill into a neighbouring grade
        others = [x for g, xs in by_grade.items() if g != grade for x in xs]
        hit += others[: 3 - len(hit)]
    per_day = _curve(rng, size, len(span))
    total = 0
    for d, n in zip(span, per_day, strict=False):
        if n == 0:
            continue
        who = rng.integers(len(hit), size=int(n))
        what = rng.choice(len(causes), size=int(n), p=shares)
        for k in range(len(hit)):
            for c_i, cause in enumerate(causes):
                m = int(((who == k) & (what == c_i)).sum())
                if m:
                    cid, c = hit[k]
                    ctx.absence["school_id"].append(school.id)
                    ctx.absence["class_id"].append(cid)
                    ctx.absence["day"].append(d.item())
                    ctx.absence["cause"].append(cause)
                    ctx.absence["absent"].append(min(m, c.enrolled))
                    ctx.absence["enrolled"].append(c.enrolled)
                    total += m
        # Some of the sick pupils are seen and reported as cases.
        stage = school.subtype or "primary"
        lo, hi = SCHOOL_STAGE_AGES.get(stage, (6, 12))
        pool = np.concatenate([residents_by_age.get(a, np.array([], dtype=np.int64)) for a in range(lo, hi)])
        for _ in range(int(rng.binomial(int(n), report_share))):
            if len(pool):
                cid, _c = hit[int(rng.integers(len(hit)))]
                _add_case(
                    ctx,
                    disease=disease,
                    onset=d.item(),
                    resident=int(rng.choice(pool)),
                    school_id=school.id,
                    class_id=cid,
                )
    ctx.truth.append(
        Truth(
            kind,
            signal,
            "school",
            school.id,
            span[0].item(),
            span[-1].item(),
            total,
            {"classes": [cid for cid, _c in hit], "disease": disease},
        )
    )


def _inject_hfmd(
    ctx: _Context,
    community: int,
    start: date,
    neighbours: list[int],
    kindergartens: list[tuple[Any, list[tuple[int, Any]]]],
) -> None:
    rng = ctx.rng
    length, size = int(rng.integers(8, 15)), int(rng.integers(8, 20))
    length = min(length, (ctx.days[-1].item() - start).days + 1)  # nothing after the last day
    area = [community, *neighbours]
    pool = np.flatnonzero(np.isin(ctx.community, area) & (ctx.ages >= 1) & (ctx.ages < 6))
    if not len(pool):
        return
    per_day = _curve(rng, size, length, peak_at=0.4)
    school_choice = kindergartens[int(rng.integers(len(kindergartens)))] if kindergartens else None
    total = 0
    for k, n in enumerate(per_day):
        for _ in range(int(n)):
            resident = int(rng.choice(pool))
            school_id = class_id = None
            if school_choice is not None and rng.random() < 0.35 and ctx.ages[resident] >= 3:
                school_id = school_choice[0].id
                options = school_choice[1]
                class_id = options[int(rng.integers(len(options)))][0] if options else None
            _add_case(
                ctx,
                disease="hfmd",
                onset=start + timedelta(days=k),
                resident=resident,
                school_id=school_id,
                class_id=class_id,
            )
            total += 1
    ctx.truth.append(
        Truth(
            "community_hfmd",
            "case.hfmd",
            "community",
            ctx.community_ids[community],
            start,
            start + timedelta(days=length - 1),
            total,
            {"areas": [ctx.community_ids[a] for a in area]},
        )
    )


def generate(
    rng: np.random.Generator,
    *,
    geo: Geography,
    directory: Directory,
    ages: np.ndarray,
    community: np.ndarray,
    male: np.ndarray,
    names: list[str],
    id_numbers: list[str],
    community_ids: list[int],
    district_id: int,
    as_of: date,
    days: int = 400,
    case_years: int = 6,
    outbreaks_per_year: float = 12.0,
    recent_outbreaks: bool = True,
) -> Feeds:
    """Every feed for the ``days`` days up to ``as_of`` (case reports for ``case_years`` years)."""
    first = as_of - timedelta(days=days - 1)
    all_days = np.arange(np.datetime64(first, "D"), np.datetime64(as_of, "D") + 1)
    holidays = school_holidays(first, as_of)
    weekday = (all_days.astype(np.int64) + 3) % 7
    school_day = weekday < 5
    for _name, a, b in holidays:
        school_day &= ~((all_days >= np.datetime64(a, "D")) & (all_days <= np.datetime64(b, "D")))
    flu, waves = _flu_waves(rng, all_days)
    ctx = _Context(
        rng=rng,
        days=all_days,
        school_day=school_day,
        flu=flu,
        ages=ages,
        community=community,
        community_ids=community_ids,
        directory=directory,
        geo=geo,
        names=names,
        id_numbers=id_numbers,
        male=male,
        registrar=directory.registrar,
        hospitals=[i.id for i in directory.institutions if i.kind == "hospital"],
    )
    schools, classes = _schools(directory)
    town_of_community = {community_ids[i]: c.parent or 0 for i, c in enumerate(geo.communities)}
    schools_by_town: dict[tuple[int, str], list[Any]] = {}
    for s in schools:
        key = (-1 if s.subtype == "senior" else town_of_community.get(s.division, 0), s.subtype or "primary")
        schools_by_town.setdefault(key, []).append(s)
    residents_by_age = {int(a): np.flatnonzero(ages == a) for a in range(3, 18)}

    _absence(ctx, schools, classes)
    _background_cases(ctx, as_of - timedelta(days=365 * case_years - 1), schools_by_town, classes)

    # Outbreaks, spread over the span; with ``recent_outbreaks`` a few end in the last days.
    n_outbreaks = max(3, round(outbreaks_per_year * days / 365))
    school_days = np.flatnonzero(school_day)
    kinds = ["school_norovirus", "school_ili", "community_hfmd"]
    starts = sorted(rng.integers(0, max(len(all_days) - 20, 1), size=n_outbreaks).tolist())
    if recent_outbreaks:
        starts[-3:] = [len(all_days) - int(rng.integers(3, 9)) for _ in range(min(3, len(starts)))]
    kindergartens = [(s, classes[s.id]) for s in schools if s.subtype == "kindergarten" and classes[s.id]]
    centroids = np.array([[c.lon, c.lat] for c in geo.communities])
    for k, start in enumerate(starts):
        kind = kinds[k % len(kinds)]
        if kind.startswith("school") and schools and len(school_days):
            after = school_days[school_days >= start]
            if not len(after):
                continue
            eligible = [
                s
                for s in schools
                if len(classes[s.id]) >= 4 and (kind == "school_ili" or s.subtype in ("kindergarten", "primary"))
            ]
            if not eligible:
                continue
            school = eligible[int(rng.integers(len(eligible)))]
            _inject_school(
                ctx, kind, school, classes[school.id], int(np.searchsorted(school_days, after[0])), residents_by_age
            )
        elif kind == "community_hfmd":
            community_index = int(
                rng.choice(
                    len(geo.communities), p=np.bincount(community, minlength=len(geo.communities)) / len(community)
                )
            )
            distance = np.hypot(*(centroids - centroids[community_index]).T)
            neighbours = [int(i) for i in np.argsort(distance)[1:3]]
            local_kg = [
                x
                for x in kindergartens
                if town_of_community.get(x[0].division) == geo.communities[community_index].parent
            ]
            _inject_hfmd(ctx, community_index, all_days[start].item(), neighbours, local_kg or kindergartens)
    for start, end, height in waves:
        ctx.truth.append(
            Truth(
                "seasonal_influenza",
                "case.influenza",
                "district",
                district_id,
                max(start, first),
                min(end, as_of),
                0,
                {"peak_factor": round(height, 2)},
            )
        )

    rows = {
        Feed.SCHOOL_ABSENCE: {k: v for k, v in ctx.absence.items()},
        Feed.CASE: {k: v for k, v in ctx.cases.items()},
        **facility_feeds(rng, days=all_days, flu=flu, population=len(ages), institutions=directory.institutions),
    }
    return Feeds(rows=rows, holidays=holidays, truth=ctx.truth, first_day=first, last_day=as_of)
