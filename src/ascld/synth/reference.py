"""The data the synthetic world is driven by, read once from `ascld/synth/data` and the CLD spec.

* `councils.csv`: the 153 synthetic councils (see scripts/make_postcode_lookup.py).
* `local_codes.csv`: the local codes of the synthetic case-management system and the CLD value each maps to.
  Every CLD value comes from the spec's lists (a test checks it); values of lists whose Release 2 list is
  incomplete use the Release 1 wording where no Release 2 value is known.
* `distributions.csv`: weights for drawing local codes in a context (age band, event kind ...).
* `service_costs.csv`: cost frequency, unit cost and planned-unit ranges per service component.
* `names.csv`: given and family names (with alternative spellings) for synthetic people.
* the bundled synthetic postcode lookup (`ascld/identity/data`).
"""

from __future__ import annotations

import csv
import functools
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ascld.errors import SpecError
from ascld.spec import Spec, load_spec

DATA = Path(str(resources.files("ascld.synth") / "data"))
POSTCODE_LOOKUP = Path(str(resources.files("ascld.identity") / "data")) / "postcode_lookup_synthetic.csv"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Council:
    """One synthetic council with adult social services responsibilities."""

    la_code: str
    la_name: str
    ons_code: str
    region: str
    population_18_64: int
    population_65_plus: int
    order: int  # position in councils.csv (fixes NHS-number allocation and seeds)

    @property
    def adults(self) -> int:
        return self.population_18_64 + self.population_65_plus


@functools.cache
def load_councils() -> tuple[Council, ...]:
    """All 153 synthetic councils in file order (la_code ascending).

    Examples:
        >>> councils = load_councils()
        >>> len(councils), len(councils[0].la_code)
        (153, 3)
    """
    rows = _read(DATA / "councils.csv")
    return tuple(
        Council(
            r["la_code"],
            r["la_name"],
            r["ons_code"],
            r["region"],
            int(r["population_18_64"]),
            int(r["population_65_plus"]),
            i,
        )
        for i, r in enumerate(rows)
    )


@dataclass(frozen=True)
class LocalCode:
    domain: str
    code: str
    description: str
    in_scope: bool
    cld_column: str
    cld_value: str


@dataclass(frozen=True)
class Reference:
    """Everything the generator reads, resolved against the spec."""

    spec: Spec
    codes: dict[tuple[str, str], LocalCode]
    cld: dict[str, dict[str, str]]  # domain -> local code -> CLD value
    weights: dict[tuple[str, str], tuple[tuple[str, ...], tuple[float, ...]]]  # (domain, context) -> codes, w
    costs: dict[
        tuple[str, str], list[tuple[str, float, float, float, int, int]]
    ]  # (component, context) -> ...
    names: dict[str, tuple[tuple[str, ...], tuple[float, ...], tuple[str, ...]]]  # kind -> names, w, variants
    postcodes: dict[str, tuple[str, ...]]  # ons_code -> live postcodes
    lsoa11: dict[str, str]  # postcode -> 2011 LSOA (hospital spells)

    def value(self, domain: str, code: str | None) -> str:
        """The CLD value a local code maps to ('' for None)."""
        if code is None:
            return ""
        return self.cld[domain][code]

    def description(self, domain: str, code: str) -> str:
        return self.codes[(domain, code)].description

    def dist(self, domain: str, context: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
        try:
            return self.weights[(domain, context)]
        except KeyError:
            raise SpecError(f"distributions.csv has no weights for {domain}/{context}") from None


@functools.cache
def load_reference() -> Reference:
    """Read and check the generator's data files against the spec.

    Raises:
        SpecError: a local code maps to a value that is in neither of the spec's lists for its column, or a
            weight names an unknown local code.
    """
    spec = load_spec()
    codes: dict[tuple[str, str], LocalCode] = {}
    cld: dict[str, dict[str, str]] = defaultdict(dict)
    for r in _read(DATA / "local_codes.csv"):
        code = LocalCode(
            r["domain"], r["code"], r["description"], r["in_scope"] == "Y", r["cld_column"], r["cld_value"]
        )
        if code.cld_value:
            dl = spec.list_for(code.cld_column)
            if dl is None:
                raise SpecError(
                    f"local code {code.domain}/{code.code}: {code.cld_column} has no defined list"
                )
            if code.cld_value not in dl.r2_values and not (
                not dl.complete and code.cld_value in dl.r1_values
            ):
                raise SpecError(f"local code {code.domain}/{code.code} maps to a value not in the spec")
        codes[(code.domain, code.code)] = code
        cld[code.domain][code.code] = code.cld_value
    weights: dict[tuple[str, str], tuple[list[str], list[float]]] = {}
    for r in _read(DATA / "distributions.csv"):
        if (r["domain"], r["code"]) not in codes:
            raise SpecError(f"distributions.csv: unknown local code {r['domain']}/{r['code']}")
        entry = weights.setdefault((r["domain"], r["context"]), ([], []))
        entry[0].append(r["code"])
        entry[1].append(float(r["weight"]))
    costs: dict[tuple[str, str], list[tuple[str, float, float, float, int, int]]] = defaultdict(list)
    for r in _read(DATA / "service_costs.csv"):
        costs[(r["component"], r["context"])].append(
            (
                r["unit_type"],
                float(r["weight"]),
                float(r["cost_min"]),
                float(r["cost_max"]),
                int(r["units_min"]),
                int(r["units_max"]),
            )
        )
    names: dict[str, tuple[list[str], list[float], list[str]]] = {}
    for r in _read(DATA / "names.csv"):
        entry3 = names.setdefault(r["kind"], ([], [], []))
        entry3[0].append(r["name"])
        entry3[1].append(float(r["weight"]))
        entry3[2].append(r["variant"])
    postcodes: dict[str, list[str]] = defaultdict(list)
    lsoa11: dict[str, str] = {}
    for r in _read(POSTCODE_LOOKUP):
        lsoa11[r["pcds"]] = r["lsoa11"]
        if not r["doterm"]:
            postcodes[r["oslaua"]].append(r["pcds"])
    return Reference(
        spec=spec,
        codes=codes,
        cld={k: dict(v) for k, v in cld.items()},
        weights={k: (tuple(v[0]), tuple(v[1])) for k, v in weights.items()},
        costs=dict(costs),
        names={k: (tuple(v[0]), tuple(v[1]), tuple(v[2])) for k, v in names.items()},
        postcodes={k: tuple(v) for k, v in postcodes.items()},
        lsoa11=lsoa11,
    )
