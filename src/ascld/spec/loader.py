"""Load the specification tables shipped in `ascld/spec/data` (and an optional overlay) into immutable objects."""

from __future__ import annotations

import csv
import functools
import io
from collections import defaultdict
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import cast

from ascld.errors import SpecError
from ascld.spec.conditions import parse_condition
from ascld.spec.model import DefinedList, Field, Spec, Status, StatusRule

STATUSES = ("mandatory", "applicable", "not_applicable")


def data_dir() -> Path:
    return Path(str(resources.files("ascld.spec") / "data"))


def _read(name: str, folder: Path | None = None) -> list[dict[str, str]]:
    path = (folder or data_dir()) / name
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _bool(text: str) -> bool:
    return text.strip().lower() == "true"


def spec_version() -> str:
    return (data_dir() / "VERSION").read_text(encoding="utf-8").strip()


def _fields() -> tuple[Field, ...]:
    out = []
    for r in _read("fields.csv"):
        out.append(
            Field(
                seq=int(r["seq"]),
                name=r["name"],
                column=r["column"],
                module=r["module"],
                type=r["type"],
                format=r["format"],
                defined_list=r["defined_list"] or None,
                external_list=r["external_list"] or None,
                identifier=_bool(r["identifier"]),
                sensitive=_bool(r["sensitive"]),
                since=r["since"],
                in_r2=r["in_r2"],
                confirmed=_bool(r["confirmed"]),
                max_length=int(r["max_length"]) if r["max_length"] else None,
                required_summary=r["required_summary"],
                source=r["source"],
                note=r["note"],
            )
        )
    return tuple(sorted(out, key=lambda f: f.seq))


def _lists(overlay_rows: list[dict[str, str]] | None) -> dict[str, DefinedList]:
    values: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for r in _read("list_values.csv"):
        values[r["list"]][r["release"]].append(r)
    mapping: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in _read("r1_r2_map.csv"):
        mapping[r["list"]].append(r)
    overlay: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in overlay_rows or []:
        overlay[r["list"]].append(r)

    out: dict[str, DefinedList] = {}
    for r in _read("lists.csv"):
        name = r["list"]
        r2 = [v["value"] for v in sorted(values[name]["R2"], key=lambda v: int(v["order"]))]
        unconfirmed = {v["value"] for v in values[name]["R2"] if not _bool(v["confirmed"])}
        r1 = [v["value"] for v in values[name]["R1"]] + [v["value"] for v in values[name]["R1-variant"]]
        r1_to_r2 = {m["r1_value"]: m["r2_value"] for m in mapping[name] if m["status"] == "mapped"}
        r1_status = {m["r1_value"]: m["status"] for m in mapping[name]}
        r2_complete = _bool(r["r2_complete"])
        overlaid = bool(overlay.get(name))
        mapped_by_overlay = set()
        if overlaid:
            # An overlay holds the official workbook's list: it replaces our R2 values and completes the list.
            r2 = list(dict.fromkeys(o["value"] for o in overlay[name]))
            unconfirmed = set()
            r2_complete = True
            # Our mappings point at our R2 spellings: one the overlay writes only in other capitals or with trailing
            # spaces follows the overlay's spelling; one the overlay does not hold is dropped, so that no output
            # offers a value outside the official list (the R1 value has no known equivalent unless mapped below).
            official = {v.rstrip().casefold(): v for v in r2}
            for r1_value, target in list(r1_to_r2.items()):
                if target not in r2:
                    if target.rstrip().casefold() in official:
                        r1_to_r2[r1_value] = official[target.rstrip().casefold()]
                    else:
                        del r1_to_r2[r1_value]
                        r1_status[r1_value] = "unknown"
            for o in overlay[name]:
                r1_value = (o.get("r1_value") or "").strip()
                if r1_value:
                    r1_to_r2[r1_value] = o["value"]
                    r1_status[r1_value] = "mapped"
                    mapped_by_overlay.add(r1_value)
                    if r1_value not in r1:
                        r1.append(r1_value)
        # Spelling variants map where their canonical R1 value maps (unless the overlay maps the variant itself).
        for v in values[name]["R1-variant"]:
            if v["value"] in mapped_by_overlay:
                continue
            canonical = v["note"].removeprefix("variant spelling of ")
            if canonical in r1_to_r2:
                r1_to_r2[v["value"]] = r1_to_r2[canonical]
            r1_status[v["value"]] = r1_status.get(canonical, "unknown")
        out[name] = DefinedList(
            name=name,
            field=r["field"],
            column=r["column"],
            r2_complete=r2_complete,
            r1_complete=_bool(r["r1_complete"]),
            r2_values=tuple(r2),
            r1_values=tuple(dict.fromkeys(r1)),
            r1_to_r2=MappingProxyType(r1_to_r2),
            r1_status=MappingProxyType(r1_status),
            unconfirmed=frozenset(unconfirmed),
            source=r["source"],
            note=r["note"],
            overlaid=overlaid,
        )
    unknown = sorted(set(overlay) - set(out))
    if unknown:
        raise SpecError(
            f"the overlay names lists the specification does not have: {', '.join(unknown)}. "
            f"Use the list names shown by `ascld spec lists`."
        )
    return out


