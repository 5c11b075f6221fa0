"""File names of downloads, and the Content-Disposition header (RFC 6266)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from markbook.downloads import ascii_name, content_disposition, file_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("José Núñez", "Jose_Nunez"),
        ("Siobhán O'Brien", "Siobhan_O_Brien"),
        ('Mary "Molly" Jones', "Mary_Molly_Jones"),
        ("Smith, Jr.", "Smith_Jr"),
        ("Анна Иванова", ""),  # no Latin form: the caller picks a fallback
        ("李雷", ""),
        ("../../etc/passwd", "etc_passwd"),
    ],
)
def test_ascii_name(name: str, expected: str) -> None:
    assert ascii_name(name) == expected


def test_file_name_keeps_the_script_but_not_separators_or_controls() -> None:
    assert file_name("Анна Иванова_performance.pdf") == "Анна_Иванова_performance.pdf"
    assert file_name("a/b\\c:d\x00e\nf.csv") == "a_b_c_d_e_f.csv"
    assert file_name("...") == "download"
    assert len(file_name("x" * 500)) == 150


def test_content_disposition_has_both_names_and_stays_ascii() -> None:
    header = content_disposition("Анна_Иванова.pdf", "student-7.pdf")
    header.encode("ascii")
    assert header.startswith("attachment; filename=\"student-7.pdf\"; filename*=UTF-8''")
    assert unquote(header.split("UTF-8''", 1)[1]) == "Анна_Иванова.pdf"
    # A quote or semicolon in the name cannot end the parameter early.
    tricky = content_disposition('a"; filename="evil.exe', "a.pdf")
    assert tricky.count('"') == 2 and "evil.exe" not in tricky.split("filename*")[0]
