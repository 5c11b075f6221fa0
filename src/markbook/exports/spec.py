"""ExportSpec: what to export and how, one model for the query string, the job body
and the CLI; and the plan it makes of a dataset (columns, SQL, limits).

Filters, sorts and columns name the dataset's declared columns only and values are
checked against the column's kind, then bound as parameters: no SQL ever comes
from the caller.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, func, select

from markbook.auth.models import Role, User
from markbook.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from markbook.exports.datasets import DATASETS, STUDENT_ID, AnySelect, Dataset, Scope
from markbook.exports.writers.cells import Column, DateStyle, Kind
from markbook.schemas import Text
from markbook.settings import Settings


class ExportFormat(enum.StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    ndjson = "ndjson"
    json = "json"
    parquet = "parquet"


TEXT_FORMATS = frozenset({ExportFormat.csv, ExportFormat.ndjson, ExportFormat.json})

MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.ndjson: "application/x-ndjson",
    ExportFormat.json: "application/json",
    ExportFormat.parquet: "application/vnd.apache.parquet",
}

# Named delimiters, for places where a literal tab or pipe is awkward to type.
DELIMITERS = {
    ",": ",",
    ";": ";",
    "\t": "\t",
    "|": "|",
    "comma": ",",
    "semicolon": ";",
    "tab": "\t",
    "pipe": "|",
}

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "contains")
MAX_LIST = 1000
MAX_TEXT = 200
CENT = Decimal("0.01")
MAX_ID = 2**63 - 1


def _split(value: Any) -> Any:
    """``"a,b"`` or ``["a,b", "c"]`` (repeated query parameters) as one flat list;
    an empty one (``?student_ids=`` from a blank form field) is not given at all."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    flat: list[Any] = []
    for item in items:
        if isinstance(item, str):
            flat.extend(part.strip() for part in item.split(",") if part.strip())
        else:
            flat.append(item)
    return flat or None


Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class ExportSpec(BaseModel):
    """How to export a dataset. Every field is optional; the defaults give the whole
    dataset you may see, as Excel reads it best."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    columns: list[str] | None = Field(
        None, description="Columns to include, in this order (comma-separated). Default: all."
    )
    student_ids: list[Id] | None = Field(None, max_length=MAX_LIST)
    course_ids: list[Id] | None = Field(None, max_length=MAX_LIST)
    metric_types: list[Annotated[Text, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=MAX_LIST
    )
    start: dt.date | None = Field(None, description="First day, on the dataset's date column.")
    end: dt.date | None = Field(None, description="Last day, inclusive.")
    filter: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list,
        max_length=50,
        description="`column:op:value`, op one of eq ne lt le gt ge in contains; "
        "`in` takes values separated by `|`. Repeat for several (all must hold).",
    )
    sort: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Columns to sort by; a leading `-` sorts descending.",
    )
    limit: int | None = Field(None, ge=1, le=MAX_ID, description="Most rows to export.")
    date_format: DateStyle = Field(
        DateStyle.ISO,
        description="iso 2024-01-15, us 01/15/2024, eu 15.01.2024, "
        "full 2024-01-15 14:30:45 (text formats; XLSX keeps real dates in this style).",
    )
    delimiter: str = Field(
        ",", description="CSV delimiter: , ; tab | (or comma, semicolon, tab, pipe)."
    )
    encoding: Literal["utf-8", "utf-8-sig"] = Field(
        "utf-8-sig", description="CSV encoding; utf-8-sig starts with a BOM so Excel reads UTF-8."
    )
    null: str = Field("", max_length=20, description="How CSV writes an empty value.")
    formula_guard: bool = Field(
        True, description="Prefix CSV text starting with = + - @ tab or CR with an apostrophe."
    )
    compress: Literal["none", "gzip"] = Field("none", description="gzip text formats.")
    weekly: bool = Field(False, description="class_analytics: one row per ISO week too.")
    chart: bool = Field(False, description="class_analytics as XLSX: add a column chart.")

    _split_lists = field_validator(
        "columns", "student_ids", "course_ids", "metric_types", mode="before"
    )(_split)

    @field_validator("sort", mode="before")
    @classmethod
    def _split_sort(cls, value: Any) -> Any:
        return _split(value) or []

    @field_validator("delimiter")
    @classmethod
    def _known_delimiter(cls, value: str) -> str:
        if value not in DELIMITERS:
            raise PydanticCustomError(
                "delimiter", "use one of , ; tab | (or comma, semicolon, tab, pipe)"
            )
        return DELIMITERS[value]

    @field_validator("null")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(char in value for char in "\r\n\x00"):
            raise PydanticCustomError("null", "the null text must be on one line")
        return value

    @field_validator("end")
    @classmethod
    def _period(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start")
        if start is not None and end is not None and start > end:
            raise PydanticCustomError(
                "period",
                "start ({start}) is after end ({end}); swap them or widen the period",
                {"start": str(start), "end": str(end)},
            )
        return end


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class ExportPlan:
    """A spec checked against its dataset: what runs and what comes out."""

    dataset: Dataset
    spec: ExportSpec
    format: ExportFormat
    columns: tuple[Column, ...]  # what the file holds, in order
    statement: AnySelect
    count_statement: AnySelect
    max_rows: int  # over this -> 413
    sheet_rows: int  # XLSX rows per sheet


def dataset_named(name: str, user: User) -> Dataset:
    dataset = DATASETS.get(name)
    if dataset is None:
        raise NotFound(
            f"There is no dataset {name!r}. The datasets are: {', '.join(DATASETS)} "
            "(GET /api/v1/exports/datasets lists them with their columns)."
        )
    if dataset.admin_only and Role(user.role) is not Role.admin:
        raise Forbidden(f"The {name} dataset is for administrators only.")
    return dataset


def _invalid(field: str, message: str, **extra: Any) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message, **extra}])


def _parse_value(column: Column, raw: str, field: str) -> Any:
    """``raw`` as a value of ``column``'s kind, or a 422 saying what was expected."""
    try:
        match column.kind:
            case Kind.INTEGER:
                number = int(raw)
                if abs(number) > MAX_ID:
                    raise ValueError
                return number
            case Kind.DECIMAL | Kind.FLOAT:
                value = float(raw)
                if not math.isfinite(value):
                    raise ValueError
                if column.kind is Kind.DECIMAL:
                    # The column holds figures to the cent (datasets.cents).
                    return float(Decimal(raw).quantize(CENT, rounding=ROUND_HALF_UP))
                return value
            case Kind.DATE:
                return dt.date.fromisoformat(raw)
            case Kind.DATETIME:
                moment = dt.datetime.fromisoformat(raw)
                # Times are stored in UTC; one without an offset is taken as UTC.
                if moment.tzinfo is None:
                    return moment.replace(tzinfo=dt.UTC)
                return moment.astimezone(dt.UTC)
            case Kind.BOOLEAN:
                if raw.lower() not in ("true", "false"):
                    raise ValueError
                return raw.lower() == "true"
            case _:
                if len(raw) > MAX_TEXT or "\x00" in raw:
                    raise ValueError
                return raw
    except ValueError:
        expected = {
            Kind.INTEGER: "a whole number",
            Kind.DECIMAL: "a number",
            Kind.FLOAT: "a number",
            Kind.DATE: "a date as YYYY-MM-DD",
            Kind.DATETIME: "a date and time as YYYY-MM-DDTHH:MM:SS",
            Kind.BOOLEAN: "true or false",
        }.get(column.kind, f"text of at most {MAX_TEXT} characters")
        raise _invalid(
            field, f"{column.name} is {column.kind}: {raw!r} is not {expected}."
        ) from None


