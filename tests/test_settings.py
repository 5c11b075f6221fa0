"""Settings: read from MARKBOOK_* variables once; secrets checked or generated."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from markbook.app import create_app
from markbook.settings import InsecureSecretKey, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MARKBOOK_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings()
    assert settings.database_url == "sqlite:///./markbook.db"
    assert settings.redis_url is None
    assert settings.broker_url is None
    assert settings.export_dir == Path("exports")
    assert settings.secret_key is None
    assert settings.is_sqlite


def test_values_come_from_markbook_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKBOOK_DATABASE_URL", "postgresql://alice@db.internal/school")
    monkeypatch.setenv("MARKBOOK_REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("MARKBOOK_SCHOOL_NAME", "Lycée Émile Zola")
    monkeypatch.setenv("MARKBOOK_TOKEN_DEFAULT_EXPIRY_DAYS", "")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///ignored.db")
    settings = Settings()
    # psycopg 3 is the driver we ship; a bare postgresql:// URL would ask for psycopg2.
    assert settings.database_url == "postgresql+psycopg://alice@db.internal/school"
    assert not settings.is_sqlite
    assert settings.redis_url == "redis://cache:6379/2"
    assert settings.school_name == "Lycée Émile Zola"
    assert settings.token_default_expiry_days is None


@pytest.mark.parametrize("placeholder", ["changeme", "CHANGEME", "secret", " your-secret-key "])
def test_placeholder_secret_is_refused(placeholder: str) -> None:
    with pytest.raises(InsecureSecretKey, match="placeholder"):
        Settings(secret_key=placeholder).resolved_secret_key()


def test_short_secret_is_refused_and_app_does_not_start(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/a.db", secret_key="short but not a placeholder"
    )
    with pytest.raises(InsecureSecretKey, match="at least 32"):
        create_app(settings)


def test_good_secret_is_used_as_given() -> None:
    key = "k" * 48
    assert Settings(secret_key=key).resolved_secret_key() == key


def test_generated_secret_is_kept_next_to_the_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/school.db")
    first = settings.resolved_secret_key()
    key_file = tmp_path / "school.db.secret"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 48
    assert Settings(database_url=f"sqlite:///{tmp_path}/school.db").resolved_secret_key() == first
    other = Settings(database_url=f"sqlite:///{tmp_path}/other.db").resolved_secret_key()
    assert other != first
    assert not list(tmp_path.glob(".*.tmp"))


def test_generated_secret_for_postgres_lives_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(database_url="postgresql+psycopg://u@h/db")
    assert settings.secret_key_file() == Path("markbook.secret")
    key = settings.resolved_secret_key()
    assert (tmp_path / "markbook.secret").read_text().strip() == key
