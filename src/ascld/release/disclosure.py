"""Statistical disclosure control for tables in the tidy measure layout (`ascld.measures.output`).

The rules are data (`data/disclosure_rules.csv`: rule id, what it applies to, scope, measure, action,
parameters, source and rationale). The default rules:

* DC01 - a count (numerator or denominator) from 1 to 7 is shown as `*` (national rows included);
* DC02 - other sub-national counts are rounded to the nearest 5 (half away from zero);
* DC03-DC07 - a value with a denominator is recomputed from the *published* numerator and denominator
  (`ascld.measures.output.percentage`, half away from zero; rates per 100,000 and two-decimal measures by
  their own rows); a count's value is its published count;
* DC08-DC09 - population denominators (ASCOF 2B/2C) are published as they are;
* DC11-DC12 - the dashboard's waiting-time medians are published as computed unless their count is suppressed;
* DC10 - national rows (`la_code` empty) are not rounded.

A row with a denominator but no numerator (ASCOF 2D "blank" cells) keeps an empty numerator and value; its
denominator is controlled like any other count.

`apply_disclosure_control` sets `disclosure_flag` on every row: `suppressed` (a cell shows `*`), `national`
(unrounded national row) or `rounded`. What the rules do *not* protect against (differencing between national
tables, recovery of a suppressed national cell from its total) is set out in docs/disclosure-control.md;
`find_differencing_risks` finds such cases between two published tables.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ascld.errors import SpecError, UsageError
from ascld.measures.output import MEASURE_COLUMNS, percentage, round_half_away

RULES_FILE = Path(__file__).resolve().parent / "data" / "disclosure_rules.csv"
RULE_COLUMNS = ("rule_id", "applies_to", "scope", "measure", "action", "parameters", "source", "rationale")
ANY_MEASURE = "*"
SUPPRESSED = "suppressed"
ROUNDED = "rounded"
NATIONAL = "national"


@dataclass(frozen=True)
class DisclosureRule:
    """One row of the disclosure rules table."""

    rule_id: str
    applies_to: str  # counts | values | denominators | rows
    scope: str  # all | sub-national | national
    measure: str  # a measure id, or * for every measure
    action: str  # suppress | round | recompute | publish | unrounded
    parameters: Mapping[str, str]
    source: str
    rationale: str


@dataclass(frozen=True)
class DisclosureRules:
    """The rules in force, with accessors for each kind of rule.

    Examples:
        >>> rules = load_disclosure_rules()
        >>> rules.suppression, rules.rounding_base
        ((1, 7, '*'), 5)
        >>> custom = load_disclosure_rules(threshold=10, base=10)
        >>> custom.suppression[:2], custom.rounding_base
        ((1, 10), 10)
    """

    rules: tuple[DisclosureRule, ...]

    def _one(self, applies_to: str, action: str) -> DisclosureRule | None:
        found = [r for r in self.rules if r.applies_to == applies_to and r.action == action]
        if len(found) > 1:
            raise SpecError(f"disclosure rules: more than one `{applies_to}` rule with action `{action}`.")
        return found[0] if found else None

    @property
    def suppression(self) -> tuple[int, int, str] | None:
        """(lowest, highest, symbol) of the suppressed count range, or None if no suppression rule."""
        rule = self._one("counts", "suppress")
        if rule is None:
            return None
        p = rule.parameters
        return int(p["low"]), int(p["high"]), p.get("symbol", "*")

    @property
    def suppression_scope(self) -> str:
        rule = self._one("counts", "suppress")
        return rule.scope if rule else "all"

    @property
    def rounding_base(self) -> int | None:
        """Base sub-national counts are rounded to, or None if counts are not rounded."""
        rule = self._one("counts", "round")
        return int(rule.parameters["base"]) if rule else None

    @property
    def rounding_scope(self) -> str:
        rule = self._one("counts", "round")
        return rule.scope if rule else "sub-national"

    @property
    def national_unrounded(self) -> bool:
        return any(
            r.applies_to == "rows" and r.action == "unrounded" and r.scope == "national" for r in self.rules
        )

    @property
    def rounds_national(self) -> bool:
        """True when national rows are rounded too (a rounding rule whose scope takes them in, and no rule
        keeping them unrounded): their flag is then `rounded`, not `national`."""
        return (
            self.rounding_base is not None
            and _in_scope(self.rounding_scope, national=True)
            and not self.national_unrounded
        )

    def value_rule(self, measure: str) -> tuple[int, int]:
        """(scale, decimal places) used to recompute a value with a denominator for `measure`."""
        candidates = [r for r in self.rules if r.applies_to == "values" and r.action == "recompute"]
        specific = [r for r in candidates if r.measure == measure]
        general = [r for r in candidates if r.measure == ANY_MEASURE]
        if not (specific or general):
            return 100, 1
        chosen = (specific or general)[0]
        return int(chosen.parameters.get("scale", "100")), int(chosen.parameters.get("places", "1"))

    def value_published(self, measure: str) -> bool:
        """True when the measure's value is published as computed unless its row is suppressed (a value that
        is not a ratio of the row's counts, such as a median, cannot be recomputed from them)."""
        return any(
            r.applies_to == "values" and r.action == "publish" and r.measure in (measure, ANY_MEASURE)
            for r in self.rules
        )

    def denominator_published(self, measure: str) -> bool:
        """True when the measure's denominator is published as it is (e.g. a population estimate)."""
        return any(
            r.applies_to == "denominators" and r.action == "publish" and r.measure in (measure, ANY_MEASURE)
            for r in self.rules
        )

    def configured(self, *, threshold: int | None = None, base: int | None = None) -> DisclosureRules:
        """The same rules with a different upper suppression threshold and/or rounding base.

        Raises:
            UsageError: a threshold below 0 or a base below 1.
        """
        if threshold is not None and threshold < 0:
            raise UsageError(f"disclosure rules: threshold {threshold} is below 0. Give 0 or more (default 7).")
        if base is not None and base < 1:
            raise UsageError(f"disclosure rules: rounding base {base} is below 1. Give 1 or more (default 5).")
        rules = []
        for rule in self.rules:
            params = dict(rule.parameters)
            if threshold is not None and rule.applies_to == "counts" and rule.action == "suppress":
                params["high"] = str(threshold)
            if base is not None and rule.applies_to == "counts" and rule.action == "round":
                params["base"] = str(base)
            rules.append(replace(rule, parameters=MappingProxyType(params)))
        return DisclosureRules(tuple(rules))

    def with_national_rows_rounded(self) -> DisclosureRules:
        """The same rules with national rows rounded like council ones: the rounding rule's scope becomes `all`
        and a rule keeping national rows unrounded (DC10) is left out. For council mode, whose England rows
        cover the one council, so that they are not its exact figures next to its rounded ones."""
        rules = []
        for rule in self.rules:
            if rule.applies_to == "rows" and rule.action == "unrounded" and rule.scope == "national":
                continue
            if rule.applies_to == "counts" and rule.action == "round":
                rule = replace(rule, scope="all")
            rules.append(rule)
        return DisclosureRules(tuple(rules))

    def describe(self) -> list[dict[str, str]]:
        """The rules as plain dicts, for a run manifest."""
        return [
            {
                "rule_id": r.rule_id,
                "applies_to": r.applies_to,
                "scope": r.scope,
                "measure": r.measure,
                "action": r.action,
                "parameters": ";".join(f"{k}={v}" for k, v in r.parameters.items()),
            }
            for r in self.rules
        ]


