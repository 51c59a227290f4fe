"""The records of one synthetic council: people, addresses, and the events of their journeys.

Records are in the council's own terms (local codes, see `local_codes.csv`), exactly as the case-management
database holds them; `ascld.synth.returns` maps them to CLD values. Dates are proleptic ordinals
(`datetime.date.toordinal()`) so that arithmetic stays cheap; None means "no date".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ascld.synth.reference import Council


@dataclass(slots=True)
class Address:
    """An address period: a postcode and the accommodation there, from `start` until `end` (None: current)."""

    id: int
    pid: int
    start: int
    end: int | None
    postcode: str
    accommodation: str


@dataclass(slots=True)
class Person:
    """A person known to the council (client or carer)."""

    pid: int  # index in CouncilWorld.people; also client.client_id - 1_000_000
    client_id: int
    la_person_id: str
    identity: int  # national identity key (shared when a synthetic identity is known to two councils)
    nhs_true: str
    nhs_recorded: str | None  # what the council's system holds (None: not recorded)
    nhs_issue: str | None  # None | 'missing' | 'invalid'
    given_name: str  # as the council records it
    family_name: str
    dob: int
    gender: str  # local code
    death: int | None  # date of death the council records (<= snapshot date)
    ethnicity: str
    role: str  # 'SU' service user, 'CARER' carer in direct contact, 'KBA' carer known only by association
    psr: str | None = None
    employment: str | None = None
    has_carer: str = "U"
    asd: str | None = None
    dementia: str | None = None
    visual: str | None = None
    hearing: str | None = None
    funding: str | None = None
    gp_code: str | None = None
    gp_name: str | None = None
    addresses: list[Address] = field(default_factory=list)


@dataclass(slots=True)
class Contact:
    """A request for support (CLD Request)."""

    id: int
    pid: int
    role: str
    type: str  # contact_type code
    start: int
    end: int | None
    status: str  # COMPLETE | OPEN | CANCELLED
    route: str
    outcome: str | None


@dataclass(slots=True)
class Assessment:
    id: int
    pid: int
    role: str
    type: str
    start: int
    end: int | None
    status: str
    outcome: str | None
    eligible: str | None
    method: str | None


@dataclass(slots=True)
class Agreement:
    """A service agreement (a package or placement) with one or more service lines."""

    id: int
    pid: int
    role: str
    setting: str
    delivery: str | None
    provider: int | None
    start: int
    status: str  # ACTIVE | ENDED | CANCELLED


@dataclass(slots=True)
class Line:
    """A service line (CLD Service row): one component of an agreement, with its own dates and costs."""

    id: int
    agreement: Agreement
    component: str
    start: int
    end: int | None  # true end
    cms_end: int | None  # end recorded in the case-management system (None: open)
    status: str  # ACTIVE | ENDED | SUSPENDED | CANCELLED
    outcome: str | None
    unit_type: str | None
    units: str | None  # planned units per week, 2 decimals
    costs: list[tuple[int, str]]  # (effective from, unit cost with 2 decimals)

    @property
    def pid(self) -> int:
        return self.agreement.pid

    @property
    def role(self) -> str:
        return self.agreement.role


@dataclass(slots=True)
class Review:
    id: int
    pid: int
    role: str
    type: str
    start: int
    end: int | None
    status: str
    outcome: str | None
    achieved: str | None
    method: str | None


@dataclass(slots=True)
class CarerLink:
    """An unpaid carer caring for a service user, from `start` until `end` (None: ongoing)."""

    id: int
    carer: int  # pid
    cared: int  # pid
    start: int
    end: int | None
    hours: int  # hours caring a week, as the council records it


@dataclass(slots=True)
class Provider:
    id: int
    name: str
    cqc_location_id: str
    kind: str  # care_home | nursing_home | home_care | day_centre | other
    postcode: str


@dataclass(slots=True)
class Spell:
    """A hospital admitted-patient spell (one row of `hospital_spells`)."""

    spell_id: str
    nhs_number: str
    admission: int
    discharge: int
    admission_method: str
    discharge_method: str
    discharge_destination: str
    management_type: str
    treatment_function: str
    dob: int
    sex: str
    lsoa11: str


@dataclass(slots=True)
class RegisterEntry:
    """A row of the demographic index (the 'true' national register)."""

    nhs_number: str
    family_name: str
    given_name: str
    dob: int
    gender: str
    postcode: str
    death: int | None


@dataclass
class Behaviour:
    """How a council records and submits (drawn once per council)."""

    conversations: float = 0.0  # share of contacts recorded as 'initial conversation'
    stale_open: float = 0.0  # share of ended services whose end the system never received
    fy_reset: bool = False  # states the period from 1 April (financial year to date)
    long_stated: bool = False  # states a period longer than the data
    release1_field: str | None = None  # keeps sending Release 1 values in this column after October 2025
    resubmit: float = 0.0  # chance a quarter is resubmitted
    topup: float = 0.0  # chance a quarter gets a partial top-up file
    uplift: float = 0.04  # annual fee uplift each April
    id_style: str = "numeric"


@dataclass
class CouncilWorld:
    """Everything generated for one council."""

    council: Council
    people: list[Person]
    contacts: list[Contact]
    assessments: list[Assessment]
    agreements: list[Agreement]
    lines: list[Line]
    reviews: list[Review]
    links: list[CarerLink]
    providers: list[Provider]
    spells: list[Spell]
    register: list[RegisterEntry]
    behaviour: Behaviour
    snapshot: int  # ordinal of the snapshot date (the last quarter end)
