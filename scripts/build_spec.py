"""Build the package's specification tables from the research YAML in ../shared/spec.

The YAML files are the research record (prose, sources, open questions). The package carries the same facts as
flat CSV tables, one concept per table, every row citing its source, so that code reads data and reviewers read
diffs. Run this after the research YAML changes, then review the CSV diff:

    uv run python scripts/build_spec.py ../shared/spec src/ascld/spec/data

`status_rules.csv` is not generated: the research states the status conditions in prose, and we restate them in
the condition language of `ascld.spec.conditions` by hand (see that file's docstring).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import yaml

FIELD_COLUMNS = [
    "seq",
    "name",
    "column",
    "module",
    "type",
    "format",
    "defined_list",
    "external_list",
    "identifier",
    "sensitive",
    "since",
    "in_r2",
    "confirmed",
    "max_length",
    "required_summary",
    "source",
    "note",
]
# Fields that the Release 2 national checks no longer cover (cld_fields.yaml meta.counts.checked_in_r1_but_not_r2)
# stay in the column set: the research could not settle whether R2 dropped them (README §10 question 2).


def _src(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _flat(text: object) -> str:
    return " ".join(str(text).split()) if text else ""


def _write(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in header})


def build_fields(doc: dict) -> list[dict]:
    rows = []
    not_in_r2 = set(doc["meta"]["counts"]["checked_in_r1_but_not_r2"])
    for f in doc["fields"]:
        rows.append(
            {
                "seq": f["seq"],
                "name": f["name"],
                "column": f["column"],
                "module": f["module"],
                "type": f["type"],
                "format": _flat(f.get("format")),
                "defined_list": f.get("defined_list") or "",
                "external_list": _flat(f.get("external_list")),
                "identifier": str(bool(f.get("identifier"))).lower(),
                "sensitive": str(bool(f.get("identifier") or f.get("sensitive"))).lower(),
                "since": f.get("since", "R1"),
                "in_r2": "uncertain" if f["name"] in not_in_r2 else "true",
                "confirmed": str(bool(f.get("confirmed"))).lower(),
                "max_length": f.get("max_length") or "",
                "required_summary": f["required"]["summary"],
                "source": "cld_fields.yaml#" + _src(f.get("source")),
                "note": _flat(f.get("note")),
            }
        )
    return rows


def _values(block: dict | None) -> list[tuple[str, bool, str]]:
    out = []
    for v in (block or {}).get("values") or []:
        if isinstance(v, dict):
            out.append((v["value"], bool(v.get("confirmed", True)), _flat(v.get("note"))))
        else:
            out.append((v, True, ""))
    return out


def build_lists(doc: dict) -> tuple[list[dict], list[dict], list[dict], list[dict], list[dict]]:
    lists, values, mapping, groupings, hierarchies = [], [], [], [], []
    for name, spec in doc["lists"].items():
        r1, r2 = spec.get("r1") or {}, spec.get("r2") or {}
        lists.append(
            {
                "list": name,
                "field": spec["field"],
                "column": spec["column"],
                "r2_complete": str(bool(r2.get("complete"))).lower(),
                "r1_complete": str(bool(r1.get("complete"))).lower(),
                "source": "cld_defined_lists.yaml#" + _src(r2.get("sources") or r1.get("sources")),
                "note": _flat(r2.get("note") or spec.get("note")),
            }
        )
        for release, block in (("R2", r2), ("R1", r1)):
            for order, (value, confirmed, note) in enumerate(_values(block), start=1):
                values.append(
                    {
                        "list": name,
                        "release": release,
                        "order": order,
                        "value": value,
                        "confirmed": str(confirmed).lower(),
                        "source": "cld_defined_lists.yaml#" + _src(block.get("sources")),
                        "note": note,
                    }
                )
            # Spellings seen in real R1 data are accepted as R1 values too (case-insensitive match covers most).
            for v in block.get("values") or []:
                if isinstance(v, dict):
                    for variant in v.get("variants_seen") or []:
                        if "(" in variant and variant.rstrip().endswith(")") and "V5" in variant:
                            continue
                        values.append(
                            {
                                "list": name,
                                "release": "R1-variant",
                                "order": "",
                                "value": variant,
                                "confirmed": "true",
                                "source": "cld_defined_lists.yaml#variants_seen",
                                "note": f"variant spelling of {v['value']}",
                            }
                        )
        r1_to_r2 = spec.get("r1_to_r2") or {}
        confirmed = r1_to_r2.get("mapping_confirmed", True)
        note = _flat(r1_to_r2.get("mapping_note") or r1_to_r2.get("rule"))
        meta_keys = {"rule", "mapping_confirmed", "mapping_note", "unmapped_r1_values", "new_in_r2", "note"}
        r1_values = {v for v, _, _ in _values(r1)}
        for r1_value, r2_value in r1_to_r2.items():
            if r1_value in meta_keys:
                continue
            mapping.append(
                {
                    "list": name,
                    "r1_value": r1_value,
                    "r2_value": r2_value or "",
                    "status": "unmappable" if r2_value is None else "mapped",
                    "confirmed": str(confirmed).lower(),
                    "source": "cld_defined_lists.yaml#" + name + ".r1_to_r2",
                    "note": note,
                }
            )
        # R1 values with no mapping row: unchanged where the R2 list holds them exactly, else unmappable
        # (the research records no R2 equivalent; the official mapping workbook may supply one via an overlay).
        mapped = set(r1_to_r2) - meta_keys
        r2_by_fold = {v.casefold(): v for v, _, _ in _values(r2)}
        for r1_value in sorted(r1_values - mapped):
            same = r2_by_fold.get(r1_value.casefold())
            if same is not None:
                status, note = (
                    "mapped",
                    (
                        "identical value in both releases"
                        if same == r1_value
                        else "differs in capitalisation only"
                    ),
                )
            else:
                status, note = (
                    "unknown",
                    ("the research found no Release 2 equivalent; overlay the official mapping workbook"),
                )
            mapping.append(
                {
                    "list": name,
                    "r1_value": r1_value,
                    "r2_value": same or "",
                    "status": status,
                    "confirmed": "false",
                    "source": "cld_defined_lists.yaml#" + name,
                    "note": note,
                }
            )
        for gname, g in (spec.get("groupings") or {}).items():
            if "third_party" in gname:
                continue  # examples from non-national code; the research says not to rely on them
            gsrc = "cld_defined_lists.yaml#" + _src(g.get("source"))
            if isinstance(g.get("map"), dict):
                for value, group in g["map"].items():
                    groupings.append(
                        {
                            "list": name,
                            "grouping": gname,
                            "value": value,
                            "group": group,
                            "source": gsrc,
                            "note": _flat(g.get("note")),
                        }
                    )
            if isinstance(g.get("order"), dict | list):
                order = g["order"]
                items = order.items() if isinstance(order, dict) else enumerate(order, start=1)
                for rank, value in items:
                    hierarchies.append(
                        {
                            "list": name,
                            "hierarchy": gname,
                            "rank": rank,
                            "value": value,
                            "source": gsrc,
                            "note": _flat(g.get("note")),
                        }
                    )
        for hname, h in (spec.get("hierarchy") or {}).items():
            if not isinstance(h, dict) or "order" not in h:
                continue
            order = h["order"]
            items = order.items() if isinstance(order, dict) else enumerate(order, start=1)
            for rank, value in items:
                hierarchies.append(
                    {
                        "list": name,
                        "hierarchy": hname,
                        "rank": rank,
                        "value": value,
                        "source": "cld_defined_lists.yaml#" + _src(h.get("source")),
                        "note": _flat(h.get("note")),
                    }
                )
    return lists, values, mapping, groupings, hierarchies


def main(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fields_doc = yaml.safe_load((src / "cld_fields.yaml").read_text(encoding="utf-8"))
    lists_doc = yaml.safe_load((src / "cld_defined_lists.yaml").read_text(encoding="utf-8"))
    _write(out / "fields.csv", FIELD_COLUMNS, build_fields(fields_doc))
    lists, values, mapping, groupings, hierarchies = build_lists(lists_doc)
    _write(
        out / "lists.csv", ["list", "field", "column", "r2_complete", "r1_complete", "source", "note"], lists
    )
    _write(
        out / "list_values.csv", ["list", "release", "order", "value", "confirmed", "source", "note"], values
    )
    _write(
        out / "r1_r2_map.csv",
        ["list", "r1_value", "r2_value", "status", "confirmed", "source", "note"],
        mapping,
    )
    _write(out / "groupings.csv", ["list", "grouping", "value", "group", "source", "note"], groupings)
    _write(out / "hierarchies.csv", ["list", "hierarchy", "rank", "value", "source", "note"], hierarchies)
    derived = [
        {"value": v, "meaning": m, "source": "cld_defined_lists.yaml#derived_values"}
        for v, m in lists_doc["derived_values"]["values"].items()
    ]
    _write(out / "derived_values.csv", ["value", "meaning", "source"], derived)
    sources = [
        {"key": k, "citation": _flat(v), "file": "cld_fields.yaml"}
        for k, v in fields_doc["meta"]["sources"].items()
    ]
    sources += [
        {"key": k, "citation": _flat(v), "file": "cld_defined_lists.yaml"}
        for k, v in lists_doc["meta"]["sources"].items()
    ]
    _write(out / "sources.csv", ["key", "citation", "file"], sources)
    print(
        f"wrote {len(fields_doc['fields'])} fields, {len(lists)} lists, {len(values)} values, "
        f"{len(mapping)} mappings, {len(groupings)} grouping rows, {len(hierarchies)} hierarchy rows to {out}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
