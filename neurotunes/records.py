"""Small typed records that are written as JSON and must read back byte for byte.

A bundle's content hash covers the exact JSON of its ``config.json``, ``info``
included, so a record read from a file must write the same JSON again: keys it
does not know (from an older or newer NeuroTunes) are kept in ``extra``, keys
written as ``null`` are remembered in ``null_keys``, and values are kept as
given (an int stays an int: ``1`` and ``1.0`` are different bytes).  A known
key whose value has the wrong type is kept in ``extra`` unread, so a stray
value neither breaks loading nor changes the hash.

Each record declares its fields as ``name: type | None = None`` (``None`` means
"not recorded") and lists their JSON types in ``_TYPES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Mapping, TypeVar

R = TypeVar("R", bound="JsonRecord")
_NOT_FIELDS = ("extra", "null_keys")


@dataclass(frozen=True)
class JsonRecord:
    """Base of the records: ``from_dict`` / ``to_dict`` that round-trip the JSON exactly."""

    #: JSON value types of the fields: a type, a record type for a nested record, or a
    #: function returning the typed value or None.
    _TYPES: ClassVar[Mapping[str, Any]] = {}

    extra: Mapping[str, Any] = field(default_factory=dict, repr=False, kw_only=True)
    null_keys: frozenset[str] = field(default_factory=frozenset, repr=False, kw_only=True)

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        known = {f.name for f in fields(cls)} - set(_NOT_FIELDS)
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        nulls = set()
        for key, value in data.items():
            if key not in known:
                extra[key] = value
            elif value is None:
                nulls.add(key)
            elif (typed := _typed(cls._TYPES[key], value)) is not None:
                values[key] = typed
            else:
                extra[key] = value
        return cls(**values, extra=extra, null_keys=frozenset(nulls))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: None for k in self.null_keys}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _NOT_FIELDS or value is None:
                continue
            out[f.name] = value.to_dict() if isinstance(value, JsonRecord) else _plain(value)
        out.update(self.extra)
        return out

    def with_values(self: R, **changes: Any) -> R:
        """A copy with some fields set; a field set to a value is no longer a recorded null."""
        return replace(self, **changes, null_keys=self.null_keys - {k for k, v in changes.items() if v is not None})


def _typed(kind: Any, value: Any) -> Any:
    """``value`` if it has the JSON type ``kind`` (a nested record is parsed), else None."""
    if isinstance(kind, type) and issubclass(kind, JsonRecord):
        return kind.from_dict(value) if isinstance(value, Mapping) else None
    if not isinstance(kind, type) and kind is not Mapping:  # a reader: the typed value, or None
        return kind(value)
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    return value if ok else None


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class DatasetStats(JsonRecord):
    """What a dataset held: the counts the Dataset and Train pages show and a bundle records."""

    _TYPES: ClassVar[Mapping[str, Any]] = {
        "pieces_train": int, "pieces_validation": int, "notes": int, "tokens": int, "vocabulary_size": int,
        "description": str, "key_normalized": bool,
    }

    pieces_train: int | None = None
    pieces_validation: int | None = None
    notes: int | None = None
    tokens: int | None = None
    vocabulary_size: int | None = None
    description: str | None = None
    key_normalized: bool | None = None
