"""The PDF view of a student performance report (ReportLab).

Everything shown is read off the ``PerformanceReport``; nothing is recomputed here
except the weekly trend line, which ``model.weekly_averages`` rebuilds for every view.

Text comes from users in any script. DejaVu Sans covers Latin, Cyrillic and Greek;
runs of characters it lacks (Chinese names, mostly) are set in Droid Sans Fallback,
which is parsed only when some text needs it.

A full-year report has thousands of table cells, and ReportLab's ``Table`` and
``Paragraph`` cost tens of microseconds for each. So the document is made of this
module's own flowables: text is wrapped by a greedy word wrap when the story is
built, and each flowable draws its text as one PDF text object per page, from
strings encoded once per document (``_Pen``).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import io
import math
import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from itertools import accumulate, groupby
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    PageTemplate,
    Spacer,
)

from markbook.reports import grading
from markbook.reports.model import (
    AssignmentLine,
    AttendanceRecord,
    Comment,
    CourseLine,
    MetricSummary,
    PerformanceReport,
    StudentReportComment,
    TeacherWeeklyComment,
    weekly_averages,
)

__all__ = ["render_pdf"]

# Binary streams: ASCII85 makes every stream a quarter larger and, without ReportLab's
# C accelerator, costs milliseconds per document for nothing a PDF reader needs.
rl_config.useA85 = 0

# --- Fonts -------------------------------------------------------------------------

FONT_DIR = Path(__file__).with_name("fonts")
SANS = "MarkbookSans"
SANS_BOLD = "MarkbookSans-Bold"
FALLBACK = "MarkbookFallback"  # Droid Sans Fallback: Chinese, Japanese
HANGUL = "MarkbookHangul"  # NanumSquare: Korean (Droid Sans Fallback has no syllables)
_FALLBACK_FILES = {FALLBACK: "DroidSansFallbackFull.ttf", HANGUL: "NanumSquareR.ttf"}
# Unicode blocks drawn with the Hangul font: Jamo, Compatibility Jamo, Syllables.
_HANGUL_BLOCKS = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))


class _Fonts:
    """Registers the fonts once per process, each fallback only when first needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._main: frozenset[int] | None = None
        self._main_chars: frozenset[str] = frozenset()
        self._fallbacks: dict[str, frozenset[int]] = {}

    def main_coverage(self) -> frozenset[int]:
        """Code points both DejaVu faces can draw (so bold text never shows a box)."""
        if self._main is None:
            with self._lock:
                if self._main is None:
                    regular = TTFont(SANS, str(FONT_DIR / "DejaVuSans.ttf"))
                    bold = TTFont(SANS_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf"))
                    pdfmetrics.registerFont(regular)
                    pdfmetrics.registerFont(bold)
                    main = frozenset(regular.face.charToGlyph).intersection(bold.face.charToGlyph)
                    self._main_chars = frozenset(map(chr, main))
                    self._main = main
        return self._main

    def main_has_all(self, text: str) -> bool:
        """Whether the main fonts draw every character of ``text`` (one set operation)."""
        self.main_coverage()
        return self._main_chars.issuperset(text)

    def fallback_coverage(self, name: str = FALLBACK) -> frozenset[int]:
        coverage = self._fallbacks.get(name)
        if coverage is None:
            with self._lock:
                coverage = self._fallbacks.get(name)
                if coverage is None:
                    font = TTFont(name, str(FONT_DIR / _FALLBACK_FILES[name]))
                    pdfmetrics.registerFont(font)
                    coverage = self._fallbacks[name] = frozenset(font.face.charToGlyph)
        return coverage


_FONTS = _Fonts()

# C0 controls other than tab and newline would reach the PDF as boxes.
_CONTROLS = dict.fromkeys((*range(9), 11, 12, *range(14, 32), 127))
_TAB = "\u00a0" * 4


def _clean(text: str) -> str:
    if text.isprintable():  # the common case, and much cheaper than translate()
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)


def _fallback_for(char: str) -> str | None:
    """The fallback font that draws ``char``, or None for the main font."""
    code = ord(char)
    if code < 128 or code in _FONTS.main_coverage():
        return None
    name = HANGUL if any(low <= code <= high for low, high in _HANGUL_BLOCKS) else FALLBACK
    # A character no font has stays in the main font: one box, not a crash.
    return name if code in _FONTS.fallback_coverage(name) else None


def _runs(text: str) -> list[tuple[str | None, str]]:
    """``text`` cut into (fallback font or None for the main font, chunk) runs."""
    if text.isascii():
        return [(None, text)]
    return [(fallback, "".join(chars)) for fallback, chars in groupby(text, key=_fallback_for)]


Run = tuple[str, str, float]  # font name, text, width at the size it is drawn
_string_width = pdfmetrics.stringWidth


def _font_runs(text: str, font: str, size: float) -> list[Run]:
    """(font name, chunk, width) runs for drawing a line of user text."""
    runs = []
    for fallback, chunk in _runs(_clean(text).replace("\n", " ").replace("\t", " ")):
        name = fallback or font
        runs.append((name, chunk, _string_width(chunk, name, size)))
    return runs


def _fit(text: str, font: str, size: float, width: float) -> list[Run]:
    """Runs of ``text`` shortened with an ellipsis to fit ``width``."""
    runs = _font_runs(text, font, size)
    total = sum(run[2] for run in runs)
    if total <= width:
        return runs
    flat = "".join(chunk for _, chunk, _ in runs)
    # Widths are roughly proportional to length: start the search near the cut.
    for end in range(int(len(flat) * width / total) + 1, 0, -1):
        runs = _font_runs(flat[:end].rstrip() + ELLIPSIS, font, size)
        if sum(run[2] for run in runs) <= width:
            return runs
    return _font_runs(ELLIPSIS, font, size)


# --- Look --------------------------------------------------------------------------

PAGE_WIDTH, PAGE_HEIGHT = LETTER
MARGIN_X = 0.6 * 72
MARGIN_TOP = 0.55 * 72
MARGIN_BOTTOM = 0.75 * 72
WIDTH = PAGE_WIDTH - 2 * MARGIN_X
FRAME_PAD_Y = 6
FRAME_HEIGHT = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM - 2 * FRAME_PAD_Y

INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#616E7C")
RULE = colors.HexColor("#CBD2D9")
ACCENT = colors.HexColor("#1F5C8B")
TINT = colors.HexColor("#EAF1F7")
STRIPE = colors.HexColor("#F5F7FA")
WARN = colors.HexColor("#A61B1B")
WARN_TINT = colors.HexColor("#FCEDEC")
WHITE = colors.white


class Style(NamedTuple):
    """How a run of text is set; ``before`` is dropped at the top of a page."""

    font: str
    size: float
    leading: float
    color: colors.Color
    before: float = 0
    after: float = 0


BODY = Style(SANS, 9, 12, INK)
NOTE = BODY._replace(color=MUTED)
SCHOOL = Style(SANS_BOLD, 10.5, 13, ACCENT)
TITLE = Style(SANS_BOLD, 18, 23, INK, before=2)
META = NOTE._replace(before=1)
H2 = Style(SANS_BOLD, 11.5, 14, ACCENT, before=14, after=5)
H3 = Style(SANS_BOLD, 9.5, 12, INK, after=3)
FLAG = BODY._replace(color=WARN)
CELL = Style(SANS, 8.5, 10.5, INK)
HEAD = Style(SANS_BOLD, 8, 10, ACCENT)
RECORDS = CELL._replace(after=3)