def _status_rules() -> dict[str, tuple[StatusRule, ...]]:
    grouped: dict[str, list[StatusRule]] = defaultdict(list)
    for r in _read("status_rules.csv"):
        if r["status"] not in STATUSES:
            raise SpecError(f"status_rules.csv {r['rule_id']}: status must be one of {', '.join(STATUSES)}")
        grouped[r["column"]].append(
            StatusRule(
                rule_id=r["rule_id"],
                column=r["column"],
                order=int(r["order"]),
                when=r["when"],
                status=cast(Status, r["status"]),
                source=r["source"],
                note=r["note"],
                condition=parse_condition(r["when"]),
            )
        )
    return {k: tuple(sorted(v, key=lambda s: s.order)) for k, v in grouped.items()}


def read_overlay(path: Path) -> list[dict[str, str]]:
    """Read an overlay CSV with columns `list,value[,r1_value]` (the official workbook's lists, exported).

    Raises SpecError naming the file and row (as a spreadsheet shows it) when a row cannot be used.
    """
    from ascld.returns.writer import is_formula_like  # here: ascld.returns imports ascld.spec

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"{path.name}: cannot read the overlay ({exc.strerror}).") from exc
    if b"\x00" in raw:
        raise SpecError(f"{path.name}: the overlay holds binary data, so it is not a CSV file. Save it as CSV.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            raise SpecError(
                f"{path.name}: the overlay is neither UTF-8 nor Windows-1252 text. Save it as CSV UTF-8."
            ) from None
    # csv.reader over the text as it is: a quoted value with a line break is one row and an empty line is an
    # (empty) row, so counting records gives the row a spreadsheet shows (the header is row 1).
    records = enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
    n = 0  # the last row read
    try:
        n, first_record = next(records, (1, []))
        header = [h.strip() for h in first_record]
        if "list" not in header or "value" not in header:
            raise SpecError(
                f"{path.name}, row 1: the overlay needs the columns list and value (r1_value optional); "
                f"found {', '.join(header) or 'no header'}."
            )
        twice = next((h for h in ("list", "value", "r1_value") if header.count(h) > 1), None)
        if twice:
            raise SpecError(f"{path.name}, row 1: the column {twice} is named twice. Keep one of the two columns.")
        rows = []
        known = {r["list"] for r in _read("lists.csv")}
        processing_only = {r["value"] for r in _read("derived_values.csv")}
        mapped: dict[tuple[str, str], tuple[str, int]] = {}  # (list, r1_value) -> (value, row)
        for n, record in records:
            if not record:
                continue  # an empty line
            clean = {k: v.strip() for k, v in zip(header, record, strict=False) if k}
            if not clean.get("list") or not clean.get("value"):
                raise SpecError(f"{path.name}, row {n}: list and value must both be filled in.")
            broken = next((k for k in ("list", "value", "r1_value") if {"\r", "\n"} & set(clean.get(k, ""))), None)
            if broken:
                raise SpecError(
                    f"{path.name}, row {n}, column {broken}: the value holds a line break, which no list value has "
                    "(a double quote opened here and never closed takes in the rows after it). Correct that row."
                )
            formula = next((k for k in ("list", "value", "r1_value") if is_formula_like(clean.get(k, ""))), None)
            if formula:
                raise SpecError(
                    f"{path.name}, row {n}, column {formula}: the value starts with =, +, - or @, which a spreadsheet "
                    "runs as a formula and the landing portal refuses in a return (T012). Correct that row."
                )
            if clean["list"] not in known:
                raise SpecError(
                    f"{path.name}, row {n}, column list: the specification has no list named {clean['list']!r}. "
                    "Use the list names shown by `ascld spec lists`."
                )
            if clean["value"] in processing_only:
                raise SpecError(
                    f"{path.name}, row {n}, column value: {clean['value']!r} is a value national processing adds, "
                    "never one a council submits (C005). Delete that row."
                )
            if clean.get("r1_value"):
                value, first = mapped.setdefault((clean["list"], clean["r1_value"]), (clean["value"], n))
                if value != clean["value"]:
                    raise SpecError(
                        f"{path.name}, row {n}, column r1_value: the Release 1 value {clean['r1_value']!r} of "
                        f"{clean['list']} maps to {clean['value']!r} here but to {value!r} on row {first}. "
                        "A Release 1 value has one Release 2 value: keep one of the two rows."
                    )
            rows.append(clean)
    except csv.Error:
        raise SpecError(f"{path.name}, row {n + 1}: not well-formed CSV. Correct that row.") from None
    return rows


