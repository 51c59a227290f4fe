"""Build one synthetic council: its people, providers, GP practices, journeys, register entries and spells.

`build_council(config, council)` is deterministic in (config, council) and independent of the other councils,
so councils can be built in any order or in parallel. Randomness comes from generators seeded with
`SeedSequence([seed, la_code, stream])`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import random

import numpy as np

from ascld.errors import UsageError
from ascld.synth.config import SynthConfig
from ascld.synth.identities import DECOY_EVERY, IdentityView
from ascld.synth.journeys import NEVER, YEAR, Journeys, Picker, sus_sex
from ascld.synth.model import (
    Address,
    Behaviour,
    CarerLink,
    CouncilWorld,
    Person,
    Provider,
    RegisterEntry,
    Spell,
)
from ascld.synth.reference import Council, load_councils, load_reference

# Share of people who are unpaid carers, by age band, so that service users are about 65% aged 65+ and carers
# about 35% (SALT LTS001a; Census 2021 unpaid carers).
CARER_SHARE = {False: 0.40, True: 0.12}
KBA_SHARE = 0.4  # of carers: known only by association
EXISTING_SHARE = (
    0.15  # of service users: already in long-term support when the simulation starts (keeps volumes steady)
)
PRISON_SHARE = 0.002
RELEASE1_FIELDS = ("Ethnicity", "Accommodation_Status", "Employment_Status", "Event_Outcome")
_WORDS = (
    "Oak",
    "Beech",
    "Willow",
    "Cedar",
    "Rowan",
    "Laurel",
    "Meadow",
    "River",
    "Park",
    "Church",
    "Station",
    "Victoria",
    "Albert",
    "Abbey",
    "Priory",
    "Orchard",
    "Riverside",
    "Hillside",
    "Valley",
    "Bridge",
    "Castle",
    "Market",
    "Mill",
    "Fern",
    "Heather",
    "Primrose",
    "Bluebell",
    "Elm",
    "Ash",
    "Holly",
    "Larch",
    "Poplar",
)
_REGION_LETTER = {
    "North East": "A",
    "North West": "P",
    "Yorkshire and The Humber": "B",
    "East Midlands": "C",
    "West Midlands": "M",
    "East of England": "D",
    "London": "E",
    "South East": "G",
    "South West": "L",
}


def council_seed(config: SynthConfig, council: Council, stream: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([config.seed, int(council.la_code), stream])


def people_in(config: SynthConfig, council: Council) -> int:
    """People in a council: `people_per_council` scaled by its adult population against the average."""
    councils = load_councils()
    mean = sum(c.adults for c in councils) / len(councils)
    return max(20, round(config.people_per_council * council.adults / mean))


@functools.cache
def _offsets(people_per_council: int) -> dict[str, int]:
    """Global index of each council's first person (councils.csv order, all 153 councils)."""
    config = SynthConfig(people_per_council=people_per_council)
    out, total = {}, 0
    for c in load_councils():
        out[c.la_code] = total
        total += people_in(config, c)
    out["_total"] = total
    return out


def select_councils(config: SynthConfig) -> list[Council]:
    """The councils a config asks for (the first n of councils.csv, or the listed LA codes)."""
    councils = load_councils()
    if isinstance(config.councils, int):
        if not 1 <= config.councils <= len(councils):
            raise UsageError(f"councils must be between 1 and {len(councils)}")
        return list(councils[: config.councils])
    by_code = {c.la_code: c for c in councils}
    unknown = [code for code in config.councils if code not in by_code]
    if unknown:
        raise UsageError(f"unknown LA codes: {', '.join(unknown)}; see ascld/synth/data/councils.csv")
    return [by_code[code] for code in config.councils]


