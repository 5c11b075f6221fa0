"""Every setting Markbook has, read once from ``MARKBOOK_*`` environment variables.

Nothing else in the code reads the environment: edges build one :class:`Settings`
(``get_settings()``) and pass it down.
"""

from __future__ import annotations

import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# Values people paste from examples. A server signing sessions and links with one
# of these would let anybody forge them, so we refuse to start.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "secret",
        "secret-key",
        "secret_key",
        "your-secret-key",
        "your_secret_key",
        "supersecret",
        "password",
        "markbook",
        "development",
        "dev",
        "test",
        "xxx",
    }
)
MIN_SECRET_LENGTH = 32


class InsecureSecretKey(ValueError):
    """MARKBOOK_SECRET_KEY holds a placeholder or a key too short to sign with."""


class Settings(BaseSettings):
    """Markbook's configuration. Each field is the variable ``MARKBOOK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MARKBOOK_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./markbook.db",
        description="SQLAlchemy URL of the database: a SQLite file, or "
        "`postgresql+psycopg://user@host/db` at scale.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis for the report cache and rate-limit counters; unset keeps them in "
        "process memory.",
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker (`redis://…` or `amqp://…`) for background jobs; unset runs "
        "jobs in a thread pool inside the server.",
    )
    export_dir: Path = Field(
        Path("./exports"),
        description="Directory for export files, shared by server and workers.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key that signs session cookies and download links (at least 32 "
        "characters). Unset: a random key is generated once and kept in a file next to the "
        "database.",
    )
    school_name: str = Field("Markbook School", description="Shown on reports and in the web UI.")
    log_level: str = Field("INFO", description="Python logging level name.")
    session_max_age_hours: int = Field(12, ge=1, description="How long a web sign-in lasts.")
    token_default_expiry_days: int | None = Field(
        90,
        ge=1,
        description="Lifetime of tokens from `POST /api/v1/auth/token`; empty for no expiry.",
    )
    redis_socket_timeout: float = Field(
        0.5, gt=0, description="Seconds before a Redis call is given up."
    )
    max_batch_rows: int = Field(
        10_000, ge=1, description="Most rows accepted by one write request."
    )
    report_cache_ttl_seconds: int = Field(
        900, ge=0, description="How long a computed report is cached; 0 turns the cache off."
    )

    export_max_rows: int = Field(
        5_000_000, ge=1, description="Most rows in one CSV, NDJSON, JSON or Parquet export."
    )
    export_xlsx_sheet_rows: int = Field(
        1_048_575,
        ge=1,
        le=1_048_575,
        description="Data rows per XLSX sheet (Excel's limit is 1,048,576 with the header); "
        "more continue on a next sheet.",
    )
    export_xlsx_max_rows: int = Field(
        5_000_000, ge=1, description="Most rows in one XLSX export, over all its sheets."
    )
    export_batch_rows: int = Field(
        16_384,
        ge=1,
        le=1_000_000,
        description="Rows an export reads and writes at a time (memory per export grows with it).",
    )

    job_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Jobs run at once by the in-process thread pool (no broker set).",
    )
    job_file_ttl_hours: float = Field(
        24, gt=0, description="How long a finished job's file is kept, then swept away."
    )
    job_link_ttl_seconds: int = Field(
        3600, ge=1, description="Default lifetime of a job's share link (at most the file's)."
    )
    job_heartbeat_timeout_seconds: float = Field(
        30,
        ge=1,
        description="A running job silent this long is taken to have lost its worker: it is "
        "run again, or failed once its attempts are used up.",
    )
    job_max_attempts: int = Field(
        3, ge=1, le=20, description="Times a job is started before it is failed for good."
    )
    job_time_limit_seconds: int = Field(
        21_600, ge=10, description="A job still running after this long is stopped and failed."
    )
    report_cards_part_students: int = Field(
        25,
        ge=1,
        le=10_000,
        description="Students per part of a report-cards job; Celery workers render parts in "
        "parallel.",
    )
    report_cards_max_students: int = Field(
        20_000, ge=1, description="Most students in one report-cards job."
    )

    rate_limit_bulk_per_minute: int = Field(
        10,
        ge=0,
        description="Requests per minute to the synchronous bulk report route, per user (per IP "
        "when signed out); 0 turns the limit off.",
    )
    rate_limit_jobs_per_minute: int = Field(
        30, ge=0, description="Jobs a user may start per minute; 0 turns the limit off."
    )
    rate_limit_requests_per_minute: int = Field(
        600,
        ge=0,
        description="Requests per minute to every other route, per user (per IP when signed "
        "out); 0 turns the limit off.",
    )

    @field_validator("token_default_expiry_days", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        # `postgresql://` would pick psycopg2, which we do not ship: use psycopg 3.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def secret_key_file(self) -> Path:
        """Where the generated key lives: beside the SQLite file, else the working dir."""
        url = make_url(self.database_url)
        if self.is_sqlite and url.database and url.database != ":memory:":
            db_path = Path(url.database)
            return db_path.with_name(db_path.name + ".secret")
        return Path("markbook.secret")

    def resolved_secret_key(self) -> str:
        """The signing key: the configured one (checked), or the generated one."""
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value()
            if key.strip().lower() in PLACEHOLDER_SECRETS:
                raise InsecureSecretKey(
                    "MARKBOOK_SECRET_KEY is a placeholder value. Set it to a long random "
                    "string, e.g. the output of `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`, or unset it to have one generated."
                )
            if len(key) < MIN_SECRET_LENGTH:
                raise InsecureSecretKey(
                    f"MARKBOOK_SECRET_KEY is {len(key)} characters long; use at least "
                    f"{MIN_SECRET_LENGTH} random characters, or unset it to have one generated."
                )
            return key
        return _generated_secret(self.secret_key_file())


def _generated_secret(path: Path) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Written to a private temporary file, then hard-linked into place: the link
    # fails if another process got there first, so two processes starting at once
    # agree on one key, and nobody ever reads a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    finally:
        tmp.unlink(missing_ok=True)
    log.info("generated a secret key in %s", path)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
