"""Write the synthetic geography ascld ships: 153 councils and a postcode lookup in the ONSPD layout.

Outputs (both committed; rerun this script to regenerate them byte for byte):

* `src/ascld/synth/data/councils.csv`: `la_code, la_name, ons_code, region, population_18_64,
  population_65_plus` for 153 synthetic councils with adult social services responsibilities, in the mix of
  council types England has (33 London boroughs E09, 36 metropolitan districts E08, 63 unitaries E06, 21
  counties E10). Names are invented ("Northbrook"); a blocklist keeps real council names out. LA codes are
  three digits like real CASSR codes but chosen at random. Populations are plausible, not real.
* `src/ascld/identity/data/postcode_lookup_synthetic.csv`: postcode -> areas with the ONS Postcode Directory
  column names `pcd7,pcd8,pcds,dointr,doterm,oslaua,osward,pcon,lsoa11,msoa11,lsoa21,msoa21,sicbl,ctry,rgn`.
  Every postcode matches the UK format but uses a two-letter postcode area that does not exist in the UK, so
  no synthetic postcode is a real one. Area codes are ONS-shaped (E01..., E02..., E05..., E14..., E38...)
  with numbers above any real code; regions and country are the real English region/country codes.

Usage: `uv run python scripts/make_postcode_lookup.py [--seed 20240401]`
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNCILS_CSV = ROOT / "src" / "ascld" / "synth" / "data" / "councils.csv"
LOOKUP_CSV = ROOT / "src" / "ascld" / "identity" / "data" / "postcode_lookup_synthetic.csv"

REGIONS = {  # real ONS region codes (E12) and names
    "North East": "E12000001", "North West": "E12000002", "Yorkshire and The Humber": "E12000003",
    "East Midlands": "E12000004", "West Midlands": "E12000005", "East of England": "E12000006",
    "London": "E12000007", "South East": "E12000008", "South West": "E12000009",
}
# Council type -> (how many, ONS code prefix, regions it occurs in with weights, 18-64 range, 65+ range)
TYPES = {
    "E09": (33, ["London"], (120_000, 260_000), (18_000, 45_000)),
    "E08": (36, ["North East", "North West", "Yorkshire and The Humber", "West Midlands"], (140_000, 480_000),
            (35_000, 95_000)),
    "E06": (63, ["North East", "North West", "Yorkshire and The Humber", "East Midlands", "West Midlands",
                 "East of England", "South East", "South West"], (55_000, 330_000), (14_000, 95_000)),
    "E10": (21, ["North West", "East Midlands", "West Midlands", "East of England", "South East",
                 "South West"], (300_000, 900_000), (100_000, 300_000)),
}
FIRST = ["North", "South", "East", "West", "Ash", "Oak", "Elm", "Alder", "Birch", "Holly", "Kings", "Queens",
         "Mill", "Stone", "Marsh", "Fair", "Green", "High", "Low", "Moor", "Fern", "Heath", "Thorn", "Wil",
         "Brack", "Cold", "Hazel", "Lark", "Rush", "Sedge", "Wold", "Cran", "Dun", "Kirk", "Lang", "Mere",
         "Pen", "Ros", "Thistle", "Wren", "Yew", "Amber", "Bramble", "Clay", "Dale", "Fox", "Glen", "Hart"]
SECOND = ["brook", "dale", "mere", "field", "ham", "ton", "bury", "wick", "worth", "ley", "stead", "holme",
          "combe", "den", "hurst", "cliffe", "thorpe", "by", "well", "minster", "bridge", "haven", "gate",
          "moor", "wood", "croft", "shaw", "garth", "ridge", "lowe"]
# Real council names (and name parts) the generator must never produce.
REAL_NAMES = {
    "westminster", "bournemouth", "eastham", "southwick", "northwick", "ashford", "oakham", "westbury",
    "eastbury", "southend", "stockton", "wakefield", "bradford", "sheffield", "bedford", "kingston",
    "greenwich", "westmorland", "northumberland", "northampton", "southampton", "hartlepool", "kirklees",
    "calderdale", "dudley", "sandwell", "knowsley", "halton", "bolton", "bury", "trafford", "salford",
    "stockport", "tameside", "rochdale", "wigan", "barnsley", "rotherham", "darlington", "gateshead",
    "sunderland", "wirral", "sefton", "walsall", "solihull", "coventry", "telford", "swindon", "reading",
    "slough", "medway", "poole", "torbay", "plymouth", "bristol", "thurrock", "enfield", "barnet", "harrow",
    "brent", "ealing", "hounslow", "hillingdon", "richmond", "merton", "sutton", "croydon", "bromley",
    "lewisham", "bexley", "havering", "redbridge", "newham", "hackney", "islington", "camden", "lambeth",
    "southwark", "haringey", "wandsworth", "oldham", "doncaster", "leeds", "york", "derby", "luton",
    "rutland", "peterborough", "wokingham", "bracknell", "windsor", "maidenhead", "cheshire", "cumberland",
    "durham", "middlesbrough", "redcar", "warrington", "blackpool", "blackburn", "wolverhampton",
    "birmingham", "leicester", "nottingham", "portsmouth", "brighton", "hove", "oxford", "cambridge",
    "norfolk", "suffolk", "essex", "kent", "surrey", "devon", "cornwall", "dorset", "somerset", "wiltshire",
    "hampshire", "lancashire", "lincolnshire", "staffordshire", "warwickshire", "worcestershire",
    "herefordshire", "shropshire", "gloucestershire", "derbyshire", "leicestershire", "nottinghamshire",
    "oxfordshire", "buckinghamshire", "hertfordshire", "cambridgeshire", "northamptonshire", "barking",
    "dagenham", "hammersmith", "fulham", "chelsea", "kensington", "tower hamlets", "waltham forest",
    "liverpool", "manchester", "newcastle", "tyneside", "hull", "stoke", "milton keynes", "isle of wight",
    "southend-on-sea", "st helens", "north tyneside", "south tyneside", "north somerset", "west berkshire",
    "east sussex", "west sussex", "north yorkshire", "east riding of yorkshire", "north lincolnshire",
    "north east lincolnshire", "bath", "wrexham", "halifax", "thornbury", "ashby", "millbrook", "highbury",
    "westwood", "eastwood", "oakwood", "kirkby", "dunstable", "pendle", "rossendale",
    "fairfield", "greenham", "highbridge", "moorgate", "southgate", "northgate", "eastgate", "westgate",
    "sedgemoor", "fylde", "wyre", "ribble", "craven", "harrogate", "selby", "ryedale", "hambleton",
    # lower-tier district councils whose names the syllables could produce
    "ashfield", "rushcliffe", "rushmoor", "elmbridge", "charnwood", "broxtowe", "gedling", "mansfield",
    "bassetlaw", "erewash", "bolsover", "harborough", "tamworth", "lichfield", "bromsgrove", "redditch",
    "wychavon", "malvern", "rugby", "warwick", "stratford", "tewkesbury", "cheltenham", "stroud", "cotswold",
    "cherwell", "swale", "dartford", "gravesham", "sevenoaks", "tonbridge", "maidstone", "canterbury",
    "dover",
    "thanet", "hastings", "rother", "wealden", "lewes", "eastbourne", "adur", "arun", "chichester", "crawley",
    "horsham", "worthing", "epsom", "guildford", "runnymede", "spelthorne", "tandridge", "waverley", "woking",
    "basingstoke", "fareham", "gosport", "hart", "havant", "eastleigh", "winchester", "watford", "hertsmere",
    "broxbourne", "dacorum", "stevenage", "harlow", "uttlesford", "braintree", "chelmsford", "maldon",
    "rochford", "basildon", "brentwood", "colchester", "tendring", "babergh", "ipswich", "breckland",
    "broadland", "norwich", "fenland", "boston", "lincoln", "corby", "kettering", "wellingborough",
    "daventry",
    "allerdale", "carlisle", "copeland", "barrow", "burnley", "chorley", "hyndburn", "lancaster", "preston",
    "richmondshire", "scarborough", "mendip", "taunton", "exeter", "teignbridge", "torridge", "wyre forest",
    "moorlands", "cannock", "greenwood", "oadby", "wigston",
    "blaby", "melton", "hinckley", "nuneaton", "bedworth", "stafford", "welwyn", "hatfield", "southwold",
    "kingsbridge", "moorside",
}
# Real UK postcode areas (and non-geographic ones); synthetic areas avoid all of them.
REAL_AREAS = set(
    " ".join((
        "AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL",
        "DN DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT",
        "KW KY L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG",
        "RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD",
        "WF WN WR WS WV YO ZE BF BX XX GIR ZZ",
    )).split()
)
AREA_FIRST = "ABCDEFGHIJKLMNOPRSTUWYZ"  # letters allowed first in a postcode (no Q, V, X)
AREA_SECOND = "ABCDEFGHKLMNOPQRSTUVWXY"  # letters allowed second (no I, J, Z)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters allowed in the inward code (no C, I, K, M, O, V)
_OUTWARD = re.compile(r"^[A-PR-UWYZ][A-HK-Y][0-9][0-9]?$")


def make_names(rng: random.Random, n: int) -> list[str]:
    names: set[str] = set()
    while len(names) < n:
        name = rng.choice(FIRST) + rng.choice(SECOND)
        if name.lower() in REAL_NAMES or any(part in name.lower() for part in ("shire",)):
            continue
        names.add(name)
    return sorted(names)


def make_councils(rng: random.Random) -> list[dict[str, object]]:
    names = make_names(rng, 153)
    rng.shuffle(names)
    codes = sorted(rng.sample(range(101, 999), 153))
    rows = []
    plan = [(t, spec) for t, spec in TYPES.items() for _ in range(spec[0])]
    rng.shuffle(plan)
    serial = {t: 100 for t in TYPES}
    for code, name, (ctype, (_, regions, pop1864, pop65)) in zip(codes, names, plan, strict=True):
        serial[ctype] += 1
        region = rng.choice(regions)
        adults = int(rng.triangular(pop1864[0], pop1864[1], pop1864[0] + (pop1864[1] - pop1864[0]) * 0.35))
        older = int(rng.triangular(pop65[0], pop65[1], pop65[0] + (pop65[1] - pop65[0]) * 0.35))
        la_name = name + (" County Council" if ctype == "E10" else "")
        rows.append({
            "la_code": f"{code:03d}", "la_name": la_name, "ons_code": f"{ctype}000{serial[ctype]:03d}",
            "region": region, "population_18_64": round(adults, -2), "population_65_plus": round(older, -2),
        })
    return rows


def synthetic_areas(rng: random.Random, n: int) -> list[str]:
    pool = [a + b for a in AREA_FIRST for b in AREA_SECOND if a + b not in REAL_AREAS]
    rng.shuffle(pool)
    return sorted(pool[:n])


def make_lookup(rng: random.Random, councils: list[dict[str, object]]) -> list[dict[str, str]]:
    by_region: dict[str, list[dict[str, object]]] = {}
    for c in councils:
        by_region.setdefault(str(c["region"]), []).append(c)
    areas = iter(synthetic_areas(rng, 90))
    counters = {"lsoa": 100_000, "msoa": 100_000, "ward": 100_000, "pcon": 100_000, "sicbl": 100_000}
    rows: list[dict[str, str]] = []
    seen: set[str] = set()

    def next_code(kind: str, prefix: str) -> str:
        counters[kind] += 1
        return f"{prefix}{counters[kind]:06d}"

    for region in sorted(by_region):
        members = sorted(by_region[region], key=lambda c: str(c["la_code"]))
        sicbl = next_code("sicbl", "E38")
        area, district = next(areas), 0
        for council in members:
            if district >= 9:  # a postcode area covers a few councils, as real ones do
                area, district = next(areas), 0
            size = int(council["population_18_64"]) + int(council["population_65_plus"])  # type: ignore[arg-type]
            n_districts = 1 if size < 250_000 else 2 if size < 600_000 else 3
            pcons = [next_code("pcon", "E14") for _ in range(n_districts)]
            if rng.random() < 0.3:
                sicbl = next_code("sicbl", "E38")
            for _ in range(n_districts):
                district += 1
                outward = f"{area}{district}"
                assert _OUTWARD.match(outward), outward
                for sector in rng.sample(range(10), rng.randint(3, 5)):
                    ward = next_code("ward", "E05")
                    msoa = next_code("msoa", "E02")
                    lsoas = [next_code("lsoa", "E01") for _ in range(rng.randint(1, 3))]
                    for _ in range(rng.randint(3, 7)):
                        while True:
                            inward = f"{sector}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
                            pcds = f"{outward} {inward}"
                            if pcds not in seen:
                                seen.add(pcds)
                                break
                        lsoa21 = rng.choice(lsoas)
                        changed = rng.random() < 0.05  # 2011 -> 2021 boundary changes
                        lsoa11 = lsoa21 if not changed else "E01" + f"{int(lsoa21[3:]) + 500_000:06d}"
                        msoa11 = msoa if not changed else "E02" + f"{int(msoa[3:]) + 500_000:06d}"
                        terminated = rng.random() < 0.02
                        doterm = f"{rng.randint(2016, 2023)}{rng.randint(1, 12):02d}" if terminated else ""
                        rows.append({
                            "pcd7": outward.ljust(4) + inward if len(outward) < 4 else outward + inward,
                            "pcd8": outward.ljust(4) + " " + inward,
                            "pcds": pcds,
                            "dointr": f"{rng.randint(1980, 2015)}{rng.randint(1, 12):02d}",
                            "doterm": doterm,
                            "oslaua": str(council["ons_code"]),
                            "osward": ward,
                            "pcon": rng.choice(pcons),
                            "lsoa11": lsoa11,
                            "msoa11": msoa11,
                            "lsoa21": lsoa21,
                            "msoa21": msoa,
                            "sicbl": sicbl,
                            "ctry": "E92000001",
                            "rgn": REGIONS[region],
                        })
    rows.sort(key=lambda r: (r["pcds"].split(" ")[0][:2], int(r["pcds"].split(" ")[0][2:]), r["pcds"]))
    return rows


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20240401)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    councils = make_councils(rng)
    lookup = make_lookup(rng, councils)
    write_csv(COUNCILS_CSV, councils)
    write_csv(LOOKUP_CSV, lookup)  # type: ignore[arg-type]
    print(f"{len(councils)} councils -> {COUNCILS_CSV.relative_to(ROOT)}")
    print(f"{len(lookup)} postcodes -> {LOOKUP_CSV.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
