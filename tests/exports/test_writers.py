"""The shared export writers: cells, CSV and XLSX.

Expected texts are written out by hand here, not produced by the code under test;
XLSX files are read back with openpyxl, a separate implementation of the format.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc
import zipfile
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from markbook.exports.writers import (
    Column,
    CsvWriter,
    DateStyle,
    Kind,
    XlsxWorkbook,
    format_date,
    format_datetime,
    guard_formula,
    render_text,
    safe_sheet_name,
)
from markbook.exports.writers import xlsx as xlsx_module

BOM = b"\xef\xbb\xbf"
JAN_15 = dt.date(2024, 1, 15)
JAN_15_AT = dt.datetime(2024, 1, 15, 14, 30, 45)


# --- cells ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=SUM(A1:A3)", "'=SUM(A1:A3)"),
        ("+1 555 0100", "'+1 555 0100"),
        ("-5 points for lateness", "'-5 points for lateness"),
        ("@home", "'@home"),
        ("\tTabbed", "'\tTabbed"),
        ("\rReturn", "'\rReturn"),
        ("Plain text", "Plain text"),
        ("", ""),
        ("a=b", "a=b"),
        ("Read.\tTabbed later", "Read.\tTabbed later"),
        (" =leading space", " =leading space"),
    ],
)
def test_guard_formula(text: str, expected: str) -> None:
    assert guard_formula(text) == expected


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (DateStyle.ISO, "2024-01-15"),
        (DateStyle.US, "01/15/2024"),
        (DateStyle.EU, "15.01.2024"),
        (DateStyle.FULL, "2024-01-15 00:00:00"),
    ],
)
def test_format_date(style: DateStyle, expected: str) -> None:
    assert format_date(JAN_15, style) == expected


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (DateStyle.ISO, "2024-01-15 14:30:45"),
        (DateStyle.US, "01/15/2024 14:30:45"),
        (DateStyle.EU, "15.01.2024 14:30:45"),
        (DateStyle.FULL, "2024-01-15 14:30:45"),
    ],
)
def test_format_datetime(style: DateStyle, expected: str) -> None:
    assert format_datetime(JAN_15_AT, style) == expected


def test_full_style_of_a_datetime_has_the_time() -> None:
    assert format_date(JAN_15_AT, DateStyle.FULL) == "2024-01-15 14:30:45"
    assert format_date(JAN_15_AT, DateStyle.ISO) == "2024-01-15"


def test_aware_datetimes_are_shown_in_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    late_evening = dt.datetime(2024, 1, 15, 0, 30, 45, tzinfo=paris)
    assert format_datetime(late_evening) == "2024-01-14 23:30:45"
    assert format_date(late_evening) == "2024-01-14"


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (Decimal("-0.5"), Kind.DECIMAL, "-0.50"),
        (Decimal("92.995"), Kind.DECIMAL, "93.00"),  # half-up, like the grading rules
        (Decimal("1E+1"), Kind.DECIMAL, "10.00"),
        (2.675, Kind.DECIMAL, "2.68"),
        (-5, Kind.INTEGER, "-5"),
        (Decimal("0.125"), Kind.FLOAT, "0.125"),
        (True, Kind.BOOLEAN, "true"),
        (None, Kind.DECIMAL, "n/a"),
        (None, Kind.TEXT, "n/a"),
        ("", Kind.TEXT, ""),
        (7, Kind.MIXED, "7"),
        (Decimal("3"), Kind.MIXED, "3.00"),
        (JAN_15, Kind.MIXED, "2024-01-15"),
        (JAN_15_AT, Kind.MIXED, "2024-01-15 14:30:45"),
    ],
)
def test_render_text(value: object, kind: Kind, expected: str) -> None:
    assert render_text(value, kind, null="n/a") == expected


# --- CSV --------------------------------------------------------------------

FIGURES = (
    Column("label", "Label", Kind.TEXT),
    Column("count", "Count", Kind.INTEGER),
    Column("mean", "Mean", Kind.DECIMAL),
    Column("low", "Low", Kind.FLOAT),
    Column("day", "Day", Kind.DATE),
)


def write_csv(
    columns: Sequence[Column], rows: Sequence[Sequence[object]], **options: object
) -> bytes:
    sink = io.BytesIO()
    with CsvWriter(sink, **options) as writer:  # type: ignore[arg-type]
        writer.write_header(columns)
        writer.write_rows(columns, rows)
    return sink.getvalue()


def read_csv(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))


def test_numbers_are_not_guarded_text_is() -> None:
    data = write_csv(FIGURES, [("-5", -5, Decimal("-0.50"), -5.0, JAN_15)])
    assert read_csv(data) == [
        ["Label", "Count", "Mean", "Low", "Day"],
        ["'-5", "-5", "-0.50", "-5.0", "2024-01-15"],
    ]


def test_guard_can_be_turned_off() -> None:
    data = write_csv(FIGURES[:1], [("=1+1",)], guard=False)
    assert read_csv(data)[1] == ["=1+1"]


def test_rfc_4180_quoting_and_line_ends() -> None:
    text = 'He said "hi", then\nleft'
    data = write_csv(FIGURES[:2], [(text, 1), ("plain", 2)])
    assert data == b'Label,Count\r\n"He said ""hi"", then\nleft",1\r\nplain,2\r\n'
    assert read_csv(data)[1] == [text, "1"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(delimiter: str) -> None:
    tricky = "a,b;c\td|e"
    data = write_csv(FIGURES[:2], [(tricky, 3)], delimiter=delimiter)
    assert data.split(b"\r\n")[0] == f"Label{delimiter}Count".encode()
    assert read_csv(data, delimiter) == [["Label", "Count"], [tricky, "3"]]


def test_other_delimiters_are_refused() -> None:
    with pytest.raises(ValueError, match="delimiter"):
        CsvWriter(io.BytesIO(), delimiter=":")


def test_no_bom_unless_asked() -> None:
    assert not write_csv(FIGURES[:1], [("x",)]).startswith(BOM)
    assert not write_csv(FIGURES[:1], [("x",)], encoding="utf-8").startswith(BOM)


def test_bom_once_at_the_start() -> None:
    # Enough rows for several chunks, and two sections.
    sink = io.BytesIO()
    with CsvWriter(sink, encoding="utf-8-sig") as writer:
        for title in ("First", "Second"):
            writer.write_section(title, FIGURES[:1], (("Łódź 中文",) for _ in range(30_000)))
    data = sink.getvalue()
    assert data.startswith(BOM)
    assert data.count(BOM) == 1
    assert data[len(BOM) :].decode("utf-8").startswith("First\r\nLabel\r\nŁódź 中文\r\n")


def test_null_text() -> None:
    data = write_csv(FIGURES, [("", None, None, None, None)], null="NULL")
    assert read_csv(data)[1] == ["", "NULL", "NULL", "NULL", "NULL"]


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (DateStyle.ISO, ["2024-01-15", "2024-01-15 14:30:45"]),
        (DateStyle.US, ["01/15/2024", "01/15/2024 14:30:45"]),
        (DateStyle.EU, ["15.01.2024", "15.01.2024 14:30:45"]),
        (DateStyle.FULL, ["2024-01-15 00:00:00", "2024-01-15 14:30:45"]),
    ],
)
def test_csv_date_styles(style: DateStyle, expected: list[str]) -> None:
    columns = (Column("day", "Day", Kind.DATE), Column("at", "At", Kind.DATETIME))
    data = write_csv(columns, [(JAN_15, JAN_15_AT)], date_style=style)
    assert read_csv(data)[1] == expected


def test_sections() -> None:
    sink = io.BytesIO()
    with CsvWriter(sink) as writer:
        assert writer.write_section("Courses", FIGURES[:2], [("Algebra", 1), ("Art", 2)]) == 2
        assert writer.write_section("Empty", FIGURES[:1], []) == 0
        writer.write_section("=Evil title", FIGURES[2:3], [(Decimal("1.5"),)])
    assert read_csv(sink.getvalue()) == [
        ["Courses"],
        ["Label", "Count"],
        ["Algebra", "1"],
        ["Art", "2"],
        [],
        ["Empty"],
        ["Label"],
        [],
        ["'=Evil title"],
        ["Mean"],
        ["1.50"],
    ]


def test_rows_must_match_the_columns() -> None:
    with pytest.raises(ValueError, match="zip"):
        write_csv(FIGURES[:2], [("only one",)])


class CountingSink(io.RawIOBase):
    """Keeps nothing: counts bytes and remembers the biggest write."""

    def __init__(self) -> None:
        self.size = 0
        self.writes = 0
        self.largest = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        size = len(data)
        self.size += size
        self.writes += 1
        self.largest = max(self.largest, size)
        return size


WIDE = (
    Column("id", "Id", Kind.INTEGER),
    Column("name", "Name", Kind.TEXT),
    Column("course", "Course", Kind.TEXT),
    Column("due", "Due", Kind.DATE),
    Column("percent", "Percent", Kind.DECIMAL),
    Column("ratio", "Ratio", Kind.FLOAT),
    Column("at", "At", Kind.DATETIME),
    Column("note", "Note", Kind.TEXT),
)


def wide_rows(count: int) -> Iterator[tuple[object, ...]]:
    start = dt.datetime(2024, 1, 15, 8, 0, tzinfo=dt.UTC)
    for index in range(count):
        yield (
            index,
            f"Student {index} 李雷",
            "=SUM(A1:A3) Lab" if index % 7 == 0 else "Algebra II",
            JAN_15 + dt.timedelta(days=index % 365),
            Decimal(index % 10_000) / 100,
            index / 3,
            start + dt.timedelta(minutes=index),
            None if index % 5 else 'Quoted "note", with comma',
        )


@pytest.mark.slow
def test_csv_memory_stays_flat() -> None:
    sink = CountingSink()
    tracemalloc.start()
    try:
        with CsvWriter(sink, encoding="utf-8-sig") as writer:
            written = writer.write_rows(WIDE, wide_rows(60_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == 60_000
    assert sink.size > 4_500_000  # the whole file went through...
    assert peak < 3 * 1024 * 1024  # ...but never all of it at once
    assert sink.writes > 50
    assert sink.largest < 1024 * 1024


# --- XLSX -------------------------------------------------------------------

TYPED = (
    Column("name", "Name", Kind.TEXT),
    Column("count", "Count", Kind.INTEGER),
    Column("mean", "Mean", Kind.DECIMAL),
    Column("ratio", "Ratio", Kind.FLOAT),
    Column("day", "Day", Kind.DATE),
    Column("at", "At", Kind.DATETIME),
    Column("ok", "OK", Kind.BOOLEAN),
    Column("note", "A rather long header for a narrow column of notes", Kind.TEXT),
)
TYPED_ROWS = [
    (
        "=SUM(A1:A3)",
        -5,
        Decimal("-0.50"),
        0.125,
        JAN_15,
        dt.datetime(2024, 1, 15, 15, 30, 45, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        True,
        "x" * 400,
    ),
    ("李雷 Анна", None, None, None, None, None, None, None),
]


def write_xlsx(
    columns: Sequence[Column] = TYPED,
    rows: Sequence[Sequence[object]] = TYPED_ROWS,
    name: str = "Data",
    **options: object,
) -> bytes:
    sink = io.BytesIO()
    with XlsxWorkbook(sink, title="Test", **options) as workbook:  # type: ignore[arg-type]
        workbook.add_sheet(name, columns, rows)
    return sink.getvalue()


def open_xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.fixture(params=[False, True], ids=["in_memory", "constant_memory"])
def constant_memory(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_xlsx_header_is_bold_filled_and_frozen(constant_memory: bool) -> None:
    sheet = open_xlsx(write_xlsx(constant_memory=constant_memory))["Data"]
    assert [cell.value for cell in sheet[1]] == [column.label for column in TYPED]
    for cell in sheet[1]:
        assert cell.font.b
        assert cell.fill.fill_type == "solid"
        assert cell.fill.fgColor.rgb == "FF1F4E79"
        assert cell.font.color.rgb == "FFFFFFFF"
    assert sheet.freeze_panes == "A2"


def test_xlsx_widths_are_fitted_between_8_and_50(constant_memory: bool) -> None:
    sheet = open_xlsx(write_xlsx(constant_memory=constant_memory))["Data"]
    widths: dict[int, float] = {}
    for dimension in sheet.column_dimensions.values():
        for index in range(dimension.min, dimension.max + 1):
            widths[index] = dimension.width
    assert sorted(widths) == list(range(1, len(TYPED) + 1))
    # XlsxWriter stores a width plus its 0.71 character padding.
    assert all(8 <= width < 51 for width in widths.values())
    assert widths[1] < 20  # "=SUM(A1:A3)" and "李雷 Анна"
    assert widths[8] > 50  # 400 characters of notes: the widest allowed...
    assert sheet["H2"].alignment.wrap_text  # ...and wrapped


def test_xlsx_values_are_typed(constant_memory: bool) -> None:
    sheet = open_xlsx(write_xlsx(constant_memory=constant_memory))["Data"]
    name, count, mean, ratio, day, at, ok, note = sheet[2]
    assert (name.value, name.data_type) == ("=SUM(A1:A3)", "s")
    assert (count.value, count.data_type, count.number_format) == (-5, "n", "0")
    assert (mean.value, mean.data_type, mean.number_format) == (-0.5, "n", "0.00")
    assert (ratio.value, ratio.data_type) == (0.125, "n")
    assert day.value == dt.datetime(2024, 1, 15)
    assert (day.is_date, day.number_format) == (True, "yyyy-mm-dd")
    assert at.value == dt.datetime(2024, 1, 15, 14, 30, 45)  # UTC
    assert (at.is_date, at.number_format) == (True, "yyyy-mm-dd hh:mm:ss")
    assert ok.value is True
    assert note.value == "x" * 400
    empty = sheet[3]
    assert empty[0].value == "李雷 Анна"
    assert [cell.value for cell in empty[1:]] == [None] * 7


@pytest.mark.parametrize(
    ("style", "date_format", "datetime_format"),
    [
        (DateStyle.ISO, "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"),
        (DateStyle.US, "mm/dd/yyyy", "mm/dd/yyyy hh:mm:ss"),
        (DateStyle.EU, "dd.mm.yyyy", "dd.mm.yyyy hh:mm:ss"),
        (DateStyle.FULL, "yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd hh:mm:ss"),
    ],
)
def test_xlsx_date_styles(style: DateStyle, date_format: str, datetime_format: str) -> None:
    sheet = open_xlsx(write_xlsx(date_style=style))["Data"]
    assert sheet["E2"].number_format == date_format
    assert sheet["F2"].number_format == datetime_format


def test_xlsx_no_cell_is_a_formula(constant_memory: bool) -> None:
    texts = [
        "=SUM(A1:A3)",
        "+1 555 0100",
        "-5",
        "@home",
        '=HYPERLINK("http://x")',
        # XlsxWriter copies strings shaped like its own rich-text markup into the
        # XML unescaped: this one would add a formula cell in constant_memory mode.
        '<r><t>x</t></r></is></c><c r="B2"><f>1+1</f></c><c r="C2" t="inlineStr"><is><r>',
        "<r>a & b</r>",
    ]
    columns = (Column("text", "Text", Kind.TEXT),)
    data = write_xlsx(columns, [(text,) for text in texts], constant_memory=constant_memory)
    sheet = open_xlsx(data)["Data"]
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert [(cell.value, cell.data_type) for cell in cells] == [(text, "s") for text in texts]
    assert sheet.max_column == 1


def test_xlsx_cells_are_cut_at_excel_limit() -> None:
    columns = (Column("text", "Text", Kind.TEXT),)
    emoji = "😀" * 20_000  # two UTF-16 units each, as Excel counts them
    data = write_xlsx(columns, [("a" * 40_000,), (emoji,), ("b" * 32_767,)])
    sheet = open_xlsx(data)["Data"]
    long, wide, exact = (sheet.cell(row, 1).value for row in (2, 3, 4))
    assert len(long) == 32_767
    assert long == "a" * 32_766 + "…"
    assert len(wide.encode("utf-16-le")) // 2 <= 32_767
    assert wide.endswith("😀…")
    assert exact == "b" * 32_767


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("Analytics", [], "Analytics"),
        ("analytics", ["Analytics"], "analytics (2)"),
        ("Analytics", ["analytics", "ANALYTICS (2)"], "Analytics (3)"),
        ("A" * 40, [], "A" * 31),
        ("A" * 40, ["A" * 31], "A" * 27 + " (2)"),
        ("Q1/Q2: [draft]*?\\", [], "Q1_Q2_ _draft____"),
        ("   ", [], "Sheet"),
        ("", ["Sheet"], "Sheet (2)"),
        ("'quoted'", [], "quoted"),
        ("History", [], "History (2)"),
        ("Αναφορά 中文", [], "Αναφορά 中文"),
    ],
)
def test_safe_sheet_name(name: str, taken: list[str], expected: str) -> None:
    assert safe_sheet_name(name, taken) == expected


def test_xlsx_sheet_names_are_made_safe_and_unique() -> None:
    sink = io.BytesIO()
    with XlsxWorkbook(sink) as workbook:
        first = workbook.add_sheet("Courses: [all]", FIGURES[:1], [("a",)])
        second = workbook.add_sheet("courses_ _all_", FIGURES[:1], [("b",)])
    assert (first.name, second.name) == ("Courses_ _all_", "courses_ _all_ (2)")
    assert open_xlsx(sink.getvalue()).sheetnames == [first.name, second.name]


def test_xlsx_rows_beyond_the_limit_go_to_further_sheets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_module, "MAX_ROWS", 5)  # a header and four rows a sheet
    sink = io.BytesIO()
    with XlsxWorkbook(sink) as workbook:
        sheet = workbook.add_sheet("Data", FIGURES[:2], [(f"r{i}", i) for i in range(9)])
        exact = workbook.add_sheet("Exact", FIGURES[:2], [(f"r{i}", i) for i in range(4)])
    assert (sheet.rows, [(s.name, s.rows) for s in sheet.continued_on]) == (
        4,
        [("Data (2)", 4), ("Data (3)", 1)],
    )
    assert (exact.rows, exact.continued_on) == (4, ())
    book = open_xlsx(sink.getvalue())
    assert book.sheetnames == ["Data", "Data (2)", "Data (3)", "Exact"]
    values = [row for name in ("Data", "Data (2)", "Data (3)") for row in book[name].values]
    header = ("Label", "Count")
    assert values == [
        header, *[(f"r{i}", i) for i in range(4)],
        header, *[(f"r{i}", i) for i in range(4, 8)],
        header, ("r8", 8),
    ]  # fmt: skip


def test_xlsx_column_chart_references_its_sheet() -> None:
    sink = io.BytesIO()
    with XlsxWorkbook(sink) as workbook:
        summary = workbook.add_sheet("Summary", FIGURES[:1], [("x",)])
        courses = workbook.add_sheet(
            "Course list", FIGURES[:3], [("Algebra", 1, Decimal("91.5")), ("Art", 2, None)]
        )
        workbook.add_column_chart(
            summary, source=courses, categories="label", values="mean", title="Averages"
        )
    with zipfile.ZipFile(io.BytesIO(sink.getvalue())) as archive:
        chart = archive.read("xl/charts/chart1.xml").decode()
        drawing_rels = archive.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
    assert "<c:barChart>" in chart and '<c:barDir val="col"/>' in chart
    assert "'Course list'!$A$2:$A$3" in chart
    assert "'Course list'!$C$2:$C$3" in chart
    assert "drawing" in drawing_rels


def test_xlsx_properties() -> None:
    book = open_xlsx(write_xlsx())
    assert (book.properties.title, book.properties.creator) == ("Test", "Markbook")


def test_xlsx_to_a_path_and_nothing_left_behind_on_failure(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    target = tmp_path / "out.xlsx"

    def failing_rows() -> Iterator[tuple[object, ...]]:
        yield ("a", 1)
        raise RuntimeError("database went away")

    with (
        pytest.raises(RuntimeError),
        XlsxWorkbook(target, constant_memory=True, tmpdir=str(scratch)) as workbook,
    ):
        workbook.add_sheet("Data", FIGURES[:2], failing_rows())
    assert not target.exists()
    assert list(scratch.iterdir()) == []

    with XlsxWorkbook(target, constant_memory=True, tmpdir=str(scratch)) as workbook:
        workbook.add_sheet("Data", FIGURES[:2], [("a", 1)])
    assert open_xlsx(target.read_bytes())["Data"]["B2"].value == 1
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
def test_xlsx_constant_memory_stays_flat(tmp_path: Path) -> None:
    # Fewer rows than the CSV test: XlsxWriter is slow under tracemalloc. Without
    # constant_memory these rows alone take about 30 MB, so the bound still bites.
    target = tmp_path / "big.xlsx"
    rows = 25_000
    tracemalloc.start()
    try:
        with XlsxWorkbook(target, constant_memory=True) as workbook:
            sheet = workbook.add_sheet("Data", WIDE, wide_rows(rows))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sheet.rows == rows
    assert peak < 20 * 1024 * 1024
    book = openpyxl.load_workbook(target, read_only=True)
    try:
        data = book["Data"]
        assert data.max_row == rows + 1
        first = next(data.iter_rows(min_row=2, max_row=2, values_only=True))
        assert first[:3] == (0, "Student 0 李雷", "=SUM(A1:A3) Lab")
    finally:
        book.close()