PAD = 3  # table cell padding, left and right
PAD_Y = 2.5  # top and bottom
MAX_CELL_LINES = 4
MAX_CELL_CHARS = 400  # twice the longest title or name the database holds


class Look(NamedTuple):
    """A table cell's font and colour."""

    font: str
    color: colors.Color


PLAIN = Look(SANS, INK)
STRONG = Look(SANS_BOLD, INK)
WARNING = Look(SANS, WARN)
QUIET = Look(SANS, MUTED)

EM_DASH = "—"
MINUS = "−"
ELLIPSIS = "…"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# --- Wrapping ----------------------------------------------------------------------

Line = tuple[float, tuple[Run, ...]]  # width, runs
Span = tuple[str, str]  # font name, text

_GAPS = re.compile(r"(\n| +)")


def _wrap(spans: Sequence[Span], size: float, room: float, max_lines: int = 0) -> list[Line]:
    """Lines of ``spans`` no wider than ``room``, broken greedily between words.

    A newline breaks the line, runs of spaces count as one, and a word wider than
    ``room`` is cut between characters. Past ``max_lines`` (when given) the last line
    kept ends in an ellipsis.
    """
    if len(spans) == 1:
        font, text = spans[0]
        # Most table cells: one line of text the main font can draw.
        if text.isprintable() and (text.isascii() or _FONTS.main_has_all(text)):
            text = text.strip(" ")
            width = _string_width(text, font, size)
            if width <= room:
                return [(width, ((font, text, width),))] if text else []
    lines = _wrap_words(spans, size, room, max_lines)
    return _wrap_any(spans, size, room, max_lines) if lines is None else lines


def _wrap_words(
    spans: Sequence[Span], size: float, room: float, max_lines: int
) -> list[Line] | None:
    """``_wrap`` for the usual text: one line per few words, main fonts only.

    None when the text needs ``_wrap_any``: newlines, tabs, the fallback font, a
    word too wide for a line, more lines than ``max_lines``.
    """
    words: list[Run] = []
    before = " "
    for font, text in spans:
        if not text.isprintable() or not (text.isascii() or _FONTS.main_has_all(text)):
            return None
        if text[:1] not in ("", " ") and before[-1:] != " ":
            return None  # a word runs on from one span into the next
        before = text or before
        if max_lines and len(text) > MAX_CELL_CHARS:
            return None
        measure = pdfmetrics.getFont(font).stringWidth
        words.extend((font, word, measure(word, size)) for word in text.split(" ") if word)
    spaces: dict[str, float] = {}
    lines: list[list[Run]] = []
    line: list[Run] = []
    used = 0.0
    for word in words:
        width = word[2]
        if width > room:
            return None
        if line:
            font = line[-1][0]
            gap = (
                spaces[font]
                if font in spaces
                else spaces.setdefault(font, _string_width(" ", font, size))
            )
            if used + gap + width <= room:
                line.append(word)
                used += gap + width
                continue
            lines.append(line)
            if max_lines and len(lines) == max_lines:
                return None
        line, used = [word], width
    if line:
        lines.append(line)
    return [_joined(line, spaces) for line in lines]


def _joined(words: list[Run], spaces: dict[str, float]) -> Line:
    """One line of words as runs, a space going with the word before it."""
    runs: list[Run] = []
    for font, text, width in words:
        if runs:
            last_font, last_text, last_width = runs[-1]
            if last_font == font:
                runs[-1] = (font, f"{last_text} {text}", last_width + spaces[font] + width)
                continue
            runs[-1] = (last_font, last_text + " ", last_width + spaces[last_font])
        runs.append((font, text, width))
    return sum(run[2] for run in runs), tuple(runs)


def _wrap_any(spans: Sequence[Span], size: float, room: float, max_lines: int) -> list[Line]:
    words, cut = _words(spans, MAX_CELL_CHARS if max_lines else 0)
    lines: list[list[list[str]]] = []  # of [font, text] pieces
    line: list[list[str]] = []
    used = 0.0
    for word in words:
        if word is None:  # a newline
            lines.append(line)
            line, used = [], 0.0
            continue
        width = sum(_string_width(text, font, size) for font, text in word)
        if line:
            gap = _string_width(" ", line[-1][0], size)
            if used + gap + width <= room:
                line[-1][1] += " "
                _extend(line, word)
                used += gap + width
                continue
            lines.append(line)
            line, used = [], 0.0
        if width <= room:
            _extend(line, word)
            used = width
            continue
        for font, text in word:
            for char in text:
                char_width = _string_width(char, font, size)
                if line and used + char_width > room:
                    lines.append(line)
                    line, used = [], 0.0
                _extend(line, [(font, char)])
                used += char_width
    if line:
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    if max_lines and (len(lines) > max_lines or (cut and lines)):
        del lines[max_lines:]
        lines[-1] = _ellipsized(lines[-1], spans[-1][0], size, room)
    return [_measured(pieces, size) for pieces in lines]


def _words(spans: Sequence[Span], limit: int) -> tuple[list[list[Span] | None], bool]:
    """The words of ``spans`` as font pieces, None for a newline; whether text was cut.

    A word runs from space to space, so it can mix fonts (Latin then Chinese).
    ``limit`` (when not 0) caps the characters read. Newlines before the first word
    are dropped.
    """
    words: list[list[Span] | None] = []
    word: list[Span] = []
    left = limit or math.inf
    cut = False
    for font, raw in spans:
        text = _clean(raw).replace("\t", _TAB)
        if len(text) > left:
            text, cut = text[: int(left)], True
        left -= len(text)
        for fallback, chunk in _runs(text):
            face = fallback or font
            for part in _GAPS.split(chunk):
                if not part:
                    continue
                if part[0] != " " and part != "\n":
                    word.append((face, part))
                    continue
                if word:
                    words.append(word)
                    word = []
                if part == "\n" and words:
                    words.append(None)
        if cut:
            break
    if word:
        words.append(word)
    return words, cut


def _extend(line: list[list[str]], pieces: Iterable[Span]) -> None:
    for font, text in pieces:
        if line and line[-1][0] == font:
            line[-1][1] += text
        else:
            line.append([font, text])


def _ellipsized(pieces: list[list[str]], font: str, size: float, room: float) -> list[list[str]]:
    """``pieces`` shortened until they fit ``room`` with an ellipsis after them."""
    last = pieces[-1][0] if pieces else font
    mark = last if last not in _FALLBACK_FILES else font  # DejaVu has the ellipsis
    room -= _string_width(ELLIPSIS, mark, size)
    pieces = [list(piece) for piece in pieces]
    width = sum(_string_width(text, face, size) for face, text in pieces)
    while pieces and (width > room or pieces[-1][1][-1:] == " "):
        face, text = pieces[-1]
        width -= _string_width(text[-1], face, size)
        pieces[-1][1] = text[:-1]
        if not pieces[-1][1]:
            pieces.pop()
    _extend(pieces, [(mark, ELLIPSIS)])
    return pieces


def _measured(pieces: list[list[str]], size: float) -> Line:
    runs = tuple((font, text, _string_width(text, font, size)) for font, text in pieces)
    return sum(run[2] for run in runs), runs


# --- Drawing text ------------------------------------------------------------------