APPLIES_TO = ("counts", "values", "denominators", "rows")
SCOPES = ("all", "sub-national", "national")
ACTIONS = ("suppress", "round", "recompute", "publish", "unrounded")
# whole-number parameters of each kind of rule: name -> (required?, lowest value allowed)
WHOLE_PARAMETERS: dict[tuple[str, str], dict[str, tuple[bool, int]]] = {
    ("counts", "suppress"): {"low": (True, 0), "high": (True, 0)},
    ("counts", "round"): {"base": (True, 1)},
    ("values", "recompute"): {"scale": (False, 1), "places": (False, 0)},
}


def _checked(row: Mapping[str, str], params: Mapping[str, str], where: str) -> None:
    """Refuse a rule whose kind or parameters the rules engine would not understand (a misspelt action would
    otherwise be ignored and leave the counts uncontrolled)."""
    for field_name, allowed in (("applies_to", APPLIES_TO), ("scope", SCOPES), ("action", ACTIONS)):
        if row[field_name] not in allowed:
            raise SpecError(
                f"{where}, field {field_name}: `{row[field_name]}` is not one of {', '.join(allowed)}."
            )
    for name, (required, lowest) in WHOLE_PARAMETERS.get((row["applies_to"], row["action"]), {}).items():
        if name not in params:
            if required:
                raise SpecError(f"{where}, field parameters: `{name}=` is missing. Write e.g. `{name}=5`.")
            continue
        text = params[name]
        if not (text.isdigit() and int(text) >= lowest):
            raise SpecError(
                f"{where}, field parameters: `{name}={text}` is not a whole number of {lowest} or more."
            )