@functools.lru_cache(maxsize=8)
def _load(overlay_path: str | None) -> Spec:
    overlay_rows = read_overlay(Path(overlay_path)) if overlay_path else None
    lists = _lists(overlay_rows)
    groupings: dict[str, dict[str, str]] = defaultdict(dict)
    for r in _read("groupings.csv"):
        groupings[f"{r['list']}.{r['grouping']}"][r["value"]] = r["group"]
    hierarchies: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in _read("hierarchies.csv"):
        hierarchies[f"{r['list']}.{r['hierarchy']}"].append((int(r["rank"]), r["value"]))
    overlay_label = None
    if overlay_path:
        names = sorted({r["list"] for r in overlay_rows or []})
        overlay_label = f"{Path(overlay_path).name} ({', '.join(names)})"
    return Spec(
        version=spec_version(),
        fields=_fields(),
        lists=MappingProxyType(lists),
        status_rules=MappingProxyType(_status_rules()),
        groupings=MappingProxyType({k: MappingProxyType(v) for k, v in groupings.items()}),
        hierarchies=MappingProxyType({k: tuple(v for _, v in sorted(vs)) for k, vs in hierarchies.items()}),
        derived_values=MappingProxyType({r["value"]: r["meaning"] for r in _read("derived_values.csv")}),
        sources=MappingProxyType({r["key"]: r["citation"] for r in _read("sources.csv")}),
        overlay=overlay_label,
    )


def load_spec(overlay: str | Path | None = None) -> Spec:
    """Load the CLD specification, optionally with an overlay CSV of official list values.

    Args:
        overlay: path to a CSV with columns `list,value[,r1_value]`. For each list it names, the overlay's values
            replace ours as the Release 2 list (which then counts as complete) and any `r1_value` given maps to it.

    Returns:
        The immutable Spec; `spec.version_label` records the version and overlay for outputs.

    Examples:
        >>> spec = load_spec()
        >>> spec.headers[0], spec.field("Event Type").column
        ('LA Code', 'Event_Type')
    """
    return _load(str(Path(overlay).resolve()) if overlay else None)
