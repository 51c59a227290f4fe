"""One spelling per value, as SQL Server's case-insensitive collation sees text (main-tables.md §0).

SQL Server compares `318_AB` and `318_ab ` as equal in `=`, joins, `GROUP BY`, `PARTITION BY` and `DISTINCT`.
An engine with binary text comparison would split them. Where a measure compares a column with itself (a person
ID, a council code), writing every spelling of a value as one of them (the least, by code point, as SQL's `MIN`)
makes the exact comparisons behave as the collation does, without folding every comparison.

Finding the spellings is one small query of the columns' distinct values; the rows are touched only where a
value has several spellings (none in most data), so clean data pays one `DISTINCT` per column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

Key = Callable[[ir.StringValue], ir.StringValue]


def one_spellings(t: ir.Table, columns: Sequence[str], key: Key) -> dict[str, dict[str, str]]:
    """For each column, the values to write in another spelling: value -> the least value with the same `key`,
    for keys with more than one spelling. Runs one query (`t` must be bound to a connection)."""
    parts = [t.filter(t[c].notnull()).select(column=ibis.literal(c), value=t[c].cast("string")).distinct()
             for c in columns]
    if not parts:
        return {}
    values = ibis.union(*parts) if len(parts) > 1 else parts[0]
    values = values.mutate(key=key(values.value))
    spellings: dict[tuple[str, str], list[str]] = {}
    for row in values.to_pyarrow().to_pylist():
        spellings.setdefault((row["column"], row["key"]), []).append(row["value"])
    out: dict[str, dict[str, str]] = {}
    for (column, _), found in spellings.items():
        least = min(found)  # as SQL's MIN: by code point (UTF-8 bytes)
        for value in found:
            if value != least:
                out.setdefault(column, {})[value] = least
    return out


def with_one_spelling(t: ir.Table, columns: Sequence[str], key: Key) -> ir.Table:
    """`t` with each of `columns` (text) in one spelling per `key`. An unbound table (SQL written for another
    engine) is returned unchanged: the engine's own collation decides there."""
    columns = [c for c in columns if c in t.columns and t[c].type().is_string()]
    if not columns or t.op().find(ops.UnboundTable):
        return t
    respell = one_spellings(t, columns, key)
    return t.mutate(**{c: t[c].substitute(m) for c, m in respell.items()}) if respell else t