def parse_filter(dataset: Dataset, text: str) -> Condition:
    field = "filter"
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise _invalid(
            field,
            f"Filter {text!r} is not column:op:value (for example status:eq:late).",
        )
    name, op, raw = parts
    column = _known_column(dataset, name, field)
    if name in dataset.computed:
        raise _invalid(field, f"{name} is computed after the query and cannot be filtered on.")
    if op not in OPERATORS:
        raise _invalid(field, f"Unknown filter operator {op!r}; use one of {', '.join(OPERATORS)}.")
    if op == "contains":
        if column.kind is not Kind.TEXT:
            raise _invalid(field, f"contains works on text columns; {name} is {column.kind}.")
        return Condition(name, op, _parse_value(column, raw, field))
    if op == "in":
        values = [part for part in raw.split("|")]
        if not values or len(values) > MAX_LIST:
            raise _invalid(field, f"in takes 1 to {MAX_LIST} values separated by |.")
        return Condition(name, op, [_parse_value(column, value, field) for value in values])
    return Condition(name, op, _parse_value(column, raw, field))


def _known_column(dataset: Dataset, name: str, field: str) -> Column:
    column = dataset.by_name.get(name)
    if column is None:
        valid = ", ".join(dataset.by_name)
        raise InvalidInput(
            f"{dataset.name} has no column {name!r}. Its columns are: {valid}.",
            errors=[
                {
                    "field": field,
                    "message": f"unknown column {name!r}",
                    "valid": list(dataset.by_name),
                }
            ],
        )
    return column


def _condition(expr: Any, condition: Condition, dialect: str) -> ColumnElement[bool]:
    value = condition.value
    match condition.op:
        case "eq":
            return expr == value  # type: ignore[no-any-return]
        case "ne":
            return expr != value  # type: ignore[no-any-return]
        case "lt":
            return expr < value  # type: ignore[no-any-return]
        case "le":
            return expr <= value  # type: ignore[no-any-return]
        case "gt":
            return expr > value  # type: ignore[no-any-return]
        case "ge":
            return expr >= value  # type: ignore[no-any-return]
        case "in":
            return expr.in_(value)  # type: ignore[no-any-return]
        case _:
            # contains: a case-sensitive substring on every database (SQLite's LIKE
            # ignores ASCII case, PostgreSQL's does not), the value a bound parameter.
            position = func.strpos if dialect == "postgresql" else func.instr
            return position(expr, value) > 0


