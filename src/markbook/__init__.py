"""Markbook: student performance reports, report cards and data exports for schools."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("markbook")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