class _Encoder:
    """PDF string operators for (font, text), made once per document.

    ReportLab numbers a font's subsets per document as characters first appear, so
    an encoding holds only for the document it was made in.
    """

    _PRINTABLE_ASCII = "".join(map(chr, range(32, 127)))

    def __init__(self, doc: Any) -> None:
        self._doc = doc
        self._memo: dict[Span, tuple[tuple[str, str], ...]] = {}
        self._ascii: dict[str, str | None] = {}  # font -> its subset 0 name, if ASCII is 1:1

    def get(self, font: str, text: str) -> tuple[tuple[str, str], ...]:
        """(subset font name, "(…) Tj") for each subset ``text`` needs."""
        encoded = self._memo.get((font, text))
        if encoded is None:
            encoded = self._memo[font, text] = self._encode(font, text)
        return encoded

    def _encode(self, font: str, text: str) -> tuple[tuple[str, str], ...]:
        if text.isascii() and text.isprintable():
            name = self.ascii_name(font)
            if name is not None:
                return ((name, f"({escapePDF(text)}) Tj"),)
        face = pdfmetrics.getFont(font)
        return tuple(
            (face.getSubsetInternalName(subset, self._doc), f"({escapePDF(data)}) Tj")
            for subset, data in face.splitString(text, self._doc)
        )

    def ascii_name(self, font: str) -> str | None:
        """The name of subset 0 if ``font`` codes printable ASCII as itself there.

        ReportLab does by default (``ttfAsciiReadable``), which spares splitting each
        ASCII string character by character in Python; checked, not assumed.
        """
        if font not in self._ascii:
            face = pdfmetrics.getFont(font)
            split = face.splitString(self._PRINTABLE_ASCII, self._doc)
            same = split == [(0, self._PRINTABLE_ASCII.encode("ascii"))]
            self._ascii[font] = face.getSubsetInternalName(0, self._doc) if same else None
        return self._ascii[font]


_ENCODER_KEY = "_markbook_encoder"  # where a canvas keeps its document's _Encoder


class _Pen:
    """One PDF text object for the text a flowable draws on one page.

    ReportLab's text object re-encodes each string it is given (subset lookup,
    escaping, measuring) at some 12 µs a call, and a table page draws hundreds of
    strings; this one writes operators encoded once per document.
    """

    def __init__(self, canvas: Canvas) -> None:
        self._canvas = canvas
        encoder = canvas.__dict__.get(_ENCODER_KEY)
        if encoder is None:
            encoder = canvas.__dict__[_ENCODER_KEY] = _Encoder(canvas._doc)
        self.encoder: _Encoder = encoder
        self._ops: list[str] = ["BT"]
        self._font = ""  # the "name size" set in the text object
        self._color: colors.Color | None = None

    def color(self, color: colors.Color) -> None:
        if color is not self._color:
            self._ops.append(f"{fp_str(color.red, color.green, color.blue)} rg")
            self._color = color

    def text(
        self, x: float, y: float, runs: Iterable[Run], size: float, color: colors.Color
    ) -> None:
        self.color(color)
        ops = self._ops
        ops.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm")
        for font, chunk, _ in runs:
            for name, shown in self.encoder.get(font, chunk):
                if (current := f"{name} {fp_str(size)}") != self._font:
                    ops.append(f"{current} Tf")
                    self._font = current
                ops.append(shown)

    def row(self, top: float, cells: Iterable[_Cell]) -> None:
        """The cells of a table row whose top is at ``top``."""
        ops = self._ops
        ops.append(f"1 0 0 1 0 {top:.2f} Tm")  # the origin the cells' moves start from
        encoder = self.encoder
        for cell in cells:
            if cell.encoder is not encoder:
                cell.compile(encoder)
            if cell.ops:
                if cell.color is not self._color:
                    self.color(cell.color)
                if cell.first_font != self._font:
                    ops.append(f"{cell.first_font} Tf")
                ops.append(cell.ops)
                self._font = cell.last_font

    def close(self) -> None:
        if len(self._ops) > 1:
            self._ops.append("ET")
            self._canvas.addLiteral(" ".join(self._ops))
        self._ops = ["BT"]


Placed = tuple[float, float, tuple[Run, ...]]  # x, baseline depth below the row top, runs


class _Cell:
    """The wrapped lines of a table cell and, once drawn, their PDF operators.

    Cells with the same text share one ``_Cell``. Its operators move from the row's
    origin (see ``_Pen.row``) and back to it, so they are made once per document
    however many rows show the text.
    """

    __slots__ = ("color", "encoder", "first_font", "last_font", "lines", "ops", "size")

    def __init__(self, lines: Sequence[Placed], size: float, color: colors.Color) -> None:
        self.lines = lines
        self.size = size
        self.color = color
        self.encoder: _Encoder | None = None
        self.ops = ""
        self.first_font = self.last_font = ""

    def compile(self, encoder: _Encoder) -> None:
        if len(self.lines) == 1 and len(self.lines[0][2]) == 1:  # most cells
            x, depth, ((font, chunk, _),) = self.lines[0]
            name = encoder.ascii_name(font) if chunk.isascii() and chunk.isprintable() else None
            if name is not None:
                self.ops = _ascii_ops(x, depth, chunk)
                self.first_font = self.last_font = f"{name} {fp_str(self.size)}"
                self.encoder = encoder
                return
        ops: list[str] = []
        size = fp_str(self.size)
        first = last = ""
        x0 = depth0 = 0.0
        for x, depth, runs in self.lines:
            # Rounded first, so that the move back to the origin cancels exactly.
            x, depth = round(x, 2), round(depth, 2)
            ops.append(f"{fp_str(x - x0, depth0 - depth)} Td")
            x0, depth0 = x, depth
            for font, chunk, _ in runs:
                for name, shown in encoder.get(font, chunk):
                    current = f"{name} {size}"
                    if not first:
                        first = current
                    elif current != last:
                        ops.append(f"{current} Tf")
                    last = current
                    ops.append(shown)
        if first:
            ops.append(f"{fp_str(-x0, depth0)} Td")
        self.ops = " ".join(ops) if first else ""
        self.first_font, self.last_font = first, last
        self.encoder = encoder


@functools.lru_cache(maxsize=8192)  # the same across documents: see _placed
def _ascii_ops(x: float, depth: float, text: str) -> str:
    """A one-line cell of printable ASCII, as ``_Cell.compile`` would write it."""
    x, depth = round(x, 2), round(depth, 2)
    return f"{fp_str(x, -depth)} Td ({escapePDF(text)}) Tj {fp_str(-x, depth)} Td"


# --- Figures -----------------------------------------------------------------------

_HUGE = Decimal(10) ** 20  # round2 would overflow Decimal's 28 digits not far above


def _fig(value: Decimal | float | None, suffix: str = "") -> str:
    """Two decimals, a real minus sign; a dash for a missing figure (never 0)."""
    if value is None:
        return EM_DASH
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not number.is_finite():  # an imported metric can be inf or nan
        return EM_DASH
    return _two_places(number) + suffix


@functools.lru_cache(maxsize=4096)  # a report shows the same few figures many times
def _two_places(number: Decimal) -> str:
    # Half up, as the model rounds; round2 needs the digits to fit Decimal's context.
    rounded = grading.round2(number) if abs(number) < _HUGE else number
    if rounded == 0:
        rounded = abs(rounded)  # no "−0.00"
    return f"{rounded:.2f}".replace("-", MINUS)


def _signed(value: Decimal | None) -> str:
    text = _fig(value)
    return "+" + text if value is not None and value > 0 and text != "0.00" else text


