"""Compile the specification's rules to DuckDB SQL, so the per-row x per-field work runs inside DuckDB.

The status conditions (`ascld.spec.conditions`) use three-valued logic: a comparison on a blank or
unrecognised
value is *unknown*, and `and`/`or`/`not` follow Kleene's rules. SQL's NULL logic is exactly Kleene's, so a
condition compiles to a boolean SQL expression that is NULL where `Condition.evaluate` returns None. The
compiler
needs, for every column a condition names, two SQL expressions:

* the *comparison value*: the row's value mapped to Release 2 and case-folded (`lower`), NULL when the field
is
  blank **or** holds a value that is not recognised (the `INVALID` of the Python evaluator);
* the *presence* test: true when the field is not blank (an unrecognised value is present).

`tests/quality/test_sqlgen.py` checks with hypothesis that the compiled SQL and `Condition.evaluate` agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ascld.spec.conditions import Always, BoolOp, Compare, Condition, Not, Presence
from ascld.spec.model import STATUS_LABELS, DefinedList, Spec, StatusRule

# Pseudo-columns the conditions may name that are computed, not submitted.
COMPUTED_COLUMNS = ("age_at_period_end",)

# Every character Python's str.strip() removes, so SQL trims exactly as `DefinedList.to_r2` (rstrip) does.
WHITESPACE = "".join(chr(i) for i in range(0x3001) if chr(i).isspace())


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_str(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


WS_SQL = quote_str(WHITESPACE)


def _re2_class(chars: str) -> str:
    """An RE2 character class matching exactly `chars`, consecutive code points written as ranges."""
    points = sorted(ord(c) for c in chars)
    runs: list[list[int]] = []
    for p in points:
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return "[" + "".join(
        f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in runs
    ) + "]"


# The same characters as an RE2 class: DuckDB's trim(x, characters) is slow, its regular expressions are not.
# (Ranges keep it short: it appears hundreds of times in the scan query, whose size drives planning time.)
WS_CLASS = _re2_class(WHITESPACE)


def trim_sql(raw: str) -> str:
    """SQL for DuckDB's `trim(raw)` (which removes the Unicode space separators: the space, U+00A0, U+1680,
    U+2000-U+200A, U+202F, U+205F, U+3000) without its cost (about 50 ns a value) where it would change
    nothing: a value of ASCII characters (as many bytes as characters) that starts with a printable one and
    does not end with a space is whole."""
    return (
        f"CASE WHEN {raw} >= '!' AND NOT suffix({raw}, ' ') AND strlen({raw}) = length({raw}) THEN {raw} "
        f"ELSE trim({raw}) END"
    )


def trim_ws_sql(raw: str) -> str:
    """SQL for Python's `raw.strip()` without a regular expression: DuckDB's `trim` with every white-space
    character, which costs about 1.5 CPU s a million values, runs only on values that may need it (a value of
    ASCII characters that starts and ends with a printable one is whole; `trim` alone removes spaces only)."""
    return (
        f"CASE WHEN ascii({raw}) > 32 AND ascii(right({raw}, 1)) > 32 AND strlen({raw}) = length({raw}) "
        f"THEN {raw} ELSE trim({raw}, {WS_SQL}) END"
    )


def strip_sql(raw: str, *, left: bool = True) -> str:
    """SQL for Python's `raw.strip()` (or `raw.rstrip()` with left=False)."""
    pattern = f"^{WS_CLASS}+|{WS_CLASS}+$" if left else f"{WS_CLASS}+$"
    return f"regexp_replace({raw}, '{pattern}', '', 'g')"


def fold(text: str) -> str:
    """The case- and trailing-space-insensitive form the national code compares (as `conditions._fold`)."""
    return text.rstrip().casefold()


def compile_condition(
    cond: Condition, value_sql: Callable[[str], str], present_sql: Callable[[str], str]
) -> str:
    """Compile one parsed condition to a SQL boolean expression with the same three-valued result.

    Args:
        cond: a condition from `ascld.spec.parse_condition`.
        value_sql: column name -> SQL for its comparison value (folded Release 2 text, or a number for
        computed
            columns such as `age_at_period_end`), NULL when blank or unrecognised.
        present_sql: column name -> SQL that is true when the field is not blank.

    Returns:
        SQL text, parenthesised.

    Examples:
        >>> from ascld.spec import parse_condition
        >>> compile_condition(parse_condition("Event_Type = 'Service'"), lambda c: f"cv_{c}",
        ...                   lambda c: f"p_{c}")
        "(cv_Event_Type = 'service')"
    """
    if isinstance(cond, Always):
        return "(TRUE)"
    if isinstance(cond, Presence):
        inner = present_sql(cond.column)
        return f"({inner})" if cond.present else f"(NOT ({inner}))"
    if isinstance(cond, Not):
        return f"(NOT {compile_condition(cond.inner, value_sql, present_sql)})"
    if isinstance(cond, BoolOp):
        joiner = " AND " if cond.op == "and" else " OR "
        return "(" + joiner.join(compile_condition(p, value_sql, present_sql) for p in cond.parts) + ")"
    if isinstance(cond, Compare):
        value = value_sql(cond.column)
        if cond.op == "between":
            low, high = (float(v) for v in cond.values)
            # A text value in a numeric comparison is unknown, as in the Python evaluator.
            return f"(CAST(TRY_CAST({value} AS DOUBLE) AS DOUBLE) BETWEEN {low!r} AND {high!r})"
        literals = ", ".join(quote_str(fold(str(v))) for v in cond.values)
        if cond.op in ("=", "in"):
            return (
                f"({value} = {quote_str(fold(str(cond.values[0])))})"
                if len(cond.values) == 1 and cond.op == "="
                else f"({value} IN ({literals}))"
            )
        if cond.op in ("!=", "not in"):
            return f"({value} NOT IN ({literals}))"
        if cond.op in ("like", "not like"):
            # The Python evaluator folds the value and the pattern but does not strip them for LIKE.
            pattern = quote_str(str(cond.values[0]).casefold())
            negate = "NOT " if cond.op == "not like" else ""
            return f"({value} {negate}LIKE {pattern})"
    raise TypeError(f"cannot compile condition {cond!r}")


