"""Record-linkage benchmark (issue #5, item 4): precision, recall and F1 with the threshold sweep,
pairs compared, blocking recall and time, on FEBRL 4 and on the simulated Chinese duplicate set.

    .venv/bin/python bench/linkage.py [--residents 20000] [--seed 42]

Prints Markdown rows for docs/benchmarks.md. The same figures come from
``healthbrain link evaluate --dataset febrl4|chinese``.
"""

from __future__ import annotations

import argparse

from healthbrain.linkage.evaluate import Evaluation, evaluate_chinese, evaluate_febrl4


def markdown(result: Evaluation) -> str:
    lines = [
        f"**{result.dataset}**: {result.records:,} records, {result.true_pairs:,} true pairs, "
        f"{result.pairs_scored:,} pairs compared (blocking recall {result.blocking_recall:.4f}), "
        f"{result.seconds:.1f} s end to end",
        "",
        "| threshold | predicted | true positives | precision | recall | F1 |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in result.scores:
        lines.append(
            f"| {s.threshold:g} | {s.predicted:,} | {s.true_positives:,} | {s.precision:.4f} | {s.recall:.4f} | {s.f1:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(markdown(evaluate_febrl4(seed=args.seed)))
    print()
    print(markdown(evaluate_chinese(residents=args.residents, seed=args.seed)))


if __name__ == "__main__":
    main()