def _date(day: dt.date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment


def _timestamp(moment: dt.datetime) -> str:
    return f"{_date(_utc(moment).date())} {_utc(moment):%H:%M} UTC"


# --- Flowables ---------------------------------------------------------------------

Column = tuple[str, float, bool]  # header, width, right-aligned (figures, not wrapped)


_Parted = TypeVar("_Parted", "_Grid", "_Block")


def _parted(whole: _Parted, start: int, stop: int) -> _Parted:
    """A copy of ``whole`` showing its rows (bands) ``start`` to ``stop``."""
    part = copy.copy(whole)
    # ReportLab marks a flowable it had to carry to the next page, and fails one that
    # is marked and still does not fit: each part starts unmarked.
    part.__dict__.pop("_postponed", None)
    part._start, part._stop = start, stop
    return part


# Reports of one school share most of their cell texts (course names, assignment
# titles, dates, figures), so the lines are kept across documents.
@functools.lru_cache(maxsize=8192)
def _placed(
    font: str,
    text: str,
    size: float,
    leading: float,
    left: float,
    right: float,
    *,
    aligned_right: bool,
    wraps: bool,
) -> tuple[Placed, ...]:
    """The lines of a cell from ``left`` to ``right``, each at (x, baseline depth)."""
    room = right - left - 2 * PAD if wraps else math.inf
    return tuple(
        (
            right - PAD - width if aligned_right else left + PAD,
            PAD_Y + size + index * leading,
            runs,
        )
        for index, (width, runs) in enumerate(_wrap([(font, text)], size, room, MAX_CELL_LINES))
    )


class _Grid(Flowable):  # type: ignore[misc]
    """A table of text: header row repeated on every page, zebra stripes.

    Each cell is wrapped once, when the grid is made, to at most ``MAX_CELL_LINES``
    lines, so a row never needs to break across pages and a page break only has to
    count rows. The parts a split makes share the wrapped rows.
    """

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        looks: dict[tuple[int, int], Look] | None = None,
        *,
        total: bool = False,
    ) -> None:
        super().__init__()
        self.hAlign = "LEFT"
        widths = [width for _, width, _ in columns]
        self.width = sum(widths)
        self._edges = list(accumulate(widths, initial=0.0))
        self._rights = [right for _, _, right in columns]
        self._head, self._head_height = self._header([label for label, _, _ in columns])
        self._rows, heights = self._body(rows, looks or {})
        self._tops = list(accumulate(heights, initial=0.0))
        self._total = total  # the last row sums the others: ruled off, never striped
        self._start, self._stop = 0, len(self._rows)
        self.height = self._head_height + self._tops[-1]

    def _place(self, column: int, font: str, text: str, style: Style) -> tuple[Placed, ...]:
        """A cell's lines, top-aligned: the first baseline a font size below the padding.

        A figure (right-aligned) is never broken: in a column too narrow for it, it
        runs into the padding. Only a newline breaks a header label.
        """
        left, right = self._edges[column], self._edges[column + 1]
        aligned_right = self._rights[column]
        wraps = not aligned_right and style is not HEAD
        return _placed(
            font,
            text,
            style.size,
            style.leading,
            left,
            right,
            aligned_right=aligned_right,
            wraps=wraps,
        )

    def _body(
        self, rows: Sequence[Sequence[str]], looks: dict[tuple[int, int], Look]
    ) -> tuple[list[tuple[_Cell, ...]], list[float]]:
        """The rows' cells and heights."""
        # Texts repeat down a column (course names, categories, dates): one cell each,
        # kept by column and look (by identity: hashing a colour costs a Python call).
        made: dict[tuple[int, int], dict[str, _Cell]] = {}

        def cell(column: int, look: Look, text: str) -> _Cell:
            cells = made.setdefault((column, id(look)), {})
            found = cells.get(text)
            if found is None:
                lines = self._place(column, look.font, text, CELL)
                found = cells[text] = _Cell(lines, CELL.size, look.color)
            return found

        by_row: dict[int, dict[int, Look]] = {}
        for (column, index), look in looks.items():
            by_row.setdefault(index, {})[column] = look
        plain = [made.setdefault((column, id(PLAIN)), {}) for column in range(len(self._rights))]
        body = []
        heights = []
        for index, texts in enumerate(rows):
            special = by_row.get(index)
            row = []
            tallest = 1
            for column, text in enumerate(texts):
                found = None if special and column in special else plain[column].get(text)
                if found is None:
                    found = cell(column, special.get(column, PLAIN) if special else PLAIN, text)
                row.append(found)
                if len(found.lines) > tallest:
                    tallest = len(found.lines)
            body.append(tuple(row))
            heights.append(tallest * CELL.leading + 2 * PAD_Y)
        return body, heights

    def _header(self, labels: Sequence[str]) -> tuple[tuple[_Cell, ...], float]:
        placed = [
            self._place(column, HEAD.font, label, HEAD) for column, label in enumerate(labels)
        ]
        tallest = max(1, *(len(lines) for lines in placed))
        # Bottom-aligned, so one-line labels sit on the same baseline as two-line ones.
        cells = tuple(
            _Cell(
                [
                    (x, depth + (tallest - len(lines)) * HEAD.leading, runs)
                    for x, depth, runs in lines
                ],
                HEAD.size,
                HEAD.color,
            )
            for lines in placed
        )
        return cells, tallest * HEAD.leading + 2 * PAD_Y

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        start, stop = self._start, self._stop
        room = avail_height - self._head_height + self._tops[start]
        fits = min(bisect_right(self._tops, room + 1e-6) - 1, stop)
        if fits <= start:
            return []  # not even one row: the frame moves the whole grid on
        if fits == stop:
            return [self]
        return [self._part(start, fits), self._part(fits, stop)]

    def _part(self, start: int, stop: int) -> _Grid:
        part = _parted(self, start, stop)
        part.height = self._head_height + self._tops[stop] - self._tops[start]
        return part

    def draw(self) -> None:
        canvas = self.canv
        width, head = self.width, self._head_height
        top = self.height - head
        shown = range(self._start, self._stop)
        offset = top + self._tops[self._start]  # row i's top is offset - tops[i]
        canvas.setFillColor(TINT)
        canvas.rect(0, top, width, head, stroke=0, fill=1)
        stripes = canvas.beginPath()
        rules = canvas.beginPath()
        rules.moveTo(0, top)
        rules.lineTo(width, top)
        for index in shown:
            y = offset - self._tops[index]
            if self._total and index == len(self._rows) - 1:
                rules.moveTo(0, y)
                rules.lineTo(width, y)
            elif index % 2:
                height = self._tops[index + 1] - self._tops[index]
                stripes.rect(0, y - height, width, height)
        canvas.setFillColor(STRIPE)
        canvas.drawPath(stripes, stroke=0, fill=1)
        canvas.setStrokeColor(ACCENT)
        canvas.setLineWidth(0.75)
        canvas.drawPath(rules, stroke=1, fill=0)

        pen = _Pen(canvas)
        rows = [(self._head, self.height)]
        rows += [(self._rows[index], offset - self._tops[index]) for index in shown]
        for row, y in rows:
            pen.row(y, row)
        pen.close()


Label = tuple[float, float, tuple[Run, ...], float, colors.Color]  # x, y, runs, size, colour


class _Band(NamedTuple):
    """A strip of a ``_Block``: a page break may come before it, never inside."""

    height: float
    texts: tuple[Label, ...]  # y is the baseline's depth below the band's top
    keep: bool = False  # stays on the page of the band before it
    rule: bool = False  # a separator above it, unless it starts the page