class _Holders:
    """Which council holds each global person index, and which councils a run generates."""

    def __init__(self, config: SynthConfig) -> None:
        offsets = _offsets(config.people_per_council)
        self.codes = [c.la_code for c in load_councils()]
        self.starts = [offsets[code] for code in self.codes]
        self.total = offsets["_total"]
        self.selected = {c.la_code for c in select_councils(config)}

    def council_at(self, global_index: int) -> str:
        return self.codes[bisect.bisect_right(self.starts, global_index) - 1]

    def register_writer(self, key: int, capacity: int) -> str | None:
        """The council that writes an identity's register row: the first council of the run holding it."""
        g = key
        while g < self.total:
            code = self.council_at(g)
            if code in self.selected:
                return code
            g += capacity
        return None


def total_people(config: SynthConfig) -> int:
    """People in all 153 councils at this scale (whether or not the run generates them all)."""
    return _offsets(config.people_per_council)["_total"]


def draw_behaviour(config: SynthConfig, rng: random.Random) -> Behaviour:
    b = Behaviour()
    b.uplift = round(rng.uniform(0.03, 0.08), 3)
    b.id_style = rng.choice(("numeric", "prefixed", "alpha"))
    b.conversations = rng.choice((0.0, 0.0, 0.0, 0.3, 0.6))
    if not config.behaviour:
        return b
    b.stale_open = 0.25 if rng.random() < 0.10 else 0.0
    b.fy_reset = rng.random() < 0.05
    b.long_stated = (not b.fy_reset) and rng.random() < 0.06
    b.release1_field = rng.choice(RELEASE1_FIELDS) if rng.random() < 0.06 else None
    b.resubmit = rng.choice((0.05, 0.1, 0.2, 0.3))
    b.topup = rng.choice((0.0, 0.0, 0.05, 0.1))
    return b


def _council_rng(config: SynthConfig, council: Council) -> random.Random:
    return random.Random(int(council_seed(config, council, 2).generate_state(1)[0]))


def council_behaviour(config: SynthConfig, council: Council) -> Behaviour:
    """The behaviour a council will have in a run, without building it (to pick councils for a test)."""
    return draw_behaviour(config, _council_rng(config, council))


def _person_ids(style: str, n: int, rng: np.random.Generator) -> list[str]:
    if style == "numeric":
        return [str(x) for x in (rng.choice(9_000_000, n, replace=False) + 1_000_000).tolist()]
    if style == "prefixed":
        return [f"P{x:07d}" for x in rng.choice(10_000_000, n, replace=False).tolist()]
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    nums = rng.choice(1_000_000, n, replace=False).tolist()
    first = rng.integers(0, len(letters), n).tolist()
    return [
        f"{letters[f]}{letters[(k * 7 + f) % len(letters)]}{x:06d}"
        for k, (f, x) in enumerate(zip(first, nums, strict=True))
    ]


def _gp_practices(council: Council, n: int, rng: random.Random) -> list[tuple[str, str]]:
    letter = _REGION_LETTER[council.region]
    out = []
    for i in range(n):
        word = rng.choice(_WORDS)
        name = rng.choice(
            (
                f"{word} Surgery",
                f"{word} Medical Centre",
                f"{word} Health Centre",
                f"The {word} Practice",
                f"{word} Road Surgery",
            )
        )
        out.append((f"{letter}{council.order:03d}{i:02d}", name))
    return out


