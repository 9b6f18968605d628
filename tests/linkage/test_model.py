"""The matcher (Splink on DuckDB, in memory) and the evaluation arithmetic, on small sets with
known truth; no platform database."""

from __future__ import annotations

from datetime import date

import pytest

from healthbrain.linkage.evaluate import scores
from healthbrain.linkage.features import Person
from healthbrain.linkage.model import COMPARISONS, gamma_keys, link
from healthbrain.sim.duplicates import make_duplicate_set


@pytest.mark.parametrize(
    ("predicted", "truth", "threshold", "expected"),
    [
        ({(1, 2): 0.9, (3, 4): 0.6, (5, 6): 0.2}, {(1, 2), (5, 6)}, 0.5, (2, 1, 0.5, 0.5)),
        ({(1, 2): 0.9, (3, 4): 0.6, (5, 6): 0.2}, {(1, 2), (5, 6)}, 0.1, (3, 2, 2 / 3, 1.0)),
        ({(1, 2): 0.9}, {(1, 2)}, 0.95, (0, 0, 1.0, 0.0)),
        ({}, set(), 0.5, (0, 0, 1.0, 1.0)),
    ],
)
def test_scores(
    predicted: dict[tuple[int, int], float],
    truth: set[tuple[int, int]],
    threshold: float,
    expected: tuple[int, int, float, float],
) -> None:
    (s,) = scores(predicted, truth, [threshold])
    assert (s.predicted, s.true_positives) == expected[:2]
    assert s.precision == pytest.approx(expected[2])
    assert s.recall == pytest.approx(expected[3])
    p, r = expected[2], expected[3]
    assert s.f1 == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)


def test_gamma_keys_count_down_to_else() -> None:
    keys = gamma_keys()
    assert keys["sex"] == {-1: "null", 1: "exact", 0: "else"}
    assert keys["name"][-1] == "null"
    assert keys["name"][len(COMPARISONS["name"]) - 2] == "exact"
    assert keys["name"][0] == "else"


PEOPLE = [
    Person(1, "曾国藩", "M", date(1956, 8, 26), "15609624156", "330199195608260571", "新洲镇康桥社区和平路137号"),
    Person(2, "Zeng Guofan", "M", date(1956, 8, 26), "15606924156", None, "新洲镇康桥社区和平路一三七号"),
    Person(3, "王伟", "M", date(1980, 1, 2), "13800000001", "330199198001020011", "东湖路1号"),
    Person(4, "王玮", "M", date(1980, 2, 1), "13800000001", None, "东湖路1号"),  # day and month swapped
    Person(5, "李娜", "F", date(1990, 5, 5), "13900000002", "330199199005050022", "西山路2号"),
    Person(6, "李娜", "F", date(1991, 7, 9), "13700000003", "330199199107090043", "南湖路9号"),  # namesake
    Person(7, "赵敏", "F", date(1970, 3, 3), "13500000004", "330199197003030024", "北塘路5号"),
]


def test_link_finds_the_duplicates_and_not_the_namesake() -> None:
    result = link(PEOPLE, threshold=0.5, train=False)
    found = {(p.left_id, p.right_id): p for p in result.pairs}
    assert set(found) == {(1, 2), (3, 4)}
    assert all(p.left_id < p.right_id for p in result.pairs)
    assert found[(1, 2)].evidence["name"]["level"] == "pinyin"
    assert found[(1, 2)].evidence["phone"]["level"] == "one_typo"
    assert found[(1, 2)].evidence["address"]["level"] == "exact"
    assert found[(1, 2)].evidence["id_number"]["level"] == "null"
    assert found[(3, 4)].evidence["birth_date"]["level"] == "day_month_swapped"
    assert found[(3, 4)].evidence["name"]["weight"] > 0
    assert result.records == len(PEOPLE)
    assert result.pairs_scored >= 2
    assert not result.trained


def test_link_of_fewer_than_two_records() -> None:
    assert link(PEOPLE[:1], threshold=0.5).pairs == []


def test_duplicate_set_is_deterministic_and_its_truth_consistent() -> None:
    a = make_duplicate_set(600, seed=3)
    b = make_duplicate_set(600, seed=3)
    assert [r.name for r in a.records] == [r.name for r in b.records]
    assert a.truth == b.truth
    ids = {r.id for r in a.records}
    assert len(ids) == len(a.records)
    assert all(x < y and x in ids and y in ids for x, y in a.truth)
    assert len(a.clusters) == 60
    kinds = {k for v in a.corruptions.values() for k in v}
    assert {"id_missing", "romanised"} <= kinds


def test_link_on_a_small_simulated_set_is_accurate() -> None:
    data = make_duplicate_set(1500, seed=5)
    result = link(data.records, threshold=0.5, train=False)
    (s,) = scores({(p.left_id, p.right_id): p.probability for p in result.pairs}, data.truth, [0.5])
    assert s.precision > 0.95
    assert s.recall > 0.9


def test_a_training_failure_falls_back_to_the_shipped_parameters() -> None:
    """Splink's EM refuses data where a training rule finds no pairs (a small district with no two
    people sharing a birth date): the run scores with the shipped parameters and says why."""
    names = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周强", "吴芳"] * 6
    people = [
        Person(
            i,
            n,
            "M" if i % 2 else "F",
            date(1950 + i % 40, 1 + i % 12, 1 + i % 27),
            f"138{i:08d}",
            None,
            f"东湖路{i}号",
        )
        for i, n in enumerate(names, start=1)
    ]
    result = link(people, threshold=0.5, train=True)
    assert result.trained is False
    assert "birth_date" in result.parameters["training_failed"]
    assert result.records == 60