class _Block(Flowable):  # type: ignore[misc]
    """Wrapped text laid out in bands, with an optional fill and bar down the left.

    Paragraphs, and what Paragraph-in-Table did for flags and comments, at a fraction
    of the cost. A long one breaks between bands, as a paragraph between lines.
    """

    def __init__(
        self,
        bands: Sequence[_Band],
        width: float = WIDTH,
        *,
        fill: colors.Color | None = None,
        bar: tuple[colors.Color, float] | None = None,
        rule: tuple[colors.Color, float] | None = None,
        gap: float = 0,
        space_before: float = 0,
        space_after: float = 0,
        together: bool = False,
    ) -> None:
        super().__init__()
        self.hAlign = "LEFT"
        self.width = width
        self.spaceBefore, self.spaceAfter = space_before, space_after
        self._bands = list(bands)
        self._gap = gap  # blank space above that, unlike spaceBefore, moves with the block
        if gap and self._bands:
            self._bands[0:1] = [_Band(gap, ()), self._bands[0]._replace(keep=True)]
        self._tops = list(accumulate((band.height for band in self._bands), initial=0.0))
        self._fill, self._bar, self._rule = fill, bar, rule
        self._together = together  # on one page when it fits on one
        self._start, self._stop = 0, len(self._bands)
        self.height = self._tops[-1]

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        start, stop = self._start, self._stop
        cut = min(bisect_right(self._tops, self._tops[start] + avail_height + 1e-6) - 1, stop)
        if cut >= stop:
            return [self]
        if self._together and start == 0 and self.height <= FRAME_HEIGHT:
            return []  # the frame carries it whole to the next page
        while cut > start and self._bands[cut].keep:
            cut -= 1
        if cut <= start:
            return []
        return [self._part(start, cut), self._part(cut, stop)]

    def _part(self, start: int, stop: int) -> _Block:
        part = _parted(self, start, stop)
        part.height = self._tops[stop] - self._tops[start]
        return part

    def draw(self) -> None:
        canvas = self.canv
        height = self.height - (self._gap if self._start == 0 else 0)
        if self._fill is not None:
            canvas.setFillColor(self._fill)
            canvas.rect(0, 0, self.width, height, stroke=0, fill=1)
        base = self._tops[self._start] + self.height  # band i's top is base - tops[i]
        if self._rule is not None:
            rules = canvas.beginPath()
            for index in range(self._start + 1, self._stop):
                if self._bands[index].rule:
                    rules.moveTo(0, base - self._tops[index])
                    rules.lineTo(self.width, base - self._tops[index])
            canvas.setStrokeColor(self._rule[0])
            canvas.setLineWidth(self._rule[1])
            canvas.drawPath(rules, stroke=1, fill=0)
        if self._bar is not None:
            canvas.setStrokeColor(self._bar[0])
            canvas.setLineWidth(self._bar[1])
            canvas.line(0, 0, 0, height)
        pen = _Pen(canvas)
        for index in range(self._start, self._stop):
            top = base - self._tops[index]
            for x, depth, runs, size, color in self._bands[index].texts:
                pen.text(x, top - depth, runs, size, color)
        pen.close()


def _bands(
    spans: Sequence[Span], style: Style, *, x: float = 0, room: float = WIDTH, keep: bool = False
) -> list[_Band]:
    """One band a line of wrapped text; ``keep`` holds each line to the one before."""
    return [
        _Band(style.leading, ((x, style.size, runs, style.size, style.color),), keep=keep)
        for _, runs in _wrap(spans, style.size, room)
    ]


def _padded(bands: list[_Band], top: float, bottom: float) -> list[_Band]:
    """``bands`` with padding added above the first and below the last."""
    if bands:
        first = bands[0]
        bands[0] = first._replace(
            height=first.height + top,
            texts=tuple(
                (x, depth + top, runs, size, color) for x, depth, runs, size, color in first.texts
            ),
        )
        bands[-1] = bands[-1]._replace(height=bands[-1].height + bottom)
    return bands


def _text(text: str | Sequence[Span], style: Style, width: float = WIDTH) -> _Block:
    """A paragraph: ``text`` in ``style``, or spans in their own fonts."""
    spans = [(style.font, text)] if isinstance(text, str) else text
    return _Block(
        _bands(spans, style, room=width),
        width,
        space_before=style.before,
        space_after=style.after,
    )


def _section(title: str) -> list[Flowable]:
    # A page break when little room is left, rather than keepWithNext: that would
    # carry a long table whole to the next page, leaving this one half empty.
    return [CondPageBreak(90), _text(title, H2)]


def _note(text: str, width: float = WIDTH) -> _Block:
    return _text(text, NOTE, width)


class _Picture(Flowable):  # type: ignore[misc]
    """Filled rectangles, lines and labels drawn straight onto the canvas.

    The charts and the summary cards: ReportLab's graphics shapes cost a renderer
    pass per shape and a text object per label.
    """

    def __init__(self, width: float, height: float) -> None:
        super().__init__()
        self.hAlign = "LEFT"
        self.width, self.height = width, height
        self._shapes: list[tuple[str, colors.Color, float, list[tuple[float, ...]]]] = []
        self._labels: list[Label] = []

    def rects(
        self, rects: Iterable[tuple[float, float, float, float]], color: colors.Color
    ) -> None:
        self._shapes.append(("rects", color, 0, list(rects)))

    def lines(
        self,
        segments: Iterable[tuple[float, float, float, float]],
        color: colors.Color,
        width: float,
    ) -> None:
        self._shapes.append(("lines", color, width, list(segments)))

    def polyline(
        self, points: Iterable[tuple[float, float]], color: colors.Color, width: float
    ) -> None:
        self._shapes.append(("polyline", color, width, list(points)))

    def dot(self, x: float, y: float, radius: float, color: colors.Color) -> None:
        self._shapes.append(("dot", color, radius, [(x, y)]))

    def label(
        self,
        x: float,
        y: float,
        runs: Sequence[Run],
        size: float,
        color: colors.Color,
        anchor: str = "start",
    ) -> None:
        """``anchor``: whether x is the start, middle or end of the text."""
        total = sum(run[2] for run in runs)
        x -= {"start": 0.0, "middle": total / 2, "end": total}[anchor]
        self._labels.append((x, y, tuple(runs), size, color))

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setLineJoin(1)  # round: the trend line turns smoothly
        for kind, color, width, items in self._shapes:
            if kind == "dot":
                canvas.setFillColor(color)
                for x, y in items:
                    canvas.circle(x, y, width, stroke=0, fill=1)
                continue
            path = canvas.beginPath()
            if kind == "rects":
                for x, y, w, h in items:
                    path.rect(x, y, w, h)
                canvas.setFillColor(color)
                canvas.drawPath(path, stroke=0, fill=1)
                continue
            if kind == "lines":
                for x1, y1, x2, y2 in items:
                    path.moveTo(x1, y1)
                    path.lineTo(x2, y2)
            else:
                path.moveTo(*items[0])
                for x, y in items[1:]:
                    path.lineTo(x, y)
            canvas.setStrokeColor(color)
            canvas.setLineWidth(width)
            canvas.drawPath(path, stroke=1, fill=0)
        pen = _Pen(canvas)
        for x, y, runs, size, color in self._labels:
            pen.text(x, y, runs, size, color)
        pen.close()


class _Beside(Flowable):  # type: ignore[misc]
    """Stacks of flowables side by side, top-aligned: the two charts and their titles."""

    def __init__(self, stacks: Sequence[tuple[float, Sequence[Flowable]]], width: float) -> None:
        super().__init__()
        self.hAlign = "LEFT"
        self.width = width
        self._stacks = stacks
        self.height = max(
            sum(item.height for item in stack) + sum(item.getSpaceAfter() for item in stack[:-1])
            for _, stack in stacks
        )

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        for x, stack in self._stacks:
            y = self.height
            for item in stack:
                y -= item.height
                item.drawOn(self.canv, x, y)
                y -= item.getSpaceAfter()