def _providers(
    council: Council, n_people: int, postcodes: tuple[str, ...], rng: random.Random
) -> list[Provider]:
    plan = (
        (
            "care_home",
            max(4, n_people // 120),
            ("{w} House", "{w} Lodge Care Home", "{w} View Residential Home"),
        ),
        ("nursing_home", max(3, n_people // 220), ("{w} Court Nursing Home", "{w} Park Nursing Home")),
        (
            "home_care",
            max(3, n_people // 180),
            ("{w} Home Care Ltd", "{w} Care Services", "Helping Hands {w}"),
        ),
        ("day_centre", max(2, n_people // 500), ("{w} Day Centre", "{w} Resource Centre")),
    )
    out, i = [], 0
    for kind, count, patterns in plan:
        for _ in range(min(count, 95)):
            i += 1
            name = rng.choice(patterns).format(w=rng.choice(_WORDS))
            cqc = f"1-{1_000_000_000 + council.order * 100_000 + i * 97}"
            out.append(Provider(9_000_000 + i, name, cqc, kind, rng.choice(postcodes)))
    return out


def build_council(config: SynthConfig, council: Council) -> CouncilWorld:
    """Generate one council's world.

    Args:
        config: the run's parameters.
        council: which council.

    Returns:
        The council's people, events, providers, hospital spells and national register entries.
    """
    ref = load_reference()
    np_rng = np.random.default_rng(council_seed(config, council, 1))
    rng = _council_rng(config, council)
    behaviour = draw_behaviour(config, rng)
    t0 = config.sim_start.toordinal()
    te = config.sim_end.toordinal()
    postcodes = ref.postcodes[council.ons_code]
    n = people_in(config, council)
    offset = _offsets(config.people_per_council)[council.la_code]
    ids = IdentityView(config.seed, config.sim_end, config.sim_start)
    la_ids = _person_ids(behaviour.id_style, n, np_rng)
    practices = _gp_practices(council, max(8, min(60, n // 150)), rng)
    providers = _providers(council, n, postcodes, rng)
    london = council.region == "London"
    missing_rate = config.nhs_missing_rate * rng.uniform(0.3, 2.0)
    invalid_rate = config.nhs_invalid_rate * rng.uniform(0.3, 2.0)
    pick_postcode = Picker(postcodes, [rng.random() ** 2 + 0.05 for _ in postcodes])

    people: list[Person] = []
    plans: list[tuple[int, int | None, bool]] = []  # per person: (arrival, existing LTS start, prison)
    for j in range(n):
        key = ids.key(offset + j)
        attrs, k = ids.attrs(key)
        dob = attrs["dob"][k]
        death = attrs["death"][k]
        older = attrs["older"][k]
        gender = attrs["gender"][k]
        carer = rng.random() < CARER_SHARE[older]
        role = ("KBA" if rng.random() < KBA_SHARE else "CARER") if carer else "SU"
        adult_from = dob + int(18 * YEAR) + 1
        nhs_true = ids.nhs(key)
        u = rng.random()
        issue = "missing" if u < missing_rate else "invalid" if u < missing_rate + invalid_rate else None
        recorded: str | None = nhs_true
        if issue == "missing":
            recorded = None
        elif issue == "invalid":
            recorded = nhs_true[:9] + str((int(nhs_true[9]) + rng.randint(1, 9)) % 10)
        p = Person(
            pid=j,
            client_id=1_000_000 + j,
            la_person_id=la_ids[j],
            identity=key,
            nhs_true=nhs_true,
            nhs_recorded=recorded,
            nhs_issue=issue,
            given_name=attrs["given_recorded"][k],
            family_name=attrs["family_recorded"][k],
            dob=dob,
            gender=gender,
            death=death if death <= te else None,
            ethnicity=_pick(ref, rng, "ethnicity", "london" if london else "england"),
            role=role,
        )
        band = "su_65_plus" if older else "su_18_64"
        if role == "SU":
            p.psr = _pick(ref, rng, "psr", band)
            ld = p.psr == "LD" and not older
            p.employment = _pick(ref, rng, "employment", "su_18_64_ld" if ld else band)
            if not ld and rng.random() < 0.2:
                p.employment = None
            p.asd = _pick(ref, rng, "asd", band) if rng.random() < 0.85 else None
            p.dementia = _pick(ref, rng, "dementia", band) if rng.random() < 0.85 else None
            p.visual = _pick(ref, rng, "visual", band) if rng.random() < 0.8 else None
            p.hearing = _pick(ref, rng, "hearing", band) if rng.random() < 0.8 else None
            p.funding = _pick(ref, rng, "funding", "su")
            p.has_carer = _pick(ref, rng, "has_carer", "su")
            accommodation = _pick(ref, rng, "accommodation", band)
        else:
            p.psr = "SOC-CAR"
            p.employment = _pick(ref, rng, "employment", "carer_65_plus" if older else "carer_18_64")
            p.has_carer = rng.choice(("N", "N", "N", "U"))
            accommodation = _pick(ref, rng, "accommodation", "carer")
        if rng.random() < 0.95:
            p.gp_code, p.gp_name = rng.choice(practices)
        home_since = max(adult_from, t0 - int(rng.uniform(0, 20) * YEAR))
        postcode = "ZZ99 3VZ" if accommodation == "ROUGH" else pick_postcode(rng)
        p.addresses.append(Address(8_000_000 + 2 * j, j, home_since, None, postcode, accommodation))
        if accommodation != "ROUGH" and rng.random() < 0.04 * (te - t0) / YEAR:  # moved within the council
            day = t0 + rng.randint(0, te - t0)
            if day > home_since:
                p.addresses[0].end = day - 1
                p.addresses.append(
                    Address(8_000_000 + 2 * j + 1, j, day, None, pick_postcode(rng), accommodation)
                )
        prison = role == "SU" and rng.random() < PRISON_SHARE and not older
        if prison:
            p.addresses = [Address(8_000_000 + 2 * j, j, home_since, None, rng.choice(postcodes), "PRISON")]
        horizon = min(death, te)
        first = max(t0, adult_from)
        arrival = first + int(rng.random() * (horizon - first)) if horizon > first else NEVER
        existing = None
        if role == "SU" and rng.random() < EXISTING_SHARE and adult_from < t0 - 30:
            existing = t0 - rng.randint(30, min(8 * 365, t0 - adult_from))
        people.append(p)
        plans.append((arrival, existing, prison))

    j_ = Journeys(ref, rng, behaviour, t0, te, postcodes, providers, ref.lsoa11, spell_prefix=council.la_code)
    for p, (arrival, existing, prison) in zip(people, plans, strict=True):
        if p.role != "SU":
            continue
        j_.person = p
        j_.death = p.death if p.death is not None else NEVER
        if existing is None and arrival < NEVER:
            j_.pre_contact_admissions(p, arrival)
        j_.service_user(p, arrival, existing, prison)

    first, last = _activity(j_)
    links = _link_carers(people, plans, first, last, rng, te, j_)
    links_by_carer: dict[int, list[CarerLink]] = {}
    for link in links:
        links_by_carer.setdefault(link.carer, []).append(link)
    cared = {link.cared for link in links}
    for p in people:
        if p.role == "SU" and p.pid in cared:
            p.has_carer = "Y"
        if p.role != "SU":
            j_.carer(p, links_by_carer.get(p.pid, []), direct=p.role == "CARER")

    _settle_agreements(j_)
    if behaviour.stale_open:
        _stale_open(j_, people, behaviour.stale_open, rng, te)
    _drop_addresses_after_snapshot(people, te)
    spells = j_.spells + _background_spells(config, council, n, rng, ids, postcodes, ref.lsoa11, t0, te)
    register = _register(config, council, people, offset, ids, rng, postcodes, te)
    return CouncilWorld(
        council,
        people,
        j_.contacts,
        j_.assessments,
        j_.agreements,
        j_.lines,
        j_.reviews,
        links,
        providers,
        spells,
        register,
        behaviour,
        te,
    )


@functools.cache
def _picker(domain: str, context: str) -> Picker:
    return Picker(*load_reference().dist(domain, context))


def _pick(ref, rng: random.Random, domain: str, context: str) -> str:  # type: ignore[no-untyped-def]
    return _picker(domain, context)(rng)  # type: ignore[no-any-return]


def _activity(j: Journeys) -> tuple[dict[int, int], dict[int, int | None]]:
    """First start and last end (None: still open) of each person's in-scope events."""
    first: dict[int, int] = {}
    last: dict[int, int | None] = {}

    def note(pid: int, start: int, end: int | None) -> None:
        if pid not in first or start < first[pid]:
            first[pid] = start
        if pid not in last:
            last[pid] = end
        elif last[pid] is not None:
            last[pid] = None if end is None else max(end, last[pid])  # type: ignore[type-var]

    for c in j.contacts:
        if c.status != "CANCELLED":
            note(c.pid, c.start, c.end)
    for a in j.assessments:
        if a.status != "CANCELLED":
            note(a.pid, a.start, a.end)
    for v in j.reviews:
        if v.status != "CANCELLED":
            note(v.pid, v.start, v.end)
    for line in j.lines:
        if line.status != "CANCELLED":
            note(line.pid, line.start, line.end)
    return first, last


def _link_carers(
    people: list[Person],
    plans: list[tuple[int, int | None, bool]],
    first: dict[int, int],
    last: dict[int, int | None],
    rng: random.Random,
    te: int,
    j: Journeys,
) -> list[CarerLink]:
    """Link each carer to one to three service users whose support overlaps the carer's life."""
    candidates = [p for p in people if p.role == "SU" and p.pid in first]
    if not candidates:
        return []
    weights: list[float] = []
    for p in candidates:
        w = 1.0
        if p.dementia == "Y" or p.psr in ("MEM-COG", "LD"):
            w += 2.0
        if (first[p.pid] - p.dob) / YEAR >= 75:
            w += 1.0
        weights.append(w)
    pick_cared = Picker(candidates, weights)
    links: list[CarerLink] = []
    for carer in people:
        if carer.role == "SU":
            continue
        u = rng.random()
        count = 1 if u < 0.93 else 2 if u < 0.99 else 3
        chosen = {c.pid: c for c in (pick_cared(rng) for _ in range(count))}
        carer_death = carer.death if carer.death is not None else NEVER
        for cared in chosen.values():
            start = max(first[cared.pid] - rng.randint(0, 200), carer.dob + int(18 * YEAR) + 1)
            end_cared = last[cared.pid]
            ends = [
                d
                for d in (end_cared + 30 if end_cared is not None else None, cared.death, carer.death)
                if d is not None
            ]
            end = min(ends) if ends else None
            if end is not None and end > te:
                end = None
            if start >= min(te, carer_death) or (end is not None and end <= start):
                continue
            links.append(
                CarerLink(
                    j.next_id("link"),
                    carer.pid,
                    cared.pid,
                    start,
                    end,
                    rng.choice((5, 10, 15, 20, 35, 50, 70, 100)),
                )
            )
    return links


def _settle_agreements(j: Journeys) -> None:
    lines_by_agreement: dict[int, list] = {}
    for line in j.lines:
        lines_by_agreement.setdefault(line.agreement.id, []).append(line)
    for a in j.agreements:
        lines = lines_by_agreement.get(a.id, [])
        if lines and all(line.status == "CANCELLED" for line in lines):
            a.status = "CANCELLED"
        else:
            a.status = "ENDED" if lines and all(line.end is not None for line in lines) else "ACTIVE"


def _stale_open(j: Journeys, people: list[Person], share: float, rng: random.Random, te: int) -> None:
    """The council's system never received the end of some services (people alive at the snapshot only: a
    recorded death makes the end date mandatory)."""
    for line in j.lines:
        p = people[line.pid]
        if line.end is not None and p.death is None and line.status == "ENDED" and rng.random() < share:
            if line.outcome in ("NFA-MOVED",):
                continue
            line.cms_end = None
            line.status = "ACTIVE"
            line.agreement.status = "ACTIVE"


def _drop_addresses_after_snapshot(people: list[Person], te: int) -> None:
    for p in people:
        kept = [a for a in p.addresses if a.start <= te]
        if kept and kept[-1].end is not None and kept[-1].end >= te:
            kept[-1].end = None
        p.addresses = kept or p.addresses[:1]


def _background_spells(
    config: SynthConfig,
    council: Council,
    n: int,
    rng: random.Random,
    ids: IdentityView,
    postcodes: tuple[str, ...],
    lsoa11: dict[str, str],
    t0: int,
    te: int,
) -> list[Spell]:
    """Hospital spells of residents unknown to social care (the general population ASCOF 2D part 2 counts).

    Their NHS numbers come from the decoy part of the test range (second half), shared between councils; a
    number's date of birth and sex are a fixed function of the number so that they agree wherever it occurs.
    """
    expected = config.hospital_background_rate * n * (te - t0) / YEAR
    count = (
        int(np.random.default_rng(council_seed(config, council, 3)).poisson(expected)) if expected > 0 else 0
    )
    half = len(ids.decoys) // 2
    pick_method = Picker(
        ("21", "22", "28", "11", "12", "13", "81", "31", "82"), (55, 8, 10, 14, 5, 3, 2, 1.5, 1.5)
    )
    pick_destination = Picker(("19", "29", "54", "65", "85", "51"), (84, 3, 1.5, 2, 5, 4.5))
    out = []
    for i in range(count):
        index = half + rng.randrange(len(ids.decoys) - half)
        h = (index * 2654435761 + config.seed * 97) % 2**32
        older = (h >> 8) % 10 < 7
        age = 65 + h % 33 if older else 18 + h % 47
        dob = te - int(age * YEAR) - (h >> 12) % 365
        sex = "1" if (h >> 16) & 1 else "2"
        admission = t0 + rng.randrange(te - t0)
        los = max(0, int(rng.lognormvariate(1.5, 0.9)))
        discharge = min(admission + los, te)
        died = rng.random() < 0.03
        method = pick_method(rng)
        out.append(
            Spell(
                spell_id=f"{council.la_code}B{i:07d}",
                nhs_number=ids.decoy_nhs(index),
                admission=admission,
                discharge=discharge,
                admission_method=method,
                discharge_method="4" if died else "1",
                discharge_destination="79" if died else pick_destination(rng),
                management_type="EL" if method in ("11", "12", "13") else "EM",
                treatment_function=rng.choice(("300", "430", "100", "110", "320", "340", "101", "180")),
                dob=dob,
                sex=sex,
                lsoa11=lsoa11.get(rng.choice(postcodes), ""),
            )
        )
    return out


def _register(
    config: SynthConfig,
    council: Council,
    people: list[Person],
    offset: int,
    ids: IdentityView,
    rng: random.Random,
    postcodes: tuple[str, ...],
    te: int,
) -> list[RegisterEntry]:
    """Register rows this council writes: identities it holds first, plus namesake decoys."""
    ref = load_reference()
    out = []
    holders = _Holders(config)
    for p in people:
        g = offset + p.pid
        shared = g >= ids.capacity or g + ids.capacity < holders.total  # another council holds it too
        if shared and holders.register_writer(p.identity, ids.capacity) != council.la_code:
            continue  # another council of the run writes the register row
        attrs, k = ids.attrs(p.identity)
        postcode = p.addresses[-1].postcode
        if attrs["moved"][k]:
            postcode = rng.choice(postcodes)  # moved since the council last updated its records
        gender = ref.value("gender", p.gender)
        death = attrs["death"][k]
        out.append(
            RegisterEntry(
                p.nhs_true,
                attrs["family"][k],
                attrs["given"][k],
                p.dob,
                gender,
                postcode,
                death if death <= te else None,
            )
        )
        if p.identity % DECOY_EVERY == 0:
            out.append(
                RegisterEntry(
                    ids.decoy_nhs(p.identity // DECOY_EVERY),
                    attrs["family"][k],
                    attrs["decoy_given"][k],
                    p.dob,
                    gender,
                    rng.choice(postcodes),
                    None,
                )
            )
    return out


def date_of(ordinal: int) -> dt.date:
    return dt.date.fromordinal(ordinal)


__all__ = ["build_council", "council_behaviour", "people_in", "total_people", "sus_sex"]