def plan_export(
    dataset: Dataset,
    spec: ExportSpec,
    fmt: ExportFormat,
    user: User,
    settings: Settings,
    *,
    dialect: str,
) -> ExportPlan:
    """Check ``spec`` against ``dataset`` and build the SQL; 422 names what is wrong."""
    unsupported = [
        name
        for name in ("student_ids", "course_ids", "metric_types")
        if getattr(spec, name) is not None and name not in dataset.accepts
    ]
    if unsupported:
        raise _invalid(
            unsupported[0],
            f"{dataset.name} cannot be narrowed by {unsupported[0]}; it takes "
            f"{', '.join(sorted(dataset.accepts)) or 'none of the id lists'}.",
        )
    if (spec.start or spec.end) and dataset.date_column is None:
        raise _invalid("start", f"{dataset.name} has no date column to take start/end on.")
    scope = Scope(
        user=user,
        start=spec.start,
        end=spec.end,
        student_ids=spec.student_ids,
        course_ids=spec.course_ids,
        metric_types=spec.metric_types,
        weekly=spec.weekly,
        dialect=dialect,
    )
    names = spec.columns or list(dataset.default_columns(scope))
    columns = tuple(_known_column(dataset, name, "columns") for name in names)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise _invalid("columns", f"Column {duplicates[0]} is asked for twice.")
    weekly_only = {"week_start", "iso_week"} if dataset.name == "class_analytics" else set()
    if not spec.weekly and weekly_only & set(names):
        raise _invalid("columns", "week_start and iso_week are there only with weekly=true.")
    if spec.chart and (fmt is not ExportFormat.xlsx or not dataset.chart):
        raise _invalid("chart", "chart is for class_analytics exported as xlsx.")
    if spec.compress == "gzip" and fmt not in TEXT_FORMATS:
        raise _invalid(
            "compress", f"gzip is for csv, ndjson and json; {fmt} is compressed already."
        )

    conditions = [parse_filter(dataset, text) for text in spec.filter]
    order: list[tuple[str, bool]] = []
    for item in spec.sort:
        descending = item.startswith("-")
        name = item.lstrip("-+")
        _known_column(dataset, name, "sort")
        if name in dataset.computed:
            raise _invalid("sort", f"{name} is computed after the query and cannot be sorted on.")
        order.append((name, descending))

    source = dataset.build(scope).subquery("d")
    if dataset.finish is not None:
        selected = list(source.c)  # small aggregated rows: finish() needs every column
    else:
        selected = [source.c[column.name] for column in columns] + [source.c[STUDENT_ID]]
    statement = select(*selected).where(
        *(_condition(source.c[c.column], c, dialect) for c in conditions)
    )
    count_statement = select(source.c[STUDENT_ID]).where(
        *(_condition(source.c[c.column], c, dialect) for c in conditions)
    )
    sorted_by = {name for name, _ in order}
    # Empty values last either way, on every database (PostgreSQL would put them
    # first in a descending sort, SQLite last).
    keys: list[Any] = [
        (source.c[name].desc() if desc else source.c[name].asc()).nulls_last()
        for name, desc in order
    ]
    keys += [source.c[name] for name in dataset.default_sort if name not in sorted_by]
    statement = statement.order_by(*keys)
    if spec.limit is not None:
        statement = statement.limit(spec.limit)
        count_statement = count_statement.limit(spec.limit)

    if fmt is ExportFormat.xlsx:
        max_rows = settings.export_xlsx_max_rows
    else:
        max_rows = settings.export_max_rows
    return ExportPlan(
        dataset=dataset,
        spec=spec,
        format=fmt,
        columns=columns,
        statement=statement,
        count_statement=count_statement,
        max_rows=max_rows,
        sheet_rows=settings.export_xlsx_sheet_rows,
    )


def too_many_rows(plan: ExportPlan, rows: int) -> PayloadTooLarge:
    fmt = plan.format
    if fmt is ExportFormat.xlsx:
        what = (
            f"a workbook holds at most {plan.max_rows:,} rows (MARKBOOK_EXPORT_XLSX_MAX_ROWS,"
            f" {plan.sheet_rows:,} per sheet)"
        )
    else:
        what = f"one {fmt} export holds at most {plan.max_rows:,} rows (MARKBOOK_EXPORT_MAX_ROWS)"
    return PayloadTooLarge(
        f"This export would have {rows:,} rows, but {what}. Narrow it with start/end, "
        "student_ids, course_ids or filter, or split it with limit and sort."
    )
