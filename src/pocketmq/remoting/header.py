"""Typed custom headers: dataclasses <-> ``extFields`` (a str -> str map on the wire).

A header class is a dataclass whose field names are upstream's header names; an ``int`` field
takes what a Java long holds, an ``Int32`` one what a Java int holds. A field with no
default is required (upstream ``@CFNotNull``); a missing or unparsable value raises
``HeaderError``, which processors turn into SYSTEM_ERROR with a remark naming the field. A
field's metadata may give an ``alias`` (the V2 short name, e.g. ``a`` for producerGroup).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, TypeVar

try:  # compiled (pocketmq/_speedups.c): the same rules without a Python frame per field
    from pocketmq._speedups import decode_header_fields as _compiled_decode
except ImportError:  # pragma: no cover - the extension is optional at install
    _compiled_decode = None

T = TypeVar("T")


class HeaderError(ValueError):
    """A required header field is missing, or a field's text does not parse."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"the custom field <{field}> {problem}")
        self.field = field


def alias(short_name: str, **kwargs: Any) -> Any:
    """A dataclass field that V2 headers carry under ``short_name``."""
    return dataclasses.field(metadata={"alias": short_name}, **kwargs)


Int32 = int
"""A header field that upstream declares ``Integer``: only values a Java int holds parse
(every other integer field is a Java ``Long``)."""


_LONG_BITS, _INT_BITS_32 = 63, 31  # value bits of a Java long and int


def _parse_int(text: str) -> int:
    return _in_range(int(text), _LONG_BITS)


def _parse_int32(text: str) -> int:
    return _in_range(int(text), _INT_BITS_32)


def _in_range(value: int, bits: int) -> int:
    """Java's parseInt/parseLong refuse a number that does not fit; so do we, before a value
    that cannot be packed reaches the store."""
    if not -(1 << bits) <= value < (1 << bits):
        raise ValueError(f"{value} does not fit a {bits + 1}-bit Java integer")
    return value


def _parse_bool(text: str) -> bool:
    # As Java's Boolean.parseBoolean: only "true" is true. The C++ client sends "0"/"1".
    return text.strip().lower() in ("true", "1")


_INT_BITS: dict[Callable[[str], Any], int] = {_parse_int: _LONG_BITS, _parse_int32: _INT_BITS_32}

_PARSERS: dict[str, Callable[[str], Any]] = {
    "int": _parse_int, "Int32": _parse_int32, "bool": _parse_bool, "str": str, "float": float,
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
    decoder = _DECODERS.get((cls, short_names))
    if decoder is None:
        decoder = _DECODERS[(cls, short_names)] = _fastest_decoder(cls, short_names)
    return decoder(ext_fields or {})


_DECODERS: dict[tuple[type, bool], Callable[[dict[str, str]], Any]] = {}


# The kinds of field the compiled decoder parses itself (any other makes the class Python-only).
_COMPILED_KINDS: dict[Callable[[str], Any], int] = {str: 0, _parse_int: 1, _parse_int32: 2, _parse_bool: 3}


def _fastest_decoder(cls: type, short_names: bool) -> Callable[[dict[str, str]], Any]:
    """The compiled decoder where it can take every field of ``cls`` (it hands anything unusual,
    such as a missing or bad value, to the Python decoder, so the answers are the same)."""
    python_decoder = _compile_decoder(cls, short_names)
    fields = dataclasses.fields(cls)
    specs = _specs(cls)
    if _compiled_decode is None or any(spec.parse not in _COMPILED_KINDS for spec in specs) \
            or any(field.kw_only or not field.init for field in fields):
        return python_decoder
    compiled_specs = tuple(
        (spec.alias if short_names and spec.alias else spec.name, _COMPILED_KINDS[spec.parse], spec.required,
         None if field.default is dataclasses.MISSING else field.default,
         None if field.default_factory is dataclasses.MISSING else field.default_factory)
        for spec, field in zip(specs, fields))
    return functools.partial(_compiled_decode, compiled_specs, cls, python_decoder)


def _compile_decoder(cls: type, short_names: bool) -> Callable[[dict[str, str]], Any]:
    """One straight-line function per header class (as ``dataclasses`` builds ``__init__``):
    headers are decoded for every request, and a generic loop over the fields cost more than
    the rest of a send's header handling."""
    namespace: dict[str, Any] = {"cls": cls, "HeaderError": HeaderError}
    lines = ["def decode(fields):", "    get = fields.get"]
    arguments = []
    for i, (spec, field) in enumerate(zip(_specs(cls), dataclasses.fields(cls))):
        key = spec.alias if short_names and spec.alias else spec.name
        var = f"v{i}"
        namespace[f"parse{i}"] = spec.parse
        lines.append(f"    {var} = get({key!r})")
        missing = f"{var} is None" if spec.parse is str else f'{var} is None or {var} == ""'
        lines.append(f"    if {missing}:")
        if spec.required:
            lines.append(f"        raise HeaderError({spec.name!r}, 'is null')")
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"factory{i}"] = field.default_factory
            lines.append(f"        {var} = factory{i}()")
        else:
            namespace[f"default{i}"] = field.default
            lines.append(f"        {var} = default{i}")
        bits = _INT_BITS.get(spec.parse)
        if bits is not None:  # inline: two calls fewer per integer field of every request
            lines += ["    else:",
                      "        try:",
                      f"            {var} = int({var})",
                      "        except ValueError:",
                      f"            raise HeaderError({spec.name!r}, f'has a bad value {{{var}!r}}') from None",
                      f"        if not {-(1 << bits)} <= {var} < {1 << bits}:",
                      f"            raise HeaderError({spec.name!r}, f'has a bad value {{str({var})!r}}')"]
        elif spec.parse is not str:
            lines += ["    else:",
                      "        try:",
                      f"            {var} = parse{i}({var})",
                      "        except ValueError:",
                      f"            raise HeaderError({spec.name!r}, f'has a bad value {{{var}!r}}') from None"]
        arguments.append(f"{spec.name}={var}")
    lines.append(f"    return cls({', '.join(arguments)})")
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from the dataclass's own fields
    return namespace["decode"]


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
