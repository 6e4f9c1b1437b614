"""``labextension/src/contract.ts`` declares every dataclass of ``nbops.server.contract`` field
for field: same names, same optionality, the same JSON types. A drift fails here, naming the
interface and the field."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from nbops.server import contract

CONTRACT_TS = Path(__file__).parents[2] / "labextension" / "src" / "contract.ts"
_INTERFACE = re.compile(r"export interface (\w+) \{\n(.*?)\n\}", re.S)
_FIELD = re.compile(r"^  (\w+)(\??): (.+);$")
_ALIAS = re.compile(r"^export type (\w+) = ((?:'[^']*'(?: \| )?)+);$", re.M)


def _ts_interfaces(text: str) -> dict[str, dict[str, str]]:
    """interface name -> field -> type as written (``?`` kept as `` | undefined``)."""
    out: dict[str, dict[str, str]] = {}
    for name, body in _INTERFACE.findall(text):
        fields = {}
        for line in body.splitlines():
            m = _FIELD.match(line)
            if m:
                fields[m.group(1)] = m.group(3) + (" | undefined" if m.group(2) else "")
        out[name] = fields
    return out


def _normalise_ts(ts: str, string_aliases: set[str]) -> str:
    """``StatusValue | string`` -> ``string``; ``{...} & Record<string, unknown>`` -> the Record."""
    if " & " in ts:
        ts = [p for p in ts.split(" & ") if p.startswith("Record<")][0]
    parts = [p.strip() for p in ts.split(" | ")]
    parts = [p for p in parts if p not in string_aliases]
    return " | ".join(sorted(dict.fromkeys(parts)))


def _ts_of(annotation: Any) -> str:
    """The TypeScript type a Python annotation is written as in JSON."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(sorted(_ts_of(a) for a in args))
    if annotation is type(None):
        return "null"
    if origin is dict:
        return f"Record<string, {_ts_of(args[1])}>"
    if origin is list:
        inner = _ts_of(args[0])
        return f"({inner})[]" if " " in inner else f"{inner}[]"
    if annotation in (int, float):
        return "number"
    simple = {str: "string", bool: "boolean", Any: "unknown"}
    if annotation in simple:
        return simple[annotation]
    if dataclasses.is_dataclass(annotation):
        return annotation.__name__
    raise AssertionError(f"no TypeScript type for {annotation!r}: extend _ts_of")


def _shapes() -> list[type]:
    return [getattr(contract, n) for n in contract.__all__
            if dataclasses.is_dataclass(getattr(contract, n))]


@pytest.mark.parametrize("shape", _shapes(), ids=lambda c: c.__name__)
def test_contract_ts_declares_the_dataclass_field_for_field(shape: type) -> None:
    text = CONTRACT_TS.read_text()
    interfaces = _ts_interfaces(text)
    aliases = {name for name, _ in _ALIAS.findall(text)}  # unions of string literals
    assert shape.__name__ in interfaces, (
        f"{CONTRACT_TS.name} has no `export interface {shape.__name__}`: declare it with the "
        f"fields of nbops.server.contract.{shape.__name__}.")
    ts_fields = interfaces[shape.__name__]
    hints = typing.get_type_hints(shape)
    py_fields = [f.name for f in dataclasses.fields(shape)]
    assert list(ts_fields) == py_fields, (
        f"{shape.__name__}: contract.ts has fields {list(ts_fields)}, contract.py has "
        f"{py_fields}: missing in TS {sorted(set(py_fields) - set(ts_fields))}, only in TS "
        f"{sorted(set(ts_fields) - set(py_fields))}.")
    for name in py_fields:
        want = _normalise_ts(_ts_of(hints[name]), aliases)
        have = _normalise_ts(ts_fields[name], aliases)
        assert have == want, (f"{shape.__name__}.{name}: contract.ts says `{ts_fields[name]}`, "
                              f"contract.py's `{hints[name]}` is `{want}` in TypeScript.")


def test_the_checker_names_a_drifted_field() -> None:
    """The parser above reads what it checks: a field retyped in TS is caught."""
    text = CONTRACT_TS.read_text().replace("  latest_version: string | null;",
                                           "  latest_version: number;", 1)
    fields = _ts_interfaces(text)["ModelSummary"]
    assert _normalise_ts(fields["latest_version"], set()) != _normalise_ts(
        _ts_of(typing.get_type_hints(contract.ModelSummary)["latest_version"]), set())
