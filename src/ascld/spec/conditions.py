"""The condition language of the field-status rules (`status_rules.csv`, column `when`).

A condition is read by people reviewing the spec as much as by code, so it is small and English-like::

    always
    Client_Type = 'Service user'
    Event_Type in ('Service', 'Review')
    Assessment_Type like 'Financial%'          -- % is any text; matching ignores case
    Delivery_Mechanism not like '%CASSR commissioned support%'
    Date_of_Death is present                   -- or: is blank
    age_at_period_end between 18 and 64
    A and (B or not C)

Comparisons ignore case and trailing spaces, as the national SQL Server code does. Values are written in their
Release 2 spelling; the caller supplies each row's values already mapped to Release 2.

Evaluation uses three-valued logic, like SQL: a comparison on a field that is blank or holds an unrecognised
value is *unknown* (None), and `and`/`or`/`not` follow Kleene's rules. A status rule whose condition is unknown
makes the field's status **Undetermined**, the national code for "a field that drives this one is missing or
invalid". `is present` / `is blank` are never unknown.

Examples:
    >>> c = parse_condition("Client_Type = 'Service user' and Event_Type in ('Service', 'Review')")
    >>> sorted(c.columns())
    ['Client_Type', 'Event_Type']
    >>> c.evaluate({"Client_Type": "service user", "Event_Type": "Review"}.get)
    True
    >>> c.evaluate({"Client_Type": "Service user"}.get) is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ascld.errors import SpecError

# What a row lookup returns for a field: a Release 2 value, a number, None for blank, or INVALID for a value that
# is present but not recognised (so comparisons on it are unknown while `is present` is true).
INVALID = object()
Lookup = Callable[[str], object]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>\(|\)|,|=|!=)|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)


def _fold(value: str) -> str:
    return value.rstrip().casefold()


def _like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.casefold())
    return re.fullmatch(regex, value.casefold(), flags=re.DOTALL) is not None


class Condition:
    """A parsed condition. `evaluate(lookup)` gives True, False or None (unknown)."""

    def evaluate(self, lookup: Lookup) -> bool | None:
        raise NotImplementedError

    def columns(self) -> set[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Always(Condition):
    def evaluate(self, lookup: Lookup) -> bool | None:
        return True

    def columns(self) -> set[str]:
        return set()


@dataclass(frozen=True)
class Compare(Condition):
    column: str
    op: str  # '=', '!=', 'in', 'not in', 'like', 'not like', 'between'
    values: tuple[str | float, ...]

    def evaluate(self, lookup: Lookup) -> bool | None:
        value = lookup(self.column)
        if value is None or value is INVALID:
            return None
        if self.op == "between":
            if not isinstance(value, int | float):
                return None
            low, high = self.values
            return float(low) <= value <= float(high)  # type: ignore[arg-type]
        text = str(value)
        if self.op in ("=", "in"):
            return any(_fold(text) == _fold(str(v)) for v in self.values)
        if self.op in ("!=", "not in"):
            return all(_fold(text) != _fold(str(v)) for v in self.values)
        if self.op == "like":
            return _like(text, str(self.values[0]))
        if self.op == "not like":
            return not _like(text, str(self.values[0]))
        raise SpecError(f"unknown operator {self.op!r}")

    def columns(self) -> set[str]:
        return {self.column}


@dataclass(frozen=True)
class Presence(Condition):
    column: str
    present: bool

    def evaluate(self, lookup: Lookup) -> bool | None:
        return (lookup(self.column) is not None) == self.present

    def columns(self) -> set[str]:
        return {self.column}


@dataclass(frozen=True)
class Not(Condition):
    inner: Condition

    def evaluate(self, lookup: Lookup) -> bool | None:
        result = self.inner.evaluate(lookup)
        return None if result is None else not result

    def columns(self) -> set[str]:
        return self.inner.columns()


@dataclass(frozen=True)
class BoolOp(Condition):
    op: str  # 'and' | 'or'
    parts: tuple[Condition, ...]

    def evaluate(self, lookup: Lookup) -> bool | None:
        unknown = False
        for part in self.parts:
            result = part.evaluate(lookup)
            if result is None:
                unknown = True
            elif result is (self.op == "or"):
                return result
        return None if unknown else self.op == "and"

    def columns(self) -> set[str]:
        return set().union(*(p.columns() for p in self.parts))


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m:
                raise SpecError(f"cannot read condition {text!r} at {text[pos:]!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() in words

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1].lower() != value):
            raise SpecError(
                f"condition {self.text!r}: expected {value or kind}, found {tok[1] if tok else 'end'}"
            )
        self.i += 1
        return tok[1]

    def literal(self) -> str | float:
        tok = self.peek()
        if tok and tok[0] == "str":
            self.i += 1
            return tok[1][1:-1].replace("''", "'")
        if tok and tok[0] == "num":
            self.i += 1
            return float(tok[1])
        raise SpecError(f"condition {self.text!r}: expected a quoted value or number")

    def parse(self) -> Condition:
        cond = self.expr()
        if self.peek() is not None:
            raise SpecError(f"condition {self.text!r}: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return cond

    def expr(self) -> Condition:
        parts = [self.term()]
        while self.word("or"):
            self.i += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def term(self) -> Condition:
        parts = [self.factor()]
        while self.word("and"):
            self.i += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def factor(self) -> Condition:
        if self.word("not"):
            self.i += 1
            return Not(self.factor())
        tok = self.peek()
        if tok and tok[1] == "(":
            self.i += 1
            inner = self.expr()
            self.take("op", ")")
            return inner
        if self.word("always"):
            self.i += 1
            return Always()
        column = self.take("word")
        if self.word("is"):
            self.i += 1
            which = self.take("word").lower()
            if which not in ("present", "blank"):
                raise SpecError(f"condition {self.text!r}: 'is' takes present or blank")
            return Presence(column, which == "present")
        negate = False
        if self.word("not"):
            self.i += 1
            negate = True
        tok = self.peek()
        if tok and tok[1] in ("=", "!="):
            self.i += 1
            return Compare(column, tok[1], (self.literal(),))
        op = self.take("word").lower()
        if op == "in":
            self.take("op", "(")
            values = [self.literal()]
            while self.peek() and self.peek()[1] == ",":  # type: ignore[index]
                self.i += 1
                values.append(self.literal())
            self.take("op", ")")
            return Compare(column, "not in" if negate else "in", tuple(values))
        if op == "like":
            return Compare(column, "not like" if negate else "like", (self.literal(),))
        if op == "between" and not negate:
            low = self.literal()
            self.take("word", "and")
            return Compare(column, "between", (low, self.literal()))
        raise SpecError(f"condition {self.text!r}: unknown operator {op!r}")


def parse_condition(text: str) -> Condition:
    """Parse one `when` condition; raises SpecError naming the condition when it cannot be read."""
    return _Parser(text).parse()


def literals(cond: Condition) -> list[tuple[str, str | float]]:
    """Every (column, literal) compared in a condition, so tests can check values against the lists."""
    out: list[tuple[str, str | float]] = []
    if isinstance(cond, Compare):
        out += [(cond.column, v) for v in cond.values]
    elif isinstance(cond, Not):
        out += literals(cond.inner)
    elif isinstance(cond, BoolOp):
        for part in cond.parts:
            out += literals(part)
    return out
