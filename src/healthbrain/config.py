"""One typed settings object for the whole platform (environment prefix ``HEALTHBRAIN_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from the environment (``HEALTHBRAIN_DATABASE_URL`` …) or a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="HEALTHBRAIN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Local data folder (the SQLite file).")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite in data_dir. "
        "PostgreSQL: postgresql://user@host:5432/dbname (driver psycopg 3).",
    )
    session_hours: int = 12
    api_token_days: int = 90
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    cookie_secure: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    db_echo: bool = False
    detection_pass_minutes: float = Field(
        default=60.0, ge=0, description="How often the server runs the full detection pass (0: never)."
    )
    notification_poll_seconds: float = Field(
        default=10.0, gt=0, description="How often the server retries pending alert notifications."
    )
    mqtt_url: str | None = Field(
        default=None,
        description="MQTT broker the home-monitoring devices publish to: mqtt://host:1883, or mqtts://host:8883 "
        "(TLS), optionally with user:password@ before the host. Unset: the server does not listen.",
    )
    mqtt_topic: str = Field(
        default="healthbrain/devices/+/readings",
        description="Topic filter of the devices' readings (QoS 1); its one '+' level is the device id.",
    )
    mqtt_client_id: str = Field(
        default="healthbrain",
        min_length=1,
        description="MQTT client id. Fixed, so the broker keeps the persistent session and queues the devices' "
        "messages while the platform is down; each listening process needs its own.",
    )

    @property
    def resolved_database_url(self) -> str:
        return normalise_database_url(self.database_url or f"sqlite:///{self.data_dir / 'healthbrain.sqlite3'}")


def normalise_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and route them to psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