# --- Header, cards, flags ----------------------------------------------------------


def _header(report: PerformanceReport, school_name: str) -> list[Flowable]:
    student, period = report.student, report.period
    meta = " · ".join(
        [
            f"Grade {student.grade_level}",
            f"Student ID {student.external_id}",
            f"{_date(period.start)} – {_date(period.end)}",
            f"Generated {_timestamp(report.generated_at)}",
        ]
    )
    return [
        _text(school_name, SCHOOL),
        _note("Student performance report"),
        _text(student.name, TITLE),
        _text(meta, META),
        Spacer(1, 10),
    ]


CARD_PAD_X = 8
CARD_GAP = 4  # white between cards
CARD_ROWS = (  # style, height, baseline depth: label, figure, note
    (Style(SANS, 7.5, 9, MUTED), 16, 13.5),
    (Style(SANS_BOLD, 15, 18, INK), 22, 34),
    (Style(SANS, 7.5, 9, MUTED), 17, 46.5),
)


def _cards(report: PerformanceReport) -> Flowable:
    summary = report.summary
    counts, attendance = summary.assignments, summary.attendance
    average = _fig(summary.overall_average)
    cards = [
        (
            "Average",
            f"{average} {summary.letter}" if summary.letter else average,
            "Credit-weighted",
        ),
        ("GPA", _fig(summary.gpa), "On a 4.0 scale"),
        (
            "Attendance",
            _fig(summary.attendance_rate, "%"),
            f"{attendance.absent} absent · {attendance.late} late",
        ),
        (
            "Completion",
            _fig(summary.completion_rate, "%"),
            f"{counts.missing} of {counts.counted} missing"
            if counts.counted
            else "Nothing due yet",
        ),
        ("Trend", _signed(summary.trend), "Vs. previous period"),
    ]
    height = sum(row[1] for row in CARD_ROWS)
    card = WIDTH / len(cards)
    picture = _Picture(WIDTH, height)
    picture.rects([(0, 0, WIDTH, height)], TINT)
    picture.lines([(card * n, 0, card * n, height) for n in range(1, len(cards))], WHITE, CARD_GAP)
    picture.lines([(0, height, WIDTH, height)], ACCENT, 2)
    for index, (label, figure, note) in enumerate(cards):
        for (style, _, depth), text in zip(CARD_ROWS, (label.upper(), figure, note), strict=True):
            runs = _font_runs(text, style.font, style.size)
            picture.label(card * index + CARD_PAD_X, height - depth, runs, style.size, style.color)
    return picture


_FLAG_TITLES = {
    "attendance_below_90": "Attendance",
    "failing_course": "Failing course",
    "missing_work": "Missing work",
    "declining": "Declining",
}
FLAG_TITLE_WIDTH = 90
FLAG_INDENT = 9  # clear of the bar
FLAG_PAD_X = 6
FLAG_PAD_Y = 3.5


def _flags(report: PerformanceReport) -> list[Flowable]:
    flags = report.summary.flags
    if not flags:
        return [*_section("Flags"), _note("No concerns flagged for this period.")]
    bands = []
    message_x = FLAG_TITLE_WIDTH + FLAG_PAD_X
    for index, flag in enumerate(flags):
        title = _FLAG_TITLES.get(flag.code, flag.code)
        title_room = FLAG_TITLE_WIDTH - FLAG_INDENT - FLAG_PAD_X
        columns = (
            (FLAG_INDENT, _wrap([(SANS_BOLD, title)], FLAG.size, title_room)),
            (message_x, _wrap([(SANS, flag.message)], FLAG.size, WIDTH - message_x - FLAG_PAD_X)),
        )
        texts = [
            (x, FLAG_PAD_Y + FLAG.size + line * FLAG.leading, runs, FLAG.size, FLAG.color)
            for x, lines in columns
            for line, (_, runs) in enumerate(lines)
        ]
        tallest = max(1, *(len(lines) for _, lines in columns))
        bands.append(_Band(tallest * FLAG.leading + 2 * FLAG_PAD_Y, tuple(texts), rule=index > 0))
    return [
        *_section("Flags"),
        _Block(bands, fill=WARN_TINT, bar=(WARN, 3), rule=(WHITE, 0.5)),
    ]


# --- Courses -----------------------------------------------------------------------

# A newline in a header label is where it wraps.
COURSE_COLUMNS: tuple[Column, ...] = (
    ("Course", 100, False),
    ("Subject", 64, False),
    ("Teacher", 0, False),  # takes what is left
    ("Credits", 40, True),
    ("Average", 44, True),
    ("Letter", 34, True),
    ("Grade\npoints", 38, True),
    ("Attendance", 58, True),
    ("Counted /\nmissing", 50, True),
)


def _widths(columns: Sequence[Column]) -> tuple[Column, ...]:
    """The columns with the zero-width one stretched to fill the page width."""
    rest = WIDTH - sum(width for _, width, _ in columns)
    return tuple((label, width or rest, right) for label, width, right in columns)


def _course_row(course: CourseLine) -> list[str]:
    return [
        course.name,
        course.subject,
        course.teacher,
        _fig(course.credits),
        _fig(course.average),
        course.letter or EM_DASH,
        _fig(course.grade_points),
        _fig(course.attendance_rate, "%"),
        f"{course.assignments.counted} / {course.assignments.missing}",
    ]


def _courses(report: PerformanceReport) -> list[Flowable]:
    if not report.courses:
        return [*_section("Courses"), _note("No courses in this period.")]
    columns = _widths(COURSE_COLUMNS)
    rows = [_course_row(course) for course in report.courses]
    summary = report.summary
    rows.append(
        [
            "All courses",
            "",
            "",
            _fig(sum((course.credits for course in report.courses), Decimal(0))),
            _fig(summary.overall_average),
            summary.letter or EM_DASH,
            _fig(summary.gpa),
            _fig(summary.attendance_rate, "%"),
            f"{summary.assignments.counted} / {summary.assignments.missing}",
        ]
    )
    looks = {
        (column, row): WARNING
        for row, course in enumerate(report.courses)
        if course.average is not None and course.average < grading.FAILING_BELOW
        for column in (4, 5)
    }
    looks.update(((column, len(rows) - 1), STRONG) for column in range(len(columns)))
    return [*_section("Courses"), _Grid(columns, rows, looks, total=True)]


# --- Charts ------------------------------------------------------------------------

CHART_FONT = 7
CHART_MIN_HEIGHT = 130.0
CHART_GUTTER = 18
CHART_WIDTH = (WIDTH - CHART_GUTTER) / 2


def _chart_label(
    picture: _Picture,
    x: float,
    y: float,
    text: str | list[Run],
    anchor: str = "start",
    color: colors.Color = MUTED,
) -> None:
    runs = _font_runs(text, SANS, CHART_FONT) if isinstance(text, str) else text
    picture.label(x, y, runs, CHART_FONT, color, anchor)