def status_case(
    rules: Sequence[StatusRule], value_sql: Callable[[str], str], present_sql: Callable[[str], str]
) -> str:
    """The field-status code (2/1/0/-1) of one field as a SQL CASE over its ordered rules.

    The first rule whose condition is true decides the status; a rule whose condition is unknown before any
    rule
    has matched makes the status Undetermined (-1), the national code for "the fields that drive this one are
    missing or invalid". No matching rule also gives Undetermined.
    """
    parts = ["CASE"]
    for rule in rules:
        sql = compile_condition(rule.condition, value_sql, present_sql)
        code = STATUS_LABELS[rule.status][0]
        if sql == "(TRUE)":
            parts.append(f"WHEN TRUE THEN {code}")
            break
        parts.append(f"WHEN {sql} IS NULL THEN -1 WHEN {sql} THEN {code}")
    parts.append("ELSE -1 END")
    return " ".join(parts)


def evaluate_status(rules: Sequence[StatusRule], lookup: Callable[[str], object]) -> int:
    """The Python reference for `status_case`: the status code of one row.

    Used by tests and the sample generator.
    """
    for rule in rules:
        result = rule.condition.evaluate(lookup)
        if result is None:
            return -1
        if result:
            return STATUS_LABELS[rule.status][0]
    return -1


def list_lookup_sql(raw: str, lst: DefinedList, blank: str | None = None, exact: str | None = None) -> str:
    """SQL for a list field's comparison value: the Release 2 value (folded) the national code would read.

    Matching ignores case and trailing spaces (`DefinedList.to_r2`). A blank value is NULL; `blank` is SQL
    already computing that (default: `blank_sql(raw)`); `exact`, SQL already testing whether it is exactly a
    Release 2 value (default: an IN list of them). A value matching nothing is NULL (unknown)
    for a complete list; for a list the specification marks incomplete it is kept (trimmed, folded), because
    it
    may well be a Release 2 value we do not know yet and the status rules (e.g. `Assessment_Type like
    'Financial%'`) should still see it.
    """
    mapping = lookup_mapping(lst)
    is_blank_ = blank or blank_sql(raw)
    key = f"lower({strip_sql(raw, left=False)})"
    fallback = "NULL" if lst.complete else f"lower({strip_sql(raw)})"
    if not mapping:
        return f"CASE WHEN {is_blank_} THEN NULL ELSE {fallback} END"
    # Most values are exact Release 2 values: test those first, fold only what is left.
    values = ", ".join(quote_str(v) for v in lst.r2_values)
    exact = exact or (f"{raw} IN ({values})" if values else None)
    fast = f"WHEN {is_blank_} THEN NULL " + (f"WHEN {exact} THEN lower({raw}) " if exact else "")
    whens = " ".join(f"WHEN {quote_str(k)} THEN {quote_str(v)}" for k, v in sorted(mapping.items()))
    return f"CASE {fast}ELSE CASE {key} {whens} ELSE {fallback} END END"


def lookup_mapping(lst: DefinedList) -> Mapping[str, str]:
    """Folded submitted value -> folded Release 2 value, exactly as `DefinedList.to_r2` resolves it."""
    out: dict[str, str] = {}
    for r1 in lst.r1_values:
        target = lst.r1_to_r2.get(r1)
        if target is not None:
            out.setdefault(fold(r1), fold(target))
    for r2 in lst.r2_values:
        out[fold(r2)] = fold(r2)  # an R2 match wins over an R1 spelling that folds the same way
    return out


def python_lookup_value(raw: str | None, lst: DefinedList | None) -> object:
    """The Python reference for the comparison value of one field (what `list_lookup_sql` computes).

    Returns None for blank, `INVALID` for an unrecognised value in a complete list, else the folded value.
    """
    from ascld.spec.conditions import INVALID

    if raw is None or is_blank(raw):
        return None
    if lst is None:
        return raw.strip().casefold()
    hit = lst.to_r2(raw)
    if hit is not None:
        return fold(hit)
    return INVALID if lst.complete else raw.strip().casefold()


def is_blank(raw: str | None) -> bool:
    """Blank as the validator reads it: empty, only white space, or the literal text NULL (any case)."""
    if raw is None:
        return True
    stripped = raw.strip()
    return stripped == "" or stripped.upper() == "NULL"


def blank_sql(raw: str) -> str:
    """SQL for `is_blank`."""
    # Nearly every value starts with a character that cannot begin a blank one: test the first character
    # before
    # running the regular expression.
    # (String comparison is by bytes: `< '!'` catches ASCII white space and the empty string, `>= chr(128)`
    # any
    # non-ASCII first character, including the Unicode spaces.)
    return (
        f"(CASE WHEN {raw} IS NULL THEN TRUE WHEN {raw} < '!' OR ({raw} >= 'N' AND {raw} < 'O') OR "
        f"({raw} >= 'n' AND {raw} < 'o') OR {raw} >= chr(128) THEN "
        f"regexp_full_match({raw}, '{WS_CLASS}*(?i:null)?{WS_CLASS}*') ELSE FALSE END)"
    )


def status_sql_for(
    spec: Spec, column: str, value_sql: Callable[[str], str], present_sql: Callable[[str], str]
) -> str:
    """The status CASE for one column of the spec."""
    return status_case(spec.status_rules[column], value_sql, present_sql)
