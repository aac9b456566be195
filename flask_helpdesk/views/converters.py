"""The URL converter of every id in the helpdesk's routes: ``<helpdesk_id:grant_id>``.

Werkzeug's ``int`` converter takes any number of digits, so ``/access/99999999999999999999/…``
reached the database and failed there (a 500). Ids out of the INTEGER range do not match the
route at all: a plain 404, like any id that does not exist.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, ValidationError

from ..inputs import MAX_ID

NAME = "helpdesk_id"


class IdConverter(IntegerConverter):
    """A positive row id, 1 to :data:`flask_helpdesk.inputs.MAX_ID`."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        # Refused before int(): thousands of digits would be slow, or beyond Python's limit.
        if len(value) > len(str(MAX_ID)):
            raise ValidationError()
        return super().to_python(value)


def register(app: Flask) -> None:
    """Before any helpdesk blueprint is registered: its rules are compiled with the app's map."""
    app.url_map.converters[NAME] = IdConverter


__all__ = ["IdConverter", "register"]
