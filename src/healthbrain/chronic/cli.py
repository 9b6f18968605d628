"""``healthbrain chronic …``: chronic-disease management from the command line (慢病管理)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from healthbrain.cli_common import DatabaseOpt, DataDirOpt, console, open_database, settings_for
from healthbrain.core.time import to_local, utcnow

app = typer.Typer(help="Chronic-disease management (慢病管理).", no_args_is_help=True)

LOCAL_BROKER = "mqtt://127.0.0.1:1883"


@app.command("mqtt")
def mqtt(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Broker: mqtt://host:port, mqtts://host:port (TLS), with user:password@ before the host if needed "
            f"(default: HEALTHBRAIN_MQTT_URL, else {LOCAL_BROKER}).",
        ),
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Topic filter; its '+' level is the device id (default: HEALTHBRAIN_MQTT_TOPIC).")
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(help="MQTT client id of the persistent session (default: HEALTHBRAIN_MQTT_CLIENT_ID)."),
    ] = None,
    database_url: DatabaseOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Receive home-monitoring readings over MQTT in the foreground until Ctrl-C, one line per batch.

    Do not run it next to a server that listens with the same client id: the broker would hand the session back and forth between them.
    """
    from healthbrain.chronic.mqtt import BatchReport, MqttListener
    from healthbrain.core.logging import configure_logging

    settings = settings_for(database_url, data_dir)
    configure_logging("WARNING", json_lines=settings.log_json)  # batches are printed; problems logged
    database = open_database(settings)
    try:
        database.ping()
    except Exception as exc:
        console.print(f"[red]the database does not answer: {exc}[/]")
        raise typer.Exit(2) from None

    def printed(report: BatchReport) -> None:
        r = report.result
        alerts = f", alerts {', '.join(map(str, r.alerts))}" if r.alerts else ""
        retried = f", {report.attempts} attempts" if report.attempts > 1 else ""
        console.print(
            f"{to_local(utcnow()):%H:%M:%S} batch {r.batch_id}: {report.messages} messages, {r.received} readings: "
            f"inserted {r.inserted}, duplicates {r.duplicates}, rejected {r.rejected}, critical {r.critical}"
            f"{alerts} ({report.ms:.0f} ms{retried})",
            highlight=False,
        )
        for e in r.errors[:5]:
            console.print(f"  row {e.row} {e.field or ''}: {e.message}", style="dim", highlight=False)
        if len(r.errors) > 5:
            console.print(f"  … {len(r.errors) - 5} more rejected rows in batch {r.batch_id}", style="dim")

    try:
        listener = MqttListener(
            database,
            url=url or settings.mqtt_url or LOCAL_BROKER,
            topic=topic or settings.mqtt_topic,
            client_id=client_id or settings.mqtt_client_id,
            on_batch=printed,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: leave without storing what is queued
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    listener.start()
    try:
        where = f"{listener.broker.display} topic {listener.topic} as {listener.client_id}"
        if listener.wait_ready(10):
            console.print(f"listening to {where} (QoS 1, persistent session); Ctrl-C to stop", highlight=False)
        else:
            console.print(f"[yellow]no answer yet from {where}; retrying in the background[/]; Ctrl-C to stop")
        while not stop.wait(0.5):
            pass
        console.print("stopping: storing what was received …")
    finally:
        listener.stop()
    console.print(f"stopped after {listener.messages} messages", highlight=False)