def _parameters(text: str, where: str) -> Mapping[str, str]:
    params: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise SpecError(
                f"{where}, field parameters: `{part}` is not key=value. Write e.g. `low=1;high=7`"
            )
        params[key.strip()] = value.strip()
    return MappingProxyType(params)


@functools.lru_cache(maxsize=8)
def _read(path: str) -> tuple[DisclosureRule, ...]:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{file.name}: disclosure rules file not found. Check the path.")
    with file.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = sorted(set(RULE_COLUMNS) - set(reader.fieldnames or ()))
        if missing:
            raise SpecError(f"{file.name}: missing column(s) {', '.join(f'`{c}`' for c in missing)}.")
        rows = list(reader)
    rules = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        where = f"{file.name}, row {number}"
        if row["rule_id"] in seen:
            raise SpecError(
                f"{where}, field rule_id: `{row['rule_id']}` is used twice. Give each its own id."
            )
        seen.add(row["rule_id"])
        if not row["source"].strip():
            raise SpecError(f"{where}, field source: empty. Say where the rule comes from.")
        params = _parameters(row["parameters"], where)
        _checked(row, params, where)
        rules.append(
            DisclosureRule(
                rule_id=row["rule_id"],
                applies_to=row["applies_to"],
                scope=row["scope"],
                measure=row["measure"],
                action=row["action"],
                parameters=params,
                source=row["source"],
                rationale=row["rationale"],
            )
        )
    return tuple(rules)


def load_disclosure_rules(
    path: str | Path | None = None, *, threshold: int | None = None, base: int | None = None
) -> DisclosureRules:
    """Read the disclosure rules (default: the packaged `disclosure_rules.csv`), optionally reconfigured.

    Args:
        path: a rules CSV with the columns of `RULE_COLUMNS`.
        threshold: highest count to suppress (default from the rules: 7).
        base: rounding base for sub-national counts (default from the rules: 5).

    Raises:
        UsageError: the file does not exist.
        SpecError: the file is malformed (missing columns, duplicate ids, bad parameters, no source).
    """
    rules = DisclosureRules(_read(str(path or RULES_FILE)))
    if threshold is None and base is None:
        return rules
    return rules.configured(threshold=threshold, base=base)


# ------------------------------------------------------------------------------------------------------------


