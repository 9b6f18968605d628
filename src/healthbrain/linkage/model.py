"""The matcher: a Fellegi–Sunter model run by Splink 5 on DuckDB (in memory).

Each field is compared at a few levels (exact, pinyin, a swapped digit …); Splink estimates u from
random pairs, the prior from deterministic rules and m by expectation maximisation, then scores the
pairs the blocking rules bring together. Blocking is where recall is won or lost: a pair no rule
brings together is never scored. Spark runs the same settings beyond one machine.

No database session here: records in, scored pairs out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import duckdb
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.comparison_creator import ComparisonCreator

from healthbrain.linkage.features import Person, features

log = logging.getLogger("healthbrain.linkage")


@dataclass(frozen=True, slots=True)
class Level:
    key: str  # what the level means, for the evidence shown to a reviewer: exact, pinyin, transposed …
    sql: str
    null: bool = False


# Per field, the comparison levels from most to least alike; the last is "anything else".
COMPARISONS: Final[dict[str, tuple[Level, ...]]] = {
    "name": (
        Level("null", "name_py_l IS NULL OR name_py_r IS NULL", null=True),
        Level("exact", "name_l = name_r"),
        Level("pinyin", "name_py_l = name_py_r"),  # homophones, romanised names, traditional forms
        Level("pinyin_reversed", "name_py_l = name_py_rev_r OR name_py_rev_l = name_py_r"),
        Level("similar", "jaro_winkler_similarity(name_py_l, name_py_r) >= 0.9"),
        Level("initials", "initials_l = initials_r AND surname_py_l = surname_py_r"),
        Level("else", "ELSE"),
    ),
    "sex": (
        Level("null", "sex_l IS NULL OR sex_r IS NULL", null=True),
        Level("exact", "sex_l = sex_r"),
        Level("else", "ELSE"),
    ),
    "birth_date": (
        Level("null", "birth_date_l IS NULL OR birth_date_r IS NULL", null=True),
        Level("exact", "birth_date_l = birth_date_r"),
        Level("one_typo", "damerau_levenshtein(birth_date_l, birth_date_r) <= 1"),
        Level(
            "day_month_swapped",
            "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)"
            " AND substr(birth_date_l, 5, 2) = substr(birth_date_r, 7, 2)"
            " AND substr(birth_date_l, 7, 2) = substr(birth_date_r, 5, 2)",
        ),
        Level("same_year", "birth_year_l = birth_year_r"),
        Level("else", "ELSE"),
    ),
    "phone": (
        Level("null", "phone_l IS NULL OR phone_r IS NULL", null=True),
        Level("exact", "phone_l = phone_r"),
        Level("one_typo", "damerau_levenshtein(phone_l, phone_r) <= 1"),  # a swapped or mistyped digit
        Level("else", "ELSE"),
    ),
    "id_number": (
        Level("null", "id_number_l IS NULL OR id_number_r IS NULL", null=True),
        Level("exact", "id_number_l = id_number_r"),
        Level("one_typo", "damerau_levenshtein(id_number_l, id_number_r) <= 1"),
        Level("else", "ELSE"),
    ),
    "address": (
        Level("null", "address_l IS NULL OR address_r IS NULL", null=True),
        Level("exact", "address_l = address_r"),
        Level("similar", "jaro_winkler_similarity(address_l, address_r) >= 0.88"),
        Level("else", "ELSE"),
    ),
}

# Which pairs are scored at all: a pair must agree on at least one of these.
BLOCKING_RULES: Final = (
    ("name_py", "birth_year"),  # the same name sound, the same year of birth
    ("phone",),
    ("birth_date", "sex"),
    ("id_head",),  # the address code and birth date of an ID number
    ("initials", "birth_date"),
)

# Parameters used when there are too few records to train on (a new platform, a test): m and u of
# each level, as trained on the simulated Chinese duplicate set (`healthbrain link evaluate
# --dataset chinese`, seed 42), rounded.
DEFAULT_PRIOR: Final = 0.00001
DEFAULT_PARAMETERS: Final[dict[str, dict[str, tuple[float, float]]]] = {
    # m of a level never seen among matches in training is floored at 0.001.
    "name": {
        "exact": (0.658, 0.00003),
        "pinyin": (0.295, 0.00003),
        "pinyin_reversed": (0.007, 0.000004),
        "similar": (0.02, 0.0027),
        "initials": (0.0015, 0.00013),
        "else": (0.019, 0.997),
    },
    "sex": {"exact": (0.9995, 0.5007), "else": (0.0005, 0.4993)},
    "birth_date": {
        "exact": (0.884, 0.000053),
        "one_typo": (0.092, 0.0011),
        "day_month_swapped": (0.016, 0.000011),
        "same_year": (0.008, 0.0133),
        "else": (0.001, 0.9855),
    },
    "phone": {"exact": (0.694, 0.000018), "one_typo": (0.301, 0.000004), "else": (0.0043, 0.99998)},
    "id_number": {"exact": (0.71, 0.000005), "one_typo": (0.288, 0.000002), "else": (0.0027, 0.99999)},
    "address": {"exact": (0.608, 0.000097), "similar": (0.001, 0.0167), "else": (0.392, 0.983)},
}
MIN_RECORDS_TO_TRAIN: Final = 2000

_ARROW_SCHEMA = pa.schema(
    [
        ("unique_id", pa.int64()),
        ("name", pa.string()),
        ("name_py", pa.string()),
        ("name_py_rev", pa.string()),
        ("surname_py", pa.string()),
        ("initials", pa.string()),
        ("sex", pa.string()),
        ("birth_date", pa.string()),
        ("birth_year", pa.int32()),
        ("phone", pa.string()),
        ("id_number", pa.string()),
        ("id_head", pa.string()),
        ("address", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class ScoredPair:
    left_id: int  # left_id < right_id
    right_id: int
    probability: float
    match_weight: float
    evidence: dict[str, dict[str, Any]]  # field -> {"level": key, "weight": match weight}


@dataclass
class LinkageResult:
    pairs: list[ScoredPair]
    records: int
    pairs_scored: int
    trained: bool
    seconds: float
    parameters: dict[str, Any] = field(default_factory=dict)


def settings(*, trained: bool) -> SettingsCreator:
    comparisons: list[ComparisonCreator | dict[str, Any]] = []
    for name, levels in COMPARISONS.items():
        out: list[dict[str, Any]] = []
        for level in levels:
            spec: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.key}
            if level.null:
                spec["is_null_level"] = True
            elif not trained:
                m, u = DEFAULT_PARAMETERS[name][level.key]
                spec["m_probability"], spec["u_probability"] = m, u
            if name == "name" and level.key == "exact":
                spec["tf_adjustment_column"] = "name"  # 王伟 agrees more often by chance than 诸葛亮
            out.append(spec)
        comparisons.append({"output_column_name": name, "comparison_levels": out})
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in BLOCKING_RULES],
        probability_two_random_records_match=DEFAULT_PRIOR,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,  # Splink keeps the gamma_ columns only with it
    )


def gamma_keys() -> dict[str, dict[int, str]]:
    """Splink's comparison vector value of each level: -1 for the null level, then counting down
    from the most alike level to 0 for "anything else"."""
    keys: dict[str, dict[int, str]] = {}
    for name, levels in COMPARISONS.items():
        non_null = [lv for lv in levels if not lv.null]
        keys[name] = {-1: "null", **{len(non_null) - 1 - i: lv.key for i, lv in enumerate(non_null)}}
    return keys


def _train(linker: Linker, *, seed: int) -> None:
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("name", "birth_date"), block_on("phone", "birth_date", "sex")], recall=0.7
    )
    training.estimate_u_using_random_sampling(max_pairs=3e6, seed=seed)
    # Each session fixes the fields it blocks on and estimates m of the others.
    training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    training.estimate_parameters_using_expectation_maximisation(block_on("name_py"))


def _trained_parameters(linker: Linker) -> dict[str, Any]:
    model = linker.misc.save_model_to_json()
    out: dict[str, Any] = {"prior": model.get("probability_two_random_records_match"), "m_u": {}}
    for comparison in model.get("comparisons", []):
        levels = {
            lv.get("label_for_charts"): [
                round(lv["m_probability"], 6) if lv.get("m_probability") is not None else None,
                round(lv["u_probability"], 6) if lv.get("u_probability") is not None else None,
            ]
            for lv in comparison["comparison_levels"]
            if not lv.get("is_null_level")
        }
        out["m_u"][comparison["output_column_name"]] = levels
    return out


def link(
    persons: Sequence[Person],
    *,
    threshold: float,
    train: bool | None = None,
    seed: int = 42,
) -> LinkageResult:
    """Score the likely duplicate pairs among ``persons`` at or above ``threshold`` (a match
    probability). ``train`` defaults to training when there are enough records."""
    started = time.perf_counter()
    rows = [features(p) for p in persons]
    do_train = len(rows) >= MIN_RECORDS_TO_TRAIN if train is None else train
    if len(rows) < 2:
        return LinkageResult([], len(rows), 0, False, time.perf_counter() - started)
    con = duckdb.connect()
    try:
        con.register("records_arrow", pa.Table.from_pylist(rows, schema=_ARROW_SCHEMA))
        con.execute("CREATE TABLE records AS SELECT * FROM records_arrow")
        con.unregister("records_arrow")
        api = DuckDBAPI(con)
        linker = Linker(api.register("records"), settings(trained=do_train), log_level=None)
        fallback: str | None = None
        if do_train:
            try:
                _train(linker, seed=seed)
            except Exception as exc:
                # A district with few duplicates can leave a level with no matches, and Splink then
                # refuses an m probability of 0. Score with the shipped parameters instead of failing.
                fallback = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("linkage training failed, scoring with the shipped parameters: %s", fallback)
                do_train = False
                linker = Linker(api.register("records"), settings(trained=False), log_level=None)
        logging.getLogger("splink").setLevel(logging.WARNING)
        predicted = linker.inference.predict(warning_mode="never")
        table = predicted.physical_name
        (scored,) = con.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)  # noqa: S608 (Splink's own table name)
        wanted = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
        for name in COMPARISONS:
            # The name's weight includes its term-frequency adjustment (a common name agrees by chance).
            mw = f"mw_{name} + coalesce(mw_tf_adj_{name}, 0)" if name == "name" else f"mw_{name}"
            wanted += [f"gamma_{name}", mw]
        selected = con.execute(
            f"SELECT {', '.join(wanted)} FROM {table} WHERE match_probability >= ? ORDER BY unique_id_l, unique_id_r",  # noqa: S608
            [threshold],
        ).fetchall()
        parameters = _trained_parameters(linker) if do_train else {"prior": DEFAULT_PRIOR, "m_u": "defaults"}
        if fallback:
            parameters["training_failed"] = fallback
    finally:
        con.close()
    keys = gamma_keys()
    pairs: list[ScoredPair] = []
    for row in selected:
        left, right, probability, weight = int(row[0]), int(row[1]), float(row[2]), float(row[3])
        evidence: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(COMPARISONS):
            gamma, mw = row[4 + 2 * i], row[5 + 2 * i]
            evidence[name] = {"level": keys[name].get(int(gamma), str(gamma)), "weight": round(float(mw or 0.0), 2)}
        if left > right:
            left, right = right, left
        pairs.append(ScoredPair(left, right, probability, weight, evidence))
    return LinkageResult(
        pairs=pairs,
        records=len(rows),
        pairs_scored=int(scored),
        trained=do_train,
        seconds=time.perf_counter() - started,
        parameters=parameters,
    )
