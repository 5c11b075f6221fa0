"""Pydantic types shared by every domain's request and response models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

# Ids are PostgreSQL `integer` columns: a larger number can name no row, and sent to
# the database it would be an error rather than "not found".
MAX_ID = 2**31 - 1
# PostgreSQL text cannot hold NUL; no name, search or comment needs one.
NO_NUL = r"^[^\x00]*$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Every id and text that comes in from outside uses these, so bad input is a 422.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Text = Annotated[str, AfterValidator(_no_nul)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]

# Decimals are exact inside Markbook and plain JSON numbers outside (pydantic would
# otherwise write them as strings).
JsonDecimal = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


def _assume_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# A timestamp from outside: ISO 8601; one without an offset is taken as UTC.
Timestamp = Annotated[dt.datetime, AfterValidator(_assume_utc)]

T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Schema, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
