"""The README documents every setting, and CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from markbook.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _settings_table() -> dict[str, str]:
    rows = re.findall(r"^\| `(MARKBOOK_[A-Z_]+)` \| ([^|]+) \|", README, flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    documented = _settings_table()
    declared = {f"MARKBOOK_{name.upper()}" for name in Settings.model_fields}
    assert set(documented) == declared


def test_documented_defaults_match_the_code() -> None:
    documented = _settings_table()
    for name, field in Settings.model_fields.items():
        shown = documented[f"MARKBOOK_{name.upper()}"]
        if field.default is None:
            assert shown == "unset", name
        elif isinstance(field.default, Path):
            assert shown == f"`./{field.default}`", name
        else:
            assert shown == f"`{field.default}`", name


def _readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def test_readme_starts_with_the_run_and_test_commands() -> None:
    run, test = _readme_commands()[:2]
    assert "markbook serve --demo" in run
    assert "pytest" in test
    assert README.index(run) < README.index("## What Markbook is")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = _readme_commands()[1]
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci_script.splitlines()


def test_openapi_documents_error_answers_as_problem_json(tmp_path: Path) -> None:
    from markbook.app import create_app

    spec = create_app(
        Settings(database_url=f"sqlite:///{tmp_path}/docs.db", secret_key="d" * 40)
    ).openapi()
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/api/v1")
        for method, operation in methods.items()
    ]
    assert len(operations) >= 10
    for path, method, operation in operations:
        for status in ("401", "422"):
            content = operation["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], (path, method, status)
    writes = spec["paths"]["/api/v1/grades"]["post"]["responses"]
    assert "application/problem+json" in writes["413"]["content"]