def _course_chart(courses: Sequence[CourseLine]) -> Flowable:
    marked = [(course.name, course.average) for course in courses if course.average is not None]
    if not marked:
        return _note("No graded work yet, so no course averages to chart.", CHART_WIDTH)
    names_width, values_width, axis = 96.0, 28.0, 14.0
    row = min(20.0, max(14.0, (CHART_MIN_HEIGHT - axis - 4) / len(marked)))
    bar = min(row - 5, 10.0)
    x0 = names_width + 6
    plot = CHART_WIDTH - x0 - values_width
    top = max(100, math.ceil(max(average for _, average in marked) / 20) * 20)
    height = len(marked) * row + axis + 4
    picture = _Picture(CHART_WIDTH, height)
    ticks = [(x0 + plot * tick / top, tick) for tick in range(0, top + 1, 20)]
    picture.lines([(x, axis, x, height) for x, _ in ticks], RULE, 0.5)
    for x, tick in ticks:
        _chart_label(picture, x, axis - 9, str(tick), "middle")
    bars = []
    for index, (name, average) in enumerate(marked):
        middle = height - (index + 0.5) * row
        length = plot * float(average) / top
        bars.append((x0, middle - bar / 2, length, bar))
        names = _fit(name, SANS, CHART_FONT, names_width)
        _chart_label(picture, x0 - 5, middle - 2.5, names, "end", INK)
        _chart_label(picture, x0 + length + 3, middle - 2.5, _fig(average))
    picture.rects(bars, ACCENT)
    return picture


def _trend_chart(report: PerformanceReport, height: float) -> Flowable:
    weeks = weekly_averages(report)
    points = [(index, value) for index, (_, value) in enumerate(weeks) if value is not None]
    if not points:
        return _note("No graded work in this period, so no weekly average to chart.", CHART_WIDTH)
    values = [float(value) for _, value in points]
    low = max(0, math.floor(min(values) / 10) * 10 - 10)
    high = max(low + 20, math.ceil(max(values) / 10) * 10)
    step = 10 if high - low <= 50 else 20
    x0, y0, right = 24.0, 14.0, 26.0
    plot_w, plot_h = CHART_WIDTH - x0 - right, height - y0 - 6
    span = max(len(weeks) - 1, 1)

    def at(index: float, value: float) -> tuple[float, float]:
        return x0 + plot_w * index / span, y0 + plot_h * (value - low) / (high - low)

    picture = _Picture(CHART_WIDTH, height)
    ticks = [(at(0, tick)[1], tick) for tick in range(low, high + 1, step)]
    picture.lines([(x0, y, x0 + plot_w, y) for y, _ in ticks], RULE, 0.5)
    for y, tick in ticks:
        _chart_label(picture, x0 - 4, y - 2.5, str(tick), "end")
    _month_labels(picture, weeks[0][0], report.period.end, lambda day: at(day, low)[0])
    xy = [at(index, value) for (index, _), value in zip(points, values, strict=True)]
    if len(xy) > 1:
        picture.polyline(xy, ACCENT, 1.5)
    # One dot, on the latest week, beside its value.
    picture.dot(*xy[-1], 2.2, ACCENT)
    _chart_label(picture, xy[-1][0] + 5, xy[-1][1] - 2.5, _fig(points[-1][1]))
    return picture


def _month_labels(
    picture: _Picture, first_monday: dt.date, end: dt.date, x_of: Callable[[float], float]
) -> None:
    """Month names along the x axis: every month, or every n-th when they would collide."""
    starts = []
    day = dt.date(first_monday.year, first_monday.month, 1)
    while day <= end:
        if day >= first_monday:
            starts.append((x_of((day - first_monday).days / 7), _MONTHS[day.month - 1]))
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    if not starts:
        return
    month_width = x_of(31 / 7) - x_of(0)
    widest = max(_string_width(name, SANS, CHART_FONT) for _, name in starts)
    for x, name in starts[:: math.ceil((widest + 6) / month_width)]:
        _chart_label(picture, x, 4, name, "middle")


def _charts(report: PerformanceReport) -> list[Flowable]:
    bars = _course_chart(report.courses)
    height = max(bars.height if isinstance(bars, _Picture) else 0, CHART_MIN_HEIGHT)
    beside = _Beside(
        [
            (0, [_text("Course averages", H3), bars]),
            (
                CHART_WIDTH + CHART_GUTTER,
                [_text("Weekly average", H3), _trend_chart(report, height)],
            ),
        ],
        WIDTH,
    )
    return [Spacer(1, 12), beside]


# --- Attendance, analytics ---------------------------------------------------------

ATTENDANCE_COLUMNS: tuple[Column, ...] = (
    ("Present", 70, True),
    ("Late", 70, True),
    ("Absent", 70, True),
    ("Excused", 70, True),
    ("Attendance rate", 90, True),
)


def _attendance(report: PerformanceReport) -> list[Flowable]:
    counts = report.summary.attendance
    row = [
        str(counts.present),
        str(counts.late),
        str(counts.absent),
        str(counts.excused),
        _fig(report.summary.attendance_rate, "%"),
    ]
    parts: list[Flowable] = [*_section("Attendance"), _Grid(ATTENDANCE_COLUMNS, [row])]
    records = report.attendance_records
    if not records:
        return [*parts, Spacer(1, 4), _note("No absences or late arrivals recorded.")]
    parts.append(Spacer(1, 6))
    for status in ("absent", "late", "excused"):
        mine = [record for record in records if record.status == status]
        if mine:
            parts.append(_record_list(status, mine))
    return parts


def _record_list(status: str, records: Sequence[AttendanceRecord]) -> Flowable:
    """One status's days, grouped by course: shorter to read than one entry a day."""
    days: dict[str, list[dt.date]] = {}
    for record in records:
        days.setdefault(record.course, []).append(record.date)
    groups = "; ".join(
        f"{course}: {', '.join(_date(day) for day in sorted(dates))}"
        for course, dates in days.items()
    )
    heading = f"{status.capitalize()} ({len(records)})"
    return _text([(SANS_BOLD, heading), (RECORDS.font, f" · {groups}")], RECORDS)


ANALYTICS_COLUMNS: tuple[Column, ...] = (
    ("Metric", 0, False),
    ("Count", 40, True),
    ("Mean", 50, True),
    ("Min", 50, True),
    ("Max", 50, True),
    ("Latest", 50, True),
    ("Latest at", 114, True),
)


def _metric_row(metric: MetricSummary) -> list[str]:
    return [
        metric.metric_type.replace("_", " ").capitalize(),
        str(metric.count),
        _fig(metric.mean),
        _fig(metric.min),
        _fig(metric.max),
        _fig(metric.latest),
        _timestamp(metric.latest_at),
    ]


def _analytics(report: PerformanceReport) -> list[Flowable]:
    if not report.analytics:
        return [*_section("Analytics"), _note("No analytics recorded in this period.")]
    columns = _widths(ANALYTICS_COLUMNS)
    rows = [_metric_row(metric) for metric in report.analytics]
    return [*_section("Analytics"), _Grid(columns, rows)]


# --- Comments ----------------------------------------------------------------------


def _comment_heading(comment: Comment) -> tuple[str, str]:
    """(kind and course, author and date) for one comment."""
    if isinstance(comment, StudentReportComment):
        span = f"{_date(comment.period_start)} – {_date(comment.period_end)}"
        return "Student report", f"{comment.author} · {_date(comment.date)} · covers {span}"
    if isinstance(comment, TeacherWeeklyComment):
        return (
            f"Teacher weekly · {comment.course}",
            f"{comment.author} · week of {_date(comment.date)}",
        )
    return "Tutor weekly", f"{comment.author} · week of {_date(comment.date)}"