def _to_frame(table: Any) -> Any:
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        frame = table.copy()
    elif hasattr(table, "to_pandas"):
        frame = table.to_pandas()
    else:
        frame = pd.DataFrame(table)
    missing = sorted(set(MEASURE_COLUMNS) - set(frame.columns))
    if missing:
        raise UsageError(
            f"disclosure control: the table lacks column(s) {', '.join(f'`{c}`' for c in missing)}. "
            "Give a table in the tidy measure layout (ascld.measures.output.MEASURE_COLUMNS)."
        )
    return frame


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _in_scope(scope: str, national: bool) -> bool:
    return scope == "all" or (scope == "national") == national


def _protect_count(value: Any, *, national: bool, rules: DisclosureRules, where: str) -> tuple[Any, bool]:
    """(published count or symbol, suppressed?) for one count."""
    if _is_missing(value):
        return None, False
    count = _figure(value)
    if count is None:
        raise UsageError(
            f"disclosure control: {where}: `{value}` is not a whole count. Give the measures as computed, "
            "before disclosure control (a table read back from a published measures.csv is already controlled)."
        )
    suppression = rules.suppression
    if suppression is not None and _in_scope(rules.suppression_scope, national):
        low, high, symbol = suppression
        if low <= count <= high:
            return symbol, True
    base = rules.rounding_base
    if (
        base is not None
        and _in_scope(rules.rounding_scope, national)
        and not (national and rules.national_unrounded)
    ):
        count = int(round_half_away(Decimal(count) / Decimal(base), 0) * base)
    return count, False


def apply_disclosure_control(table: Any, rules: DisclosureRules | None = None) -> Any:
    """Apply the disclosure rules to a table in the tidy measure layout.

    Args:
        table: a pandas DataFrame (or anything with `to_pandas()`, e.g. an Ibis table or Arrow table) with the
            `MEASURE_COLUMNS`. National rows are those with an empty `la_code`.
        rules: the rules (default: `load_disclosure_rules()`).

    Returns:
        A new pandas DataFrame with the same rows and columns. Suppressed cells hold the rule's symbol (`*`)
        in `numerator`, `denominator` and/or `value`; other counts are published as whole numbers (rounded
        where the rules say); a value with a denominator is recomputed from the published figures (None if
        the denominator is 0 and the method gave no value); `disclosure_flag` is `suppressed`, `national` or
        `rounded`. A missing (NULL) numerator stays missing and so does its value (`*` if the denominator is
        suppressed); the denominator is controlled as usual.

    Raises:
        UsageError: the table is not in the tidy layout.

    Examples:
        >>> import pandas as pd
        >>> row = dict.fromkeys(MEASURE_COLUMNS)
        >>> t = pd.DataFrame([{**row, "measure": "M", "la_code": "318", "numerator": 9, "denominator": 16}])
        >>> out = apply_disclosure_control(t)
        >>> out.loc[0, ["numerator", "denominator", "value", "disclosure_flag"]].tolist()
        [10, 15, 66.7, 'rounded']
        >>> blank = pd.DataFrame([{**row, "measure": "M", "la_code": "318", "numerator": None, "denominator": 9}])
        >>> apply_disclosure_control(blank).loc[0, ["numerator", "denominator", "value"]].tolist()
        [None, 10, None]
    """
    import pandas as pd

    rules = rules or load_disclosure_rules()
    frame = _to_frame(table)
    published: dict[str, list[Any]] = {"numerator": [], "denominator": [], "value": [], "disclosure_flag": []}
    for number, record in enumerate(frame.to_dict("records"), start=1):
        national = _is_missing(record["la_code"]) or record["la_code"] == ""
        measure = record["measure"]
        where = f"row {number} ({measure}, {'England' if national else record['la_code']})"
        numerator, num_suppressed = _protect_count(
            record["numerator"], national=national, rules=rules, where=f"{where}, numerator"
        )
        if rules.denominator_published(measure) or _is_missing(record["denominator"]):
            denominator = None if _is_missing(record["denominator"]) else record["denominator"]
            den_suppressed = False
        else:
            denominator, den_suppressed = _protect_count(
                record["denominator"], national=national, rules=rules, where=f"{where}, denominator"
            )
        symbol = rules.suppression[2] if rules.suppression else "*"
        if num_suppressed or den_suppressed:
            value: Any = symbol
        elif rules.value_published(measure):
            value = None if _is_missing(record["value"]) else record["value"]
        elif numerator is None:
            # No numerator (an ASCOF 2D "blank" cell): nothing to compute a value from. The denominator is
            # still controlled above, like any other count.
            value = None
        elif denominator is None:
            value = float(numerator)
        elif Decimal(str(denominator)) == 0:
            value = None if _is_missing(record["value"]) else record["value"]
        else:
            scale, places = rules.value_rule(measure)
            shown = percentage(int(numerator), int(denominator), places) if scale == 100 else None
            if shown is not None:
                value = float(shown)
            else:
                exact = Decimal(scale) * Decimal(int(numerator)) / Decimal(str(denominator))
                value = float(round_half_away(exact, places))
        published["numerator"].append(numerator)
        published["denominator"].append(denominator)
        published["value"].append(value)
        unrounded = national and not rules.rounds_national
        flag = SUPPRESSED if (num_suppressed or den_suppressed) else NATIONAL if unrounded else ROUNDED
        published["disclosure_flag"].append(flag)
    out = frame.loc[:, list(MEASURE_COLUMNS)].copy()
    for column, values in published.items():
        out[column] = pd.Series(values, dtype="object", index=out.index)
    return out


