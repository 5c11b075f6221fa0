"""Pydantic types shared by every domain's request and response models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

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
