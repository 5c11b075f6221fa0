"""ExportSpec parsing and plan_export's checks; no caller text ever becomes SQL.

No database here: plan_export only builds statements, which are compiled for both
dialects and searched for the caller's text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from markbook.auth.models import Role, User
from markbook.errors import Forbidden, InvalidInput, NotFound
from markbook.exports.datasets import DATASETS, STUDENT_ID, Dataset
from markbook.exports.query import POSTGRESQL, SQLITE, compiled
from markbook.exports.spec import (
    MAX_ID,
    Condition,
    ExportFormat,
    ExportPlan,
    ExportSpec,
    dataset_named,
    parse_filter,
    plan_export,
    too_many_rows,
)
from markbook.exports.writers.cells import Column, Kind
from markbook.settings import Settings

ADMIN = User(id=1, role=Role.admin.value, email="admin@example.org", name="Admin")
TEACHER = User(id=2, role=Role.teacher.value, email="teacher@example.org", name="Teacher")
SETTINGS = Settings(
    database_url="sqlite:///unused.db",
    secret_key="test-secret-" + "x" * 40,
    export_max_rows=1000,
    export_xlsx_max_rows=500,
    export_xlsx_sheet_rows=100,
)
DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]
}
# What source.read compiles with (positional parameters, lists expanded).
READER_DIALECTS: dict[str, Dialect] = {"sqlite": SQLITE, "postgresql": POSTGRESQL}


def plan(
    dataset: str,
    fmt: ExportFormat = ExportFormat.csv,
    *,
    user: User = ADMIN,
    dialect: str = "sqlite",
    **spec: Any,
) -> ExportPlan:
    return plan_export(DATASETS[dataset], ExportSpec(**spec), fmt, user, SETTINGS, dialect=dialect)


def invalid(dataset: str, fmt: ExportFormat = ExportFormat.csv, **spec: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        plan(dataset, fmt, **spec)
    error = caught.value
    assert error.status == 422
    assert error.errors and error.errors[0]["field"] and error.errors[0]["message"]
    return error


# --- ExportSpec -----------------------------------------------------------------------


def test_defaults() -> None:
    spec = ExportSpec()
    assert spec.columns is None and spec.student_ids is None and spec.filter == []
    assert spec.delimiter == "," and spec.encoding == "utf-8-sig" and spec.formula_guard


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("name,email", ["name", "email"]),
        (" name , email ,", ["name", "email"]),
        (["name,email", "sis_id"], ["name", "email", "sis_id"]),
        (["name", "email"], ["name", "email"]),
        ("", None),  # a blank form field: not given
    ],
)
def test_columns_comma_lists_and_repeats(given: Any, expected: list[str] | None) -> None:
    assert ExportSpec(columns=given).columns == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1,2", [1, 2]),
        (["1,2", "3"], [1, 2, 3]),
        (["4", "5"], [4, 5]),
        ([6, 7], [6, 7]),
        (str(MAX_ID), [MAX_ID]),
    ],
)
def test_ids_comma_lists_and_repeats(given: Any, expected: list[int]) -> None:
    assert ExportSpec(student_ids=given).student_ids == expected
    assert ExportSpec(course_ids=given).course_ids == expected


def test_metric_types_and_sort_split_on_commas() -> None:
    spec = ExportSpec(metric_types=["logins,time_on_task", "quiz"], sort="-student_name,value")
    assert spec.metric_types == ["logins", "time_on_task", "quiz"]
    assert spec.sort == ["-student_name", "value"]


@pytest.mark.parametrize("bad", ["0", "-1", str(MAX_ID + 1), "abc", "1.5", ["1,x"]])
def test_ids_out_of_range_or_not_numbers(bad: Any) -> None:
    with pytest.raises(ValidationError):
        ExportSpec(student_ids=bad)
    with pytest.raises(ValidationError):
        ExportSpec(course_ids=bad)


def test_too_many_ids() -> None:
    with pytest.raises(ValidationError):
        ExportSpec(student_ids=list(range(1, 1002)))
    assert len(ExportSpec(student_ids=list(range(1, 1001))).student_ids or []) == 1000


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (",", ","),
        (";", ";"),
        ("\t", "\t"),
        ("|", "|"),
        ("comma", ","),
        ("semicolon", ";"),
        ("tab", "\t"),
        ("pipe", "|"),
    ],
)
def test_delimiter_names(given: str, expected: str) -> None:
    assert ExportSpec(delimiter=given).delimiter == expected


@pytest.mark.parametrize("bad", [":", "\\t", "TAB", "", ",,", "a", "\n", '"'])
def test_unknown_delimiter(bad: str) -> None:
    with pytest.raises(ValidationError, match="use one of"):
        ExportSpec(delimiter=bad)


def test_start_after_end_is_refused() -> None:
    with pytest.raises(ValidationError, match="is after end"):
        ExportSpec(start="2024-02-01", end="2024-01-31")
    same = ExportSpec(start="2024-01-31", end="2024-01-31")
    assert same.start == same.end == dt.date(2024, 1, 31)
    assert ExportSpec(start="2024-01-01").end is None


@pytest.mark.parametrize("extra", [{"colums": "name"}, {"format": "csv"}, {"sql": "1"}])
def test_extra_fields_are_forbidden(extra: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ExportSpec(**extra)


@pytest.mark.parametrize("bad", ["a\nb", "\r", "x\r\n", "\x00"])
def test_null_text_must_be_one_line(bad: str) -> None:
    with pytest.raises(ValidationError, match="one line"):
        ExportSpec(null=bad)
    assert ExportSpec(null="NULL").null == "NULL"


@pytest.mark.parametrize(
    "bad",
    [
        {"limit": 0},
        {"null": "x" * 21},
        {"encoding": "latin-1"},
        {"compress": "zip"},
        {"date_format": "dd/mm"},
        {"filter": ["x" * 1001]},
        {"filter": ["a:eq:b"] * 51},
        {"sort": ["a"] * 11},
        {"metric_types": ["m" * 65]},
    ],
)
def test_other_bounds(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ExportSpec(**bad)


# --- plan_export: datasets and columns -------------------------------------------------


def test_unknown_dataset_and_admin_only() -> None:
    with pytest.raises(NotFound, match="no dataset 'nope'"):
        dataset_named("nope", ADMIN)
    with pytest.raises(Forbidden):
        dataset_named("audit_events", TEACHER)
    assert dataset_named("audit_events", ADMIN).name == "audit_events"


def test_unknown_column_lists_the_valid_ones() -> None:
    error = invalid("students", columns="name,nope")
    assert error.errors is not None
    assert error.errors[0]["field"] == "columns"
    assert error.errors[0]["valid"] == ["student_id", "sis_id", "name", "email", "grade_level"]
    assert "nope" in error.detail and "grade_level" in error.detail


def test_hidden_columns_are_not_columns() -> None:
    for name in (STUDENT_ID, "_sum", "_sum_squares"):
        invalid("class_analytics", columns=f"course_id,{name}")


def test_unknown_sort_column_lists_the_valid_ones() -> None:
    error = invalid("students", sort="-nope")
    assert error.errors is not None
    assert error.errors[0]["field"] == "sort"
    assert "name" in error.errors[0]["valid"]


def test_duplicate_column() -> None:
    error = invalid("students", columns=["name", "email,name"])
    assert "name" in error.detail and "twice" in error.detail


def test_columns_pick_and_order() -> None:
    picked = plan("students", columns="email,name")
    assert [column.name for column in picked.columns] == ["email", "name"]
    assert list(picked.statement.selected_columns.keys()) == ["email", "name", STUDENT_ID]
    every = plan("students")
    assert [column.name for column in every.columns] == [
        column.name for column in DATASETS["students"].columns
    ]


def test_student_ids_on_a_dataset_that_does_not_take_them() -> None:
    error = invalid("courses", student_ids="1")
    assert error.errors is not None and error.errors[0]["field"] == "student_ids"
    error = invalid("class_analytics", student_ids="1")
    assert error.errors is not None and error.errors[0]["field"] == "student_ids"
    error = invalid("grades", metric_types="logins")
    assert error.errors is not None and error.errors[0]["field"] == "metric_types"
    error = invalid("tutor_weekly_reports", course_ids="1")
    assert error.errors is not None and error.errors[0]["field"] == "course_ids"


def test_start_end_on_a_dataset_without_a_date_column() -> None:
    periods: list[dict[str, Any]] = [{"start": "2024-01-01"}, {"end": "2024-01-01"}]
    for period in periods:
        error = invalid("students", **period)
        assert error.errors is not None and error.errors[0]["field"] == "start"
    plan("grades", start="2024-01-01", end="2024-12-31")


@pytest.mark.parametrize("fmt", [ExportFormat.csv, ExportFormat.parquet, ExportFormat.json])
def test_chart_only_for_class_analytics_as_xlsx(fmt: ExportFormat) -> None:
    error = invalid("class_analytics", fmt, chart=True)
    assert error.errors is not None and error.errors[0]["field"] == "chart"
    error = invalid("grades", ExportFormat.xlsx, chart=True)
    assert error.errors is not None and error.errors[0]["field"] == "chart"
    assert plan("class_analytics", ExportFormat.xlsx, chart=True).spec.chart


@pytest.mark.parametrize("fmt", [ExportFormat.xlsx, ExportFormat.parquet])
def test_gzip_only_for_text_formats(fmt: ExportFormat) -> None:
    error = invalid("students", fmt, compress="gzip")
    assert error.errors is not None and error.errors[0]["field"] == "compress"


@pytest.mark.parametrize("fmt", [ExportFormat.csv, ExportFormat.ndjson, ExportFormat.json])
def test_gzip_for_text_formats(fmt: ExportFormat) -> None:
    assert plan("students", fmt, compress="gzip").spec.compress == "gzip"


@pytest.mark.parametrize("column", ["week_start", "iso_week"])
def test_week_columns_need_weekly(column: str) -> None:
    error = invalid("class_analytics", columns=f"course_id,{column}")
    assert error.errors is not None and error.errors[0]["field"] == "columns"
    weekly = plan("class_analytics", columns=f"course_id,{column}", weekly=True)
    assert [c.name for c in weekly.columns] == ["course_id", column]


def test_class_analytics_default_columns_follow_weekly() -> None:
    plain = [c.name for c in plan("class_analytics").columns]
    weekly = [c.name for c in plan("class_analytics", weekly=True).columns]
    assert "week_start" not in plain and "iso_week" not in plain
    assert weekly[3:5] == ["week_start", "iso_week"]


def test_computed_columns_cannot_be_sorted() -> None:
    for name in ("std_dev", "-iso_week"):
        error = invalid("class_analytics", sort=name, weekly=True)
        assert error.errors is not None and error.errors[0]["field"] == "sort"


def test_row_limits_by_format() -> None:
    assert plan("grades").max_rows == 1000
    xlsx = plan("grades", ExportFormat.xlsx)
    assert xlsx.max_rows == 500 and xlsx.sheet_rows == 100
    assert "1,001" in too_many_rows(plan("grades"), 1001).detail
    assert "MARKBOOK_EXPORT_XLSX_MAX_ROWS" in too_many_rows(xlsx, 501).detail


# --- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["status", "status:eq", ":eq:late", "status::late", "", "::", "status-eq-late"],
)
def test_filter_missing_parts(text: str) -> None:
    error = invalid("grades", filter=[text])
    assert error.errors is not None and error.errors[0]["field"] == "filter"
    assert "column:op:value" in error.detail


@pytest.mark.parametrize("op", ["like", "EQ", "between", "neq", "regex"])
def test_filter_unknown_operator(op: str) -> None:
    error = invalid("grades", filter=[f"status:{op}:late"])
    assert "Unknown filter operator" in error.detail


def test_filter_unknown_column_lists_the_valid_ones() -> None:
    error = invalid("grades", filter=["nope:eq:1"])
    assert error.errors is not None
    assert error.errors[0]["field"] == "filter"
    assert "status" in error.errors[0]["valid"]


# A dataset with a column of every kind, for parse_filter (no dataset has a boolean).
EVERY_KIND = Dataset(
    "every_kind",
    "test",
    tuple(Column(kind.value, kind.value, kind) for kind in Kind if kind is not Kind.MIXED),
    build=lambda scope: None,  # type: ignore[arg-type,return-value]
)


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        (Kind.INTEGER, "abc"),
        (Kind.INTEGER, "1.5"),
        (Kind.INTEGER, ""),
        (Kind.INTEGER, str(MAX_ID + 1)),
        (Kind.INTEGER, str(-MAX_ID - 1)),
        (Kind.DECIMAL, "abc"),
        (Kind.DECIMAL, "nan"),
        (Kind.DECIMAL, "inf"),
        (Kind.DECIMAL, "1e999"),
        (Kind.FLOAT, "-Infinity"),
        (Kind.FLOAT, "1,5"),
        (Kind.DATE, "2024-13-01"),
        (Kind.DATE, "15.01.2024"),
        (Kind.DATE, "2023-02-29"),
        (Kind.DATE, ""),
        (Kind.DATETIME, "yesterday"),
        (Kind.DATETIME, "2024-01-15 25:00"),
        (Kind.BOOLEAN, "yes"),
        (Kind.BOOLEAN, "1"),
        (Kind.BOOLEAN, ""),
        (Kind.TEXT, "x" * 201),
        (Kind.TEXT, "a\x00b"),
    ],
)
def test_filter_value_of_the_wrong_kind(kind: Kind, bad: str) -> None:
    for text in (f"{kind.value}:eq:{bad}", f"{kind.value}:in:ok|{bad}"):
        with pytest.raises(InvalidInput) as caught:
            parse_filter(EVERY_KIND, text)
        assert caught.value.errors is not None
        assert caught.value.errors[0]["field"] == "filter"
        assert f"{kind.value} is {kind.value}" in caught.value.detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("integer:eq:42", Condition("integer", "eq", 42)),
        ("integer:ge:-7", Condition("integer", "ge", -7)),
        # A decimal column holds figures to the cent, so its filter value is one too.
        ("decimal:lt:2.675", Condition("decimal", "lt", 2.68)),
        ("float:gt:1e-3", Condition("float", "gt", 0.001)),
        ("date:le:2024-02-29", Condition("date", "le", dt.date(2024, 2, 29))),
        (
            "datetime:ge:2024-01-15T14:30:45+02:00",
            Condition("datetime", "ge", dt.datetime(2024, 1, 15, 12, 30, 45, tzinfo=dt.UTC)),
        ),
        (
            "datetime:lt:2024-01-15",
            Condition("datetime", "lt", dt.datetime(2024, 1, 15, tzinfo=dt.UTC)),
        ),
        ("boolean:eq:TRUE", Condition("boolean", "eq", True)),
        ("boolean:ne:false", Condition("boolean", "ne", False)),
        ("text:eq:a:b:c", Condition("text", "eq", "a:b:c")),
        ("text:eq:", Condition("text", "eq", "")),
        ("text:contains:50%_off", Condition("text", "contains", "50%_off")),
        ("text:in:a|b|", Condition("text", "in", ["a", "b", ""])),
        ("integer:in:1|2|3", Condition("integer", "in", [1, 2, 3])),
    ],
)
def test_filter_values_are_parsed_to_their_kind(text: str, expected: Condition) -> None:
    assert parse_filter(EVERY_KIND, text) == expected


@pytest.mark.parametrize("kind", [k for k in Kind if k not in (Kind.TEXT, Kind.MIXED)])
def test_contains_only_on_text(kind: Kind) -> None:
    with pytest.raises(InvalidInput, match="contains works on text"):
        parse_filter(EVERY_KIND, f"{kind.value}:contains:1")


def test_contains_on_a_real_dataset() -> None:
    error = invalid("grades", filter=["score:contains:1"])
    assert "contains works on text" in error.detail
    plan("grades", filter=["feedback:contains:good"])


def test_in_takes_at_most_a_thousand() -> None:
    parse_filter(EVERY_KIND, "integer:in:" + "|".join(str(n) for n in range(1000)))
    with pytest.raises(InvalidInput, match="1 to 1000"):
        parse_filter(EVERY_KIND, "text:in:" + "|".join("a" * 1001))


@pytest.mark.parametrize("name", ["std_dev", "iso_week"])
def test_computed_columns_cannot_be_filtered(name: str) -> None:
    error = invalid("class_analytics", filter=[f"{name}:eq:1"], weekly=True)
    assert "computed" in error.detail
    error = invalid("class_analytics", filter=[f"{name}:contains:1"], weekly=True)
    assert "computed" in error.detail


# --- the SQL has no caller text ---------------------------------------------------------

HOSTILE = "x'); DROP TABLE students;--"
HOSTILE_2 = 'Robert"; DELETE FROM grades; --'


def compile_both(built: ExportPlan) -> list[tuple[str, dict[str, Any], str, list[Any]]]:
    out = []
    for name, dialect in DIALECTS.items():
        for statement in (built.statement, built.count_statement):
            result = statement.compile(dialect=dialect)
            expanded, values = compiled(statement, READER_DIALECTS[name])
            out.append((str(result), dict(result.params), expanded, values))
        assert name
    return out


def flat(values: Any) -> list[Any]:
    items = values.values() if isinstance(values, dict) else values
    found: list[Any] = []
    for item in items:
        found.extend(item if isinstance(item, list) else [item])
    return found


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("dataset", "spec", "caller_texts"),
    [
        ("grades", {"filter": [f"student_name:eq:{HOSTILE}"]}, [HOSTILE]),
        ("grades", {"filter": [f"feedback:contains:{HOSTILE}"]}, [HOSTILE]),
        ("grades", {"filter": [f"status:in:late|{HOSTILE}|{HOSTILE_2}"]}, [HOSTILE, HOSTILE_2]),
        ("grades", {"filter": [f"status:ne:{HOSTILE_2}", f"sis_id:ge:{HOSTILE}"]}, [HOSTILE]),
        ("analytics", {"metric_types": [HOSTILE_2], "filter": [f"source:lt:{HOSTILE}"]}, []),
        (
            "class_analytics",
            {"metric_types": f"{HOSTILE}", "weekly": True, "filter": [f"course_name:eq:{HOSTILE}"]},
            [HOSTILE],
        ),
        ("students", {"filter": [f"email:contains:{HOSTILE_2}"]}, [HOSTILE_2]),
        ("audit_events", {"filter": [f"detail:contains:{HOSTILE}"]}, [HOSTILE]),
    ],
)
def test_caller_text_is_bound_never_sql(
    dialect: str, dataset: str, spec: dict[str, Any], caller_texts: list[str]
) -> None:
    built = plan(dataset, dialect=dialect, **spec)
    markers = ("DROP TABLE", "DELETE FROM", "Robert", "x')")
    for sql, params, expanded, values in compile_both(built):
        for text in (sql, expanded):
            for marker in markers:
                assert marker not in text
        bound = [str(v) for v in flat(params)]
        # A contains filter binds its (escaped) text; the others bind it as given.
        for caller_text in caller_texts:
            assert any(caller_text in value for value in bound), (caller_text, bound)
            assert any(caller_text in str(value) for value in values)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_dataset_compiles_with_every_option(dialect: str) -> None:
    for name, dataset in DATASETS.items():
        spec: dict[str, Any] = {"limit": 10, "sort": [f"-{dataset.default_sort[0]}"]}
        if dataset.date_column:
            spec |= {"start": "2024-01-01", "end": "2024-12-31"}
        for listed in sorted(dataset.accepts):
            spec[listed] = ["7"] if listed != "metric_types" else ["logins"]
        if name == "class_analytics":
            spec["weekly"] = True
        for user in (ADMIN, TEACHER):
            if dataset.admin_only and user is TEACHER:
                continue
            built = plan(name, user=user, dialect=dialect, **spec)
            for sql, params, expanded, values in compile_both(built):
                assert "2024-01-01" not in sql and "logins" not in sql
                assert "logins" not in expanded
                if "metric_types" in dataset.accepts:
                    assert "logins" in [str(v) for v in flat(params)]
                    assert "logins" in values
                assert sql and expanded


def test_weekly_week_start_follows_the_dialect() -> None:
    pg = str(
        plan("class_analytics", weekly=True, dialect="postgresql").statement.compile(
            dialect=DIALECTS["postgresql"]
        )
    )
    lite = str(
        plan("class_analytics", weekly=True, dialect="sqlite").statement.compile(
            dialect=DIALECTS["sqlite"]
        )
    )
    assert "date_trunc" in pg
    assert "date(" in lite and "date_trunc" not in lite


def test_metric_types_refuse_nul_which_postgresql_text_cannot_hold() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        ExportSpec(metric_types=["logins\x00"])
