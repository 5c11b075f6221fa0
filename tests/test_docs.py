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
