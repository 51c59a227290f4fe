"""GROUP BY and DISTINCT under SQL Server's case-insensitive collation (main-tables.md §0).

SQL Server puts `Unknown`, `UNKNOWN` and `unknown ` in one group: the collation compares them as equal
(trailing spaces ignored). The master table writes listed values in the specification's spelling
(docs/measures-dashboard.md, choice 1), but a value that is in no list (a derived band, a grouped outcome, a
free-text field) would still split a group. `group_by_collation` groups on the folded text instead and shows
each group under one of its own spellings: the smallest, so reruns and engines agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis.expr.types as ir

from ascld.measures.ascof.common import fold


def group_by_collation(table: ir.Table, keys: Sequence[str], **aggregates: Callable[[ir.Table], ir.Value]) -> ir.Table:
    """`SELECT keys, aggregates FROM table GROUP BY keys` with string keys compared case-insensitively.

    Args:
        table: the rows.
        keys: the grouping columns (NULLs group together, as in SQL).
        aggregates: name -> function of the table giving an aggregate (e.g. `Event_Count=lambda t: t.count()`).

    Returns:
        One row per group: the keys (a string key shown as the smallest of the group's spellings) and the
        aggregates, in that column order.
    """
    folded = {k: f"__ci_{k}" for k in keys if table[k].type().is_string()}
    t = table.mutate(**{name: fold(table[k]) for k, name in folded.items()})
    by = [folded.get(k, k) for k in keys]
    shown = {k: t[k].min() for k in folded}
    out = t.group_by(by).aggregate(**shown, **{name: agg(t) for name, agg in aggregates.items()})
    return out.select(*keys, *aggregates)
