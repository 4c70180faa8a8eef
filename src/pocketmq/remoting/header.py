"""Typed custom headers: dataclasses <-> ``extFields`` (a str -> str map on the wire).

A header class is a dataclass whose field names are upstream's header names. A field with no
default is required (upstream ``@CFNotNull``); a missing or unparsable value raises
``HeaderError``, which processors turn into SYSTEM_ERROR with a remark naming the field. A
field's metadata may give an ``alias`` (the V2 short name, e.g. ``a`` for producerGroup).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class HeaderError(ValueError):
    """A required header field is missing, or a field's text does not parse."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"the custom field <{field}> {problem}")
        self.field = field


def alias(short_name: str, **kwargs: Any) -> Any:
    """A dataclass field that V2 headers carry under ``short_name``."""
    return dataclasses.field(metadata={"alias": short_name}, **kwargs)


def _parse_int(text: str) -> int:
    return int(text)


def _parse_bool(text: str) -> bool:
    # As Java's Boolean.parseBoolean: only "true" is true. The C++ client sends "0"/"1".
    return text.strip().lower() in ("true", "1")


_PARSERS: dict[str, Callable[[str], Any]] = {
    "int": _parse_int, "bool": _parse_bool, "str": str, "float": float,
}


def _base_type_name(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return text.replace(" ", "").split("|")[0]


@dataclasses.dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    alias: str | None
    parse: Callable[[str], Any]
    required: bool


_SPECS: dict[type, tuple[_FieldSpec, ...]] = {}


def _specs(cls: type) -> tuple[_FieldSpec, ...]:
    specs = _SPECS.get(cls)
    if specs is None:
        specs = tuple(
            _FieldSpec(
                name=field.name,
                alias=field.metadata.get("alias"),
                parse=_PARSERS.get(_base_type_name(field.type), str),
                required=field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
            )
            for field in dataclasses.fields(cls)
        )
        _SPECS[cls] = specs
    return specs


def decode_header(cls: type[T], ext_fields: dict[str, str] | None, *, short_names: bool = False) -> T:
    """Build ``cls`` from ``ext_fields``; with ``short_names`` read each field's V2 alias."""
    fields = ext_fields or {}
    values: dict[str, Any] = {}
    for spec in _specs(cls):
        key = spec.alias if short_names and spec.alias else spec.name
        text = fields.get(key)
        if text is None or (text == "" and spec.parse is not str):
            if spec.required:
                raise HeaderError(spec.name, "is null")
            continue
        try:
            values[spec.name] = spec.parse(text)
        except ValueError:
            raise HeaderError(spec.name, f"has a bad value {text!r}") from None
    return cls(**values)


def encode_header(header: Any, *, short_names: bool = False) -> dict[str, str]:
    """extFields for ``header``: every non-None value as a string (booleans as true/false)."""
    fields: dict[str, str] = {}
    for spec in _specs(type(header)):
        value = getattr(header, spec.name)
        if value is None:
            continue
        key = spec.alias if short_names and spec.alias else spec.name
        if isinstance(value, bool):
            fields[key] = "true" if value else "false"
        else:
            fields[key] = str(value)
    return fields