# ------------------------------------------------------------------------------------------------------------


def sum_published(table: Any, by: Sequence[str], *, label: str = "Sum of parts") -> Any:
    """Add up the published numerators of a table over everything but `by` (suppressed cells count as
    unknown, so a sum with a suppressed part is left out). Used to build the "second table" of a differencing
    check from a breakdown (e.g. the age-band cells of a measure).

    Returns:
        A tidy-layout frame with one row per `by` combination, `group` = `label`, and a `disclosure_flag` that
        is `national` only if every part was an unrounded national cell.
    """
    import pandas as pd

    frame = _to_frame(table)
    rows = []
    for keys, part in frame.groupby(list(by), dropna=False, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        numbers = [_figure(n) for n in part["numerator"]]
        if any(n is None for n in numbers):
            continue
        record = dict.fromkeys(MEASURE_COLUMNS)
        record.update(dict(zip(by, keys, strict=True)))
        record["group"] = label
        record["numerator"] = sum(n for n in numbers if n is not None)
        flags = set(part["disclosure_flag"].fillna(""))
        record["disclosure_flag"] = NATIONAL if flags <= {NATIONAL, ""} and flags else ROUNDED
        record["__parts"] = len(part)
        record["__zeros"] = numbers.count(0)
        rows.append(record)
    return pd.DataFrame(rows, columns=[*MEASURE_COLUMNS, "__parts", "__zeros"])


def _figure(value: Any) -> int | None:
    """A count as a whole number, or None for a suppressed (`*`), missing or fractional one. Counts read back
    from a published CSV are text when the column also holds `*`."""
    if isinstance(value, str):
        try:
            written = Decimal(value.strip())
        except ArithmeticError:
            return None
        return int(written) if written.is_finite() and written == written.to_integral_value() else None
    if isinstance(value, bool) or _is_missing(value):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number == value else None  # 12.5 is not a count


def _zero_is_exact(rules: DisclosureRules) -> bool:
    """True when a rounded 0 can only be a true 0: every count that rounds to 0 (1 up to just under half the
    base, e.g. 1-2 for base 5) is suppressed instead."""
    base, suppression = rules.rounding_base, rules.suppression
    if base is None or suppression is None or not _in_scope(rules.suppression_scope, national=False):
        return False
    low, high, _ = suppression
    return low <= 1 and high >= (base - 1) // 2


def _error(flag: Any, parts: int, zeros: int, rules: DisclosureRules) -> int:
    """Largest difference between a published figure (a cell, or a sum of `parts` cells of which `zeros` are
    0) and the true one."""
    base = rules.rounding_base
    if flag in (NATIONAL, "", None) or base is None or (isinstance(flag, float) and flag != flag):
        return 0
    moved = max(parts, 1) - (zeros if _zero_is_exact(rules) else 0)
    return (base // 2) * moved


def find_differencing_risks(
    first: Any,
    second: Any,
    *,
    on: Iterable[str] = ("measure", "la_code"),
    rules: DisclosureRules | None = None,
) -> Any:
    """Find pairs of published cells whose difference reveals a group of 1 to 7 (the suppression range).

    Cells of `first` and `second` are matched on the `on` columns (for example a `Total` table and the
    `sum_published` of a breakdown of the same measure, or the same breakdown in two measures). For each pair
    with two published numbers, the difference of the published figures is widened by the most that rounding
    can have moved each of them (half the base per rounded cell; nothing for an unrounded national cell, nor for
    a published 0 when the rules suppress every count that would round to 0, e.g. 1-2 for base 5). The pair is
    a risk when the true difference is then known to lie inside the suppression range:

    * `exact`: both figures are unrounded and differ by 1 to 7 - the small group's exact size is revealed;
    * `bounded`: the whole range of possible true differences lies inside 1 to 7.

    Args:
        first, second: published tables in the tidy layout (after `apply_disclosure_control`, or before it to
            see what would leak without control).
        on: columns that identify matching cells.
        rules: the rules in force (for the suppression range and rounding base).

    Returns:
        pandas DataFrame: the `on` columns, `group_first`, `group_second`, `published_first`,
        `published_second`, `difference`, `min_true_difference`, `max_true_difference`, `risk`; one row per
        risky pair (empty if none).
    """
    import pandas as pd

    rules = rules or load_disclosure_rules()
    low, high, _ = rules.suppression or (1, 7, "*")
    keys = list(on)
    a, b = _to_frame(first), _to_frame(second)
    a, b = (
        t.assign(__parts=t.get("__parts", 1), __zeros=t.get("__zeros", [int(_figure(n) == 0) for n in t.numerator]))
        for t in (a, b)
    )
    for frame in (a, b):  # an all-missing key column (national rows only) is float64 after sum_published
        for key in keys:
            frame[key] = frame[key].astype(object)
    merged = a.merge(b, on=keys, suffixes=("_first", "_second"))
    out = []
    for record in merged.to_dict("records"):
        x, y = _figure(record["numerator_first"]), _figure(record["numerator_second"])
        if x is None or y is None:
            continue
        difference = abs(x - y)
        slack = _error(
            record["disclosure_flag_first"], record["__parts_first"], record["__zeros_first"], rules
        ) + _error(record["disclosure_flag_second"], record["__parts_second"], record["__zeros_second"], rules
        )
        lo, hi = max(difference - slack, 0), difference + slack
        if slack == 0 and low <= difference <= high:
            risk = "exact"
        elif low <= lo and hi <= high:
            risk = "bounded"
        else:
            continue
        out.append(
            {
                **{k: record[k] for k in keys},
                "group_first": record["group_first"] if "group_first" in record else record.get("group"),
                "group_second": record["group_second"] if "group_second" in record else record.get("group"),
                "published_first": x,
                "published_second": y,
                "difference": difference,
                "min_true_difference": lo,
                "max_true_difference": hi,
                "risk": risk,
            }
        )
    columns = [
        *keys,
        "group_first",
        "group_second",
        "published_first",
        "published_second",
        "difference",
        "min_true_difference",
        "max_true_difference",
        "risk",
    ]
    return pd.DataFrame(out, columns=columns)
