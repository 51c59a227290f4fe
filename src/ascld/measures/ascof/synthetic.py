"""Synthetic ASCOF inputs for tests and the demo, derived from the synthetic councils of `ascld synth`.

* `ons_population_synthetic.csv` and `la_lookup_synthetic.csv` (under `ascld/measures/data/`) are made by
  `synthetic_population_rows` and `synthetic_la_lookup_rows` from `ascld/synth/data/councils.csv`; a test
  keeps the shipped files equal to them. Everything in them is invented.
* `discharges_from_spells` turns the generator's `hospital_spells` table into the documented discharge layout,
  pseudonymising the NHS number in the same domain as CLD's `Der_NHS_Number_Traced_Pseudo`.
* `synthetic_lsoa_lookup` gives LSOA 2011 → council for the bundled synthetic postcode lookup.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from ascld.identity.nhs_number import normalise_nhs_number
from ascld.measures.ascof.inputs import (
    DISCHARGE_COLUMNS,
    LA_LOOKUP_COLUMNS,
    LSOA_LOOKUP_COLUMNS,
    POPULATION_COLUMNS,
    read_discharges,
)

#: Share of men in each synthetic band (the rest are women): invented, close to England's mid-year shape.
MALE_SHARE = {"18 to 64": (49, 100), "65 and above": (45, 100)}
REGION_CODES = {
    "North East": "E12000001",
    "North West": "E12000002",
    "Yorkshire and The Humber": "E12000003",
    "East Midlands": "E12000004",
    "West Midlands": "E12000005",
    "East of England": "E12000006",
    "London": "E12000007",
    "South East": "E12000008",
    "South West": "E12000009",
}
ENGLAND_CODE = "E92000001"

#: generator column -> documented discharge column
SPELL_COLUMN_MAP = {
    "nhs_number": "Der_DHSC_Pseudo_NHS_Number",
    "spell_id": "APCS_Ident",
    "last_episode": "APCS_Last_Ep_Ind",
    "admission_date": "Admission_Date",
    "discharge_date": "Discharge_Date",
    "month_of_birth": "Month_of_Birth_SUS",
    "year_of_birth": "Year_of_Birth_SUS",
    "sex": "Sex",
    "lsoa11": "Der_Postcode_LSOA_2011_Code",
    "admission_method": "Admission_Method",
    "discharge_method": "Discharge_Method",
    "discharge_destination": "Discharge_Destination",
    "management_type": "Der_Management_Type",
    "treatment_function_code": "Treatment_Function_Code",
}


def _councils() -> list:
    from ascld.synth import load_councils

    return list(load_councils())


def synthetic_population_rows() -> list[tuple]:
    """Population rows (POPULATION_COLUMNS order) for every synthetic council, region and England."""
    rows: list[tuple] = []
    regions: dict[str, dict[tuple[str, str], int]] = {}
    england: dict[tuple[str, str], int] = {}
    for c in _councils():
        for band, total in (("18 to 64", c.population_18_64), ("65 and above", c.population_65_plus)):
            num, den = MALE_SHARE[band]
            male = total * num // den
            for gender, value in (("All", total), ("Male", male), ("Female", total - male)):
                rows.append((c.ons_code, c.la_name, "Local Authority", gender, band, value))
                key = (gender, band)
                regions.setdefault(c.region, {})[key] = regions.get(c.region, {}).get(key, 0) + value
                england[key] = england.get(key, 0) + value
    for region in sorted(regions):
        for (gender, band), value in sorted(regions[region].items()):
            rows.append((REGION_CODES.get(region, ""), region, "Region", gender, band, value))
    for (gender, band), value in sorted(england.items()):
        rows.append((ENGLAND_CODE, "England", "Country", gender, band, value))
    return rows


def synthetic_la_lookup_rows() -> list[tuple]:
    """Council lookup rows (LA_LOOKUP_COLUMNS order) for every synthetic council."""
    return [(c.la_code, c.la_name, c.ons_code, c.region) for c in _councils()]


def write_synthetic_files(folder: Path) -> tuple[Path, Path]:
    """Write `ons_population_synthetic.csv` and `la_lookup_synthetic.csv` into a folder."""
    pop, lookup = folder / "ons_population_synthetic.csv", folder / "la_lookup_synthetic.csv"
    for path, header, rows in (
        (pop, POPULATION_COLUMNS, synthetic_population_rows()),
        (lookup, LA_LOOKUP_COLUMNS, synthetic_la_lookup_rows()),
    ):
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(list(header))
            w.writerows(rows)
    return pop, lookup


def synthetic_lsoa_lookup() -> pa.Table:
    """LSOA 2011 → council (as UTLA 2023) from the bundled synthetic postcode lookup (LSOA_LOOKUP_COLUMNS)."""
    from ascld.identity.postcodes import bundled_postcode_lookup

    names = {c.ons_code: c.la_name for c in _councils()}
    path = bundled_postcode_lookup()
    pairs: dict[str, str] = {}
    if path is not None:
        with Path(path).open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r.get("lsoa11") and r.get("oslaua"):
                    pairs.setdefault(r["lsoa11"], r["oslaua"])
    codes = sorted(pairs)
    return pa.table(
        {
            "LSOA_Code_2011": pa.array(codes, pa.string()),
            "UTLA_Code_2023": pa.array([pairs[c] for c in codes], pa.string()),
            "UTLA_Name_2023": pa.array([names.get(pairs[c]) for c in codes], pa.string()),
        },
        schema=pa.schema([(k, v) for k, v in LSOA_LOOKUP_COLUMNS.items()]),
    )


def discharges_from_spells(
    spells: pa.Table, pseudonymise: Callable[[list[str | None]], list[str | None]]
) -> pa.Table:
    """The generator's hospital spells in the documented discharge layout.

    Args:
        spells: `hospital_spells` as `ascld synth` writes it (NHS numbers in clear).
        pseudonymise: maps NHS numbers to pseudonyms in the domain CLD's traced NHS number uses, e.g.
            `lambda v: Pseudonymiser(key).pseudonyms(v, NHS_DOMAIN)`.

    Returns:
        A table with DISCHARGE_COLUMNS (no UTLA column: join `synthetic_lsoa_lookup()` through the LSOA).
    """
    cols = {}
    for src, dst in SPELL_COLUMN_MAP.items():
        col = spells.column(src)
        if dst == "Der_DHSC_Pseudo_NHS_Number":
            # As the store does before hashing (`ascld_nhs_digits`), so '943 476 5919' links like '9434765919'.
            numbers = [None if v is None else normalise_nhs_number(str(v)) for v in col.to_pylist()]
            col = pa.array(pseudonymise([v or None for v in numbers]), pa.string())
        cols[dst] = col
    return read_discharges(pa.table(cols).select(list(DISCHARGE_COLUMNS)))


if __name__ == "__main__":  # regenerate the shipped files: uv run python -m ascld.measures.ascof.synthetic
    from ascld.measures.ascof.inputs import DATA_DIR

    for written in write_synthetic_files(DATA_DIR):
        print(written)