def _comment_fields(comment: Comment) -> list[tuple[str, str | None]]:
    if isinstance(comment, StudentReportComment):
        return [
            ("Summary", comment.summary),
            ("Strengths", comment.strengths),
            ("Concerns", comment.concerns),
            ("Recommendations", comment.recommendations),
        ]
    if isinstance(comment, TeacherWeeklyComment):
        homework = comment.homework_completion
        return [
            ("Progress", comment.progress_summary),
            ("Homework", None if homework is None else _fig(homework, "% completed")),
            ("Behaviour", comment.behaviour),
            ("Next steps", comment.next_steps),
        ]
    return [
        ("Topics", comment.topics),
        ("Hours", _fig(comment.hours)),
        ("Progress", f"{comment.progress_rating} of 5"),
        ("Notes", comment.notes),
    ]


COMMENT_LABEL_WIDTH = 96
COMMENT_INDENT = 9  # clear of the bar
COMMENT_PAD_X = 6
COMMENT_LABEL = CELL._replace(color=MUTED)


def _comment(comment: Comment) -> Flowable:
    title, byline = _comment_heading(comment)
    room = WIDTH - COMMENT_INDENT - COMMENT_PAD_X
    # The heading never ends a page: it stays together and with the first line of text.
    bands = _padded(
        _bands([(SANS_BOLD, title)], BODY, x=COMMENT_INDENT, room=room, keep=True), 0, 3
    )
    bands += _padded(_bands([(SANS, byline)], NOTE, x=COMMENT_INDENT, room=room, keep=True), 0, 5)
    text_x = COMMENT_LABEL_WIDTH + COMMENT_PAD_X
    first_field = True
    for label, text in _comment_fields(comment):
        if text is None or not text.strip():
            continue
        lines = _bands([(SANS, text)], BODY, x=text_x, room=WIDTH - text_x - COMMENT_PAD_X)
        if not lines:
            continue
        runs = tuple(_font_runs(label, COMMENT_LABEL.font, COMMENT_LABEL.size))
        label_text = (COMMENT_INDENT, COMMENT_LABEL.size, runs, COMMENT_LABEL.size, MUTED)
        lines[0] = lines[0]._replace(texts=(label_text, *lines[0].texts), keep=first_field)
        bands += _padded(lines, 0, 3)
        first_field = False
    bands[0] = bands[0]._replace(keep=False)
    # Together on one page when it fits; a longer one breaks between lines.
    return _Block(bands, bar=(ACCENT, 2), gap=6, together=True)


def _comments(report: PerformanceReport) -> list[Flowable]:
    if not report.comments:
        return [*_section("Comments"), _note("No comments in this period.")]
    return [*_section("Comments"), *(_comment(item) for item in report.comments)]


# --- Assignments -------------------------------------------------------------------

ASSIGNMENT_COLUMNS: tuple[Column, ...] = (
    ("Due", 62, False),
    ("Course", 84, False),
    ("Assignment", 0, False),
    ("Category", 60, False),  # "Participation" on one line
    ("Weight", 40, True),
    ("Score", 74, True),
    ("Percent", 42, True),
    ("Status", 44, False),
)
_STATUS_LOOK = {"missing": WARNING, "excused": QUIET, "pending": QUIET}


def _assignment_row(line: AssignmentLine) -> list[str]:
    return [
        _date(line.due_date),
        line.course,
        line.title,
        line.category,
        _fig(line.weight),
        f"{_fig(line.score)} / {_fig(line.max_points)}",
        _fig(line.percent),
        line.status,
    ]


def _assignments(report: PerformanceReport) -> list[Flowable]:
    lines = report.assignments
    if not lines:
        return [*_section("Assignments"), _note("No assignments in this period.")]
    columns = _widths(ASSIGNMENT_COLUMNS)
    rows = [_assignment_row(line) for line in lines]
    looks = {
        (7, row): _STATUS_LOOK[line.status]
        for row, line in enumerate(lines)
        if line.status in _STATUS_LOOK
    }
    return [*_section(f"Assignments ({len(lines)})"), _Grid(columns, rows, looks)]


# --- Pages -------------------------------------------------------------------------

FOOTER_SIZE = 7.5


class _CountingCanvas(Canvas):  # type: ignore[misc]
    """Holds every page back until the end, so each footer can say "of M".

    ReportLab learns the page count only after laying everything out; keeping the
    finished pages and stamping them at save time avoids a second layout pass.
    """

    def __init__(self, *args: Any, footer: Callable[[Canvas, int, int], None], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held)
        for number, state in enumerate(self._held, start=1):
            self.__dict__.update(state)
            self._footer(self, number, total)
            super().showPage()
        super().save()
        # The canvas is in reference cycles with its document, freed only by the cyclic
        # collector; its thousands of encoded strings need not wait for that.
        self._held.clear()
        self.__dict__.pop(_ENCODER_KEY, None)


def _footer_drawer(
    report: PerformanceReport, school_name: str
) -> Callable[[Canvas, int, int], None]:
    generated = f"Generated {_date(_utc(report.generated_at).date())}"
    left_text = f"{report.student.name} · {school_name}"
    fitted: list[list[Run]] = []  # the left text, fitted once

    def draw(canvas: Canvas, number: int, total: int) -> None:
        if not fitted:
            widest = f"{generated} · Page {total} of {total}"
            room = WIDTH - _string_width(widest, SANS, FOOTER_SIZE) - 24
            fitted.append(_fit(left_text, SANS, FOOTER_SIZE, room))
        y = MARGIN_BOTTOM - 26
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, y + 10, PAGE_WIDTH - MARGIN_X, y + 10)
        pen = _Pen(canvas)
        pen.text(MARGIN_X, y, fitted[0], FOOTER_SIZE, MUTED)
        right = f"{generated} · Page {number} of {total}"  # no user text: all in SANS
        width = _string_width(right, SANS, FOOTER_SIZE)
        pen.text(PAGE_WIDTH - MARGIN_X - width, y, [(SANS, right, width)], FOOTER_SIZE, MUTED)
        pen.close()
        canvas.restoreState()

    return draw


def _title(report: PerformanceReport) -> str:
    period = report.period
    return (
        f"Performance report: {_clean(report.student.name)}, "
        f"{period.start.isoformat()} to {period.end.isoformat()}"
    )


def render_pdf(report: PerformanceReport, *, school_name: str) -> bytes:
    """The report as a US Letter PDF, fonts embedded."""
    _FONTS.main_coverage()
    story: list[Flowable] = [
        *_header(report, school_name),
        _cards(report),
        *_flags(report),
        *_courses(report),
        *_charts(report),
        *_attendance(report),
        *_analytics(report),
        *_comments(report),
        *_assignments(report),
    ]
    buffer = io.BytesIO()
    # No side padding, so the tables and text line up with the footer rule.
    frame = Frame(
        MARGIN_X,
        MARGIN_BOTTOM,
        WIDTH,
        PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM,
        leftPadding=0,
        rightPadding=0,
        topPadding=FRAME_PAD_Y,
        bottomPadding=FRAME_PAD_Y,
    )
    document = BaseDocTemplate(
        buffer,
        pagesize=LETTER,
        pageTemplates=[PageTemplate(frames=[frame])],
        title=_title(report),
        author=_clean(school_name),
        subject="Markbook student performance report",
        creator="Markbook",
        lang="en-US",
        # Otherwise every page names Helvetica, a font the document never shows.
        initialFontName=SANS,
    )
    footer = _footer_drawer(report, school_name)
    document.build(
        story, canvasmaker=lambda *args, **kwargs: _CountingCanvas(*args, footer=footer, **kwargs)
    )
    return buffer.getvalue()
