"""People's journeys through adult social care, in the council's own codes.

A service user's journey is a chain of events, each starting from where the last one ended:

    request (route of access) ─┬─ NFA (information and advice, signposting, declined ...)
                               ├─ reablement / ST-Max (about six weeks) ─┬─ ends as planned
                               │                                        ├─ long-term support
                               │                                        └─ assessment, hospital ...
                               ├─ assessment ─┬─ long-term support (+ financial assessment)
                               │              ├─ short-term support (equipment, short stays)
                               │              └─ NFA
                               └─ short-term support
    long-term support: community / residential / nursing / prison packages with service lines (components,
    delivery mechanism, unit costs with an April uplift), annual planned reviews, unplanned reviews after
    hospital stays, moves into care homes, package changes, and an end (death, moved away, NHS funded,
    self-funding, ended). People may come back with a new request later.

Unpaid carers link to service users; carers in direct contact have their own requests, carer's assessments,
carer support services and reviews; the others are known only by association. Deaths end everything;
hospital stays are recorded as spells (the ASCOF 2D hospital data). Out-of-scope records (DoLS,
safeguarding, mental capacity and Mental Health Act assessments, safeguarding concerns, cancelled events) are
created too, so that an extraction has to leave them out.

The numbers in this module are the model's assumptions (rates per year, durations in days); the weights of
coded values are data (`distributions.csv`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from collections.abc import Sequence

from ascld.synth.model import (
    Address,
    Agreement,
    Assessment,
    Behaviour,
    CarerLink,
    Contact,
    Line,
    Person,
    Provider,
    Review,
    Spell,
)
from ascld.synth.reference import Reference

NEVER = 10**9
YEAR = 365.25

_NFA_OUTCOMES = frozenset(
    {"NFA-IA", "NFA-REF-LA", "NFA-NHS", "NFA-SELF", "NFA-DECL", "NFA-NOSERV", "NFA-OTH"}
)
# Hospital coding mixes (SUS admitted patient care): (code, weight)
_ADMISSION_METHODS = (
    ("21", 55),
    ("22", 8),
    ("28", 10),
    ("2A", 3),
    ("11", 12),
    ("12", 5),
    ("13", 3),
    ("81", 2),
    ("31", 1),
    ("82", 1),
)
_DESTINATIONS = (
    ("19", 82),
    ("29", 3),
    ("54", 1.5),
    ("65", 2),
    ("85", 4),
    ("51", 3),
    ("87", 0.5),
    ("88", 0.5),
    ("49", 0.2),
    ("52", 0.3),
    ("66", 0.5),
)
_TREATMENT = (
    ("300", 30),
    ("430", 20),
    ("100", 8),
    ("110", 10),
    ("320", 8),
    ("340", 8),
    ("301", 4),
    ("101", 3),
    ("120", 2),
    ("180", 3),
    ("199", 1),
    ("560", 0.5),
    ("650", 1),
    ("710", 1),
    ("840", 0.5),
)


class Picker:
    """Draws from fixed weights quickly (`random.choices` recomputes cumulative weights on every call)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, items: Sequence, weights: Sequence[float]) -> None:  # type: ignore[type-arg]
        self.items = list(items)
        self.cum: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            self.cum.append(total)
        self.total = total

    def __call__(self, rng: random.Random):  # type: ignore[no-untyped-def]
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


class Journeys:
    """Generates every event of one council's people. One instance per council.

    Args:
        ref: the reference data.
        rng: the council's Python random generator (the only source of randomness here).
        behaviour: the council's recording behaviour.
        sim_start, snapshot: ordinals of the first simulated day and of the database snapshot (the last
            quarter end).
        postcodes: the council's live postcodes.
        providers: the council's providers.
        lsoa11: postcode -> 2011 LSOA.
    """

    def __init__(
        self,
        ref: Reference,
        rng: random.Random,
        behaviour: Behaviour,
        sim_start: int,
        snapshot: int,
        postcodes: Sequence[str],
        providers: Sequence[Provider],
        lsoa11: dict[str, str],
        spell_prefix: str,
    ) -> None:
        self.ref = ref
        self.r = rng
        self.b = behaviour
        self.t0 = sim_start
        self.te = snapshot
        self.postcodes = postcodes
        self.lsoa11 = lsoa11
        self.providers: dict[str, list[Provider]] = {}
        for p in providers:
            self.providers.setdefault(p.kind, []).append(p)
        self.spell_prefix = spell_prefix
        self.contacts: list[Contact] = []
        self.assessments: list[Assessment] = []
        self.agreements: list[Agreement] = []
        self.lines: list[Line] = []
        self.reviews: list[Review] = []
        self.links: list[CarerLink] = []
        self.spells: list[Spell] = []
        self._ids = {
            "contact": 2_000_000,
            "assessment": 3_000_000,
            "agreement": 4_000_000,
            "line": 5_000_000,
            "review": 6_000_000,
            "link": 7_000_000,
            "address": 9_000_000,
            "spell": 0,
        }
        self._pickers: dict[tuple[str, str], Picker] = {}
        self._fixed = {
            name: Picker([c for c, _ in pairs], [w for _, w in pairs])
            for name, pairs in (
                ("admission", _ADMISSION_METHODS),
                ("destination", _DESTINATIONS),
                ("treatment", _TREATMENT),
            )
        }
        self._aprils = [dt.date(y, 4, 1).toordinal() for y in range(1990, 2101)]
        self.person: Person | None = None
        self.death = NEVER
        self.prison = False

    # ------------------------------------------------------------------ helpers
    def next_id(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def pick(self, domain: str, context: str) -> str:
        picker = self._pickers.get((domain, context))
        if picker is None:
            picker = self._pickers[(domain, context)] = Picker(*self.ref.dist(domain, context))
        return picker(self.r)  # type: ignore[no-any-return]

    def pick_fixed(self, name: str) -> str:
        return self._fixed[name](self.r)  # type: ignore[no-any-return]

    def lognormal_days(self, median: float, sigma: float, low: int, high: int) -> int:
        return max(low, min(high, int(round(median * math.exp(self.r.gauss(0.0, sigma))))))

    def wait(self, rate_per_year: float) -> int:
        """Days to the next event of a Poisson process with the given yearly rate."""
        if rate_per_year <= 0:
            return NEVER
        return max(1, int(self.r.expovariate(rate_per_year) * YEAR))

    def age(self, person: Person, day: int) -> float:
        return (day - person.dob) / YEAR

    def finish(self, start: int, planned_end: int) -> tuple[int | None, str]:
        """Where an event that started on `start` really ends: 'done' on the planned day, 'died' on the day of
        death, or 'open' (still going at the snapshot)."""
        if self.death <= planned_end and self.death <= self.te:
            return self.death, "died"
        if planned_end > self.te:
            return None, "open"
        return planned_end, "done"

    def can_start(self, day: int) -> bool:
        return day <= self.te and day < self.death

    # ------------------------------------------------------------------ records
    def add_contact(
        self,
        p: Person,
        role: str,
        start: int,
        end: int | None,
        status: str,
        route: str,
        outcome: str | None,
        ctype: str | None = None,
    ) -> Contact:
        if ctype is None:
            ctype = "CONV1" if self.r.random() < self.b.conversations else "CONTACT"
        c = Contact(self.next_id("contact"), p.pid, role, ctype, start, end, status, route, outcome)
        self.contacts.append(c)
        return c

    def add_assessment(
        self,
        p: Person,
        role: str,
        atype: str,
        start: int,
        end: int | None,
        status: str,
        outcome: str | None,
        eligible: str | None,
        method: str | None,
    ) -> Assessment:
        a = Assessment(
            self.next_id("assessment"), p.pid, role, atype, start, end, status, outcome, eligible, method
        )
        self.assessments.append(a)
        return a

    def add_review(
        self,
        p: Person,
        role: str,
        rtype: str,
        start: int,
        end: int | None,
        status: str,
        outcome: str | None,
        method: str | None,
        achieved: str | None,
    ) -> Review:
        v = Review(self.next_id("review"), p.pid, role, rtype, start, end, status, outcome, achieved, method)
        self.reviews.append(v)
        return v

    def add_agreement(
        self, p: Person, role: str, setting: str, delivery: str | None, start: int, provider: Provider | None
    ) -> Agreement:
        a = Agreement(
            self.next_id("agreement"),
            p.pid,
            role,
            setting,
            delivery,
            provider.id if provider else None,
            start,
            "ACTIVE",
        )
        self.agreements.append(a)
        return a

    def cost_line(self, component: str, role: str) -> tuple[str | None, str | None, float]:
        rows = self.ref.costs.get((component, "carer")) if role == "CARER" else None
        rows = rows or self.ref.costs.get((component, "any"))
        if not rows:
            return None, None, 0.0
        unit_type, _, cmin, cmax, umin, umax = (
            rows[0] if len(rows) == 1 else Picker(rows, [r[1] for r in rows])(self.r)
        )
        cost = round(self.r.uniform(cmin, cmax), 2)
        units: float = self.r.randint(umin, umax)
        if unit_type == "HR" and self.r.random() < 0.3:
            units += 0.5
        return unit_type, f"{units:.2f}", cost

    def add_line(
        self,
        agreement: Agreement,
        component: str,
        start: int,
        end: int | None,
        outcome: str | None,
        cancelled: bool = False,
    ) -> Line:
        unit_type, units, cost = self.cost_line(component, agreement.role)
        costs: list[tuple[int, str]] = []
        if unit_type is not None:
            costs.append((start, f"{cost:.2f}"))
            last = end if end is not None else self.te
            i = bisect.bisect_right(self._aprils, start)
            while i < len(self._aprils) and self._aprils[i] <= last:
                cost = cost * (1 + self.b.uplift)
                costs.append((self._aprils[i], f"{cost:.2f}"))
                i += 1
        status = "CANCELLED" if cancelled else ("ENDED" if end is not None else "ACTIVE")
        line = Line(
            self.next_id("line"),
            agreement,
            component,
            start,
            end,
            end,
            status,
            outcome,
            unit_type,
            units,
            costs,
        )
        self.lines.append(line)
        return line

    def close_line(self, line: Line, day: int | None, outcome: str | None) -> None:
        """End an open line (day None: it stays open at the snapshot)."""
        if day is None:
            return
        if day < line.start:  # the package ended before this line began: it never happened
            line.end = line.cms_end = None
            line.outcome = None
            line.status = "CANCELLED"
            return
        line.end = line.cms_end = day
        line.outcome = outcome
        line.status = "ENDED"
        line.costs = [c for c in line.costs if c[0] <= day] or line.costs[:1]

    def spell(
        self, admission: int, discharge: int, emergency: bool = True, died: bool = False
    ) -> Spell | None:
        """A hospital spell of the current person (their true NHS number)."""
        p = self.person
        assert p is not None
        if admission < self.t0 or discharge > self.te or discharge < admission:
            return None
        method = (
            self.pick_fixed("admission") if not emergency else self.r.choice(("21", "21", "21", "22", "28"))
        )
        management = "EL" if method in ("11", "12", "13") else ("NE" if self.r.random() < 0.15 else "EM")
        postcode = self.postcode_at(p, admission)
        s = Spell(
            spell_id=f"{self.spell_prefix}{self.next_id('spell'):07d}",
            nhs_number=p.nhs_true,
            admission=admission,
            discharge=discharge,
            admission_method=method,
            discharge_method="4" if died else ("2" if self.r.random() < 0.02 else "1"),
            discharge_destination="79" if died else self.pick_fixed("destination"),
            management_type=management,
            treatment_function=self.pick_fixed("treatment"),
            dob=p.dob,
            sex=_SUS_SEX.get(p.gender, "9"),
            lsoa11=self.lsoa11.get(postcode, ""),
        )
        self.spells.append(s)
        return s

    def postcode_at(self, p: Person, day: int) -> str:
        current = p.addresses[0].postcode
        for a in p.addresses:
            if a.start <= day:
                current = a.postcode
        return current

    def move_to(self, p: Person, day: int, postcode: str, accommodation: str) -> None:
        """A new address from `day`; later planned moves are dropped (people in care homes stay put)."""
        kept = [a for a in p.addresses if a.start < day]
        if not kept:  # the move predates every recorded address: the first one becomes the home before it
            first = p.addresses[0]
            first.start = min(day - 1, max(p.dob + int(18 * YEAR), day - 730))
            kept = [first]
        if kept[-1].postcode == postcode and kept[-1].accommodation == accommodation:
            kept[-1].end = None
            p.addresses = kept
            return
        kept[-1].end = day - 1
        kept.append(Address(self.next_id("address"), p.pid, day, None, postcode, accommodation))
        p.addresses = kept

    def provider(self, kind: str) -> Provider | None:
        pool = self.providers.get(kind)
        return self.r.choice(pool) if pool else None

    # ------------------------------------------------------------------ service users
    def service_user(self, p: Person, arrival: int, existing_start: int | None, prison: bool) -> None:
        self.person = p
        self.death = p.death if p.death is not None else NEVER
        self.prison = prison
        if existing_start is not None:
            self.long_term(p, existing_start, existing=True)
            return
        t = arrival
        route = "PRISON" if prison else None
        for _ in range(4):
            end = self.episode(p, t, route)
            if end is None:
                return
            if self.r.random() > 0.35:
                return
            t = end + 7 + self.wait(1.5)
            route = "HOSP-DIS" if self.r.random() < 0.3 else None

    def pre_contact_admissions(self, p: Person, until: int) -> None:
        """Hospital stays of a service user before social care knew them."""
        rate = 0.25 if self.age(p, until) >= 65 else 0.08
        t = self.t0 + self.wait(rate)
        while t < until - 30 and t < self.death:
            los = self.lognormal_days(5, 0.8, 0, 40)
            self.spell(t, min(t + los, until - 1), emergency=self.r.random() < 0.8)
            t += los + self.wait(rate)

    def episode(self, p: Person, t: int, route: str | None = None) -> int | None:
        """One request and what follows. Returns the day the episode is over, or None if the person died, is
        still in it at the snapshot, or moved into long-term support that outlives the simulation."""
        if not self.can_start(t):
            return None
        route = route or self.pick("route", "su")
        if route == "HOSP-DIS":
            los = self.lognormal_days(7, 0.7, 1, 60)
            self.spell(t - los, t, emergency=True)
        result = self.request(p, "SU", t, route, "request_su")
        if result is None:
            return None
        outcome, end = result
        if route == "HOSP-DIS" and outcome in _NFA_OUTCOMES and self.r.random() < 0.35:
            outcome = "PROG-REAB"
            self.contacts[-1].outcome = outcome
        if route == "PRISON" and outcome != "PROG-ASSESS":
            outcome = "PROG-ASSESS"
            self.contacts[-1].outcome = outcome
        if outcome == "PROG-REAB":
            gap = self.r.randint(0, 2) if route == "HOSP-DIS" else self.r.randint(1, 10)
            return self.stmax(p, end + gap)
        if outcome == "PROG-ASSESS":
            return self.assessment(p, end + self.lognormal_days(10, 0.9, 0, 120))
        if outcome == "PROG-SERV":
            return self.short_term(p, end + self.r.randint(0, 14))
        if outcome == "HOSP":
            return self.hospital_stay(p, end + self.r.randint(0, 1))
        return end

    def request(self, p: Person, role: str, t: int, route: str, context: str) -> tuple[str, int] | None:
        if not self.can_start(t):
            return None
        u = self.r.random()
        duration = 0 if u < 0.45 else self.r.randint(1, 3) if u < 0.8 else self.r.randint(4, 20)
        if route == "HOSP-DIS":
            duration = min(duration, 2)
        end, how = self.finish(t, t + duration)
        if how == "open":
            self.add_contact(p, role, t, None, "OPEN", route, None)
            return None
        if how == "died":
            self.add_contact(p, role, t, end, "COMPLETE", route, "NFA-DIED")
            return None
        assert end is not None
        if self.r.random() < 0.02:  # halted (cancelled); the request is made again a few days later
            self.add_contact(p, role, t, end, "CANCELLED", route, None)
            return self.request(p, role, end + self.r.randint(1, 5), route, context)
        if role == "SU" and self.r.random() < 0.01:
            self.add_contact(p, role, t, end, "COMPLETE", route, None, ctype="SAFEG")  # out of scope
        outcome = self.pick("outcome", context)
        self.add_contact(p, role, t, end, "COMPLETE", route, outcome)
        return outcome, end

    def hospital_stay(self, p: Person, admission: int) -> int | None:
        """An admission; the person may come back through a hospital-discharge request."""
        if not self.can_start(admission):
            return None
        los = self.lognormal_days(7, 0.8, 1, 90)
        discharge = admission + los
        died = self.death <= discharge
        self.spell(admission, min(discharge, self.death) if died else discharge, died=died)
        if died or discharge > self.te:
            return None
        if self.r.random() < 0.6:
            return self.episode(p, discharge, "HOSP-DIS")
        return discharge

    def stmax(self, p: Person, s: int, existing: bool = False) -> int | None:
        """Reablement (ST-Max), about six weeks."""
        if not self.can_start(s):
            return None
        planned = s + self.lognormal_days(40, 0.3, 10, 90)
        outcome = self.pick("outcome", "stmax_end")
        if self.death - planned < 90 and outcome == "END-PLAN" and self.r.random() < 0.5:
            outcome = "PROG-SERV"
        if existing and outcome in ("PROG-SERV", "PROG-ASSESS"):
            outcome = "END-PLAN"
        agreement = self.add_agreement(
            p, "SU", "REAB6W", "COMM", s, self.provider("home_care") if self.r.random() < 0.3 else None
        )
        end, how = self.finish(s, planned)
        self.add_line(
            agreement, "REAB", s, end, "NFA-DIED" if how == "died" else outcome if how == "done" else None
        )
        if how == "done" and self.r.random() < 0.25:  # review of short-term support near the end
            rs = planned - self.r.randint(3, 12)
            if rs > s:
                self.add_review(
                    p,
                    "SU",
                    "ST-REV",
                    rs,
                    min(planned, rs + self.r.randint(0, 3)),
                    "COMPLETE",
                    "CONT" if outcome == "END-PLAN" else "PROG-SERV",
                    self.pick("review_method", "su"),
                    self.pick("outcomes_achieved", "all") if self.r.random() < 0.5 else None,
                )
        if how != "done" or existing:
            return None if how != "done" else end
        assert end is not None
        if outcome == "PROG-SERV":
            if self.r.random() < 0.15:
                return self.short_term(p, end + 1, setting="ST-OTH")
            return self.long_term(p, end + self.r.randint(1, 7))
        if outcome == "PROG-ASSESS":
            return self.assessment(p, end + self.r.randint(1, 14))
        if outcome == "HOSP":
            return self.hospital_stay(p, end)
        return end

    def assessment(self, p: Person, s: int, attempt: int = 0) -> int | None:
        if not self.can_start(s):
            return None
        u = self.r.random()
        atype = "CA-LT" if u < 0.82 else "CA-ST" if u < 0.92 else "OT"
        planned = s + self.lognormal_days(12, 0.8, 0, 120)
        method = self.pick("assessment_method", "su")
        eligible = ("Y" if self.r.random() < 0.8 else "N") if self.r.random() < 0.9 else None
        end, how = self.finish(s, planned)
        if how == "open":
            self.add_assessment(p, "SU", atype, s, None, "OPEN", None, None, method)
            return None
        if how == "died":
            self.add_assessment(p, "SU", atype, s, end, "CANCELLED", None, None, method)
            return None
        assert end is not None
        if attempt == 0 and self.r.random() < 0.02:
            self.add_assessment(p, "SU", atype, s, end, "CANCELLED", None, None, method)
            return self.assessment(p, end + self.r.randint(1, 10), attempt=1)
        outcome = self.pick("outcome", "assessment_su")
        if atype == "OT" and outcome == "PROG-REAB":
            outcome = "PROG-SERV"
        if eligible == "N" and outcome == "PROG-SERV":
            outcome = "NFA-NOSERV"
        if self.death - end < 120 and outcome in _NFA_OUTCOMES and self.r.random() < 0.5:
            outcome = "PROG-SERV"
            eligible = "Y" if eligible else None
        self.add_assessment(p, "SU", atype, s, end, "COMPLETE", outcome, eligible, method)
        for kind, chance in (("MCA", 0.04), ("SAFEG", 0.02)):  # out-of-scope assessments alongside
            if self.r.random() < chance:
                self.add_assessment(p, "SU", kind, s, end, "COMPLETE", None, None, None)
        if outcome == "PROG-SERV":
            if atype != "CA-LT":
                return self.short_term(p, end + self.r.randint(0, 14), setting="ST-LL")
            if self.r.random() < 0.6:
                fs = end + self.r.randint(0, 10)
                if self.can_start(fs):
                    fe, fhow = self.finish(fs, fs + self.lognormal_days(15, 0.6, 2, 90))
                    self.add_assessment(
                        p,
                        "SU",
                        "FIN",
                        fs,
                        fe,
                        "COMPLETE" if fhow == "done" else "OPEN" if fhow == "open" else "CANCELLED",
                        None,
                        None,
                        None,
                    )
            return self.long_term(p, end + self.lognormal_days(10, 0.7, 1, 60))
        if outcome == "PROG-REAB":
            return self.stmax(p, end + self.r.randint(1, 10))
        if outcome == "HOSP":
            return self.hospital_stay(p, end)
        return end

    def short_term(self, p: Person, s: int, setting: str | None = None) -> int | None:
        """Short-term support: equipment, telecare or meals (ongoing low level), or short stays and emergency
        support (other short term)."""
        if not self.can_start(s):
            return None
        setting = setting or ("ST-LL" if self.r.random() < 0.7 else "ST-OTH")
        component = self.pick("component", "st_ll" if setting == "ST-LL" else "st_oth")
        duration = {
            "EQUIP": 0,
            "TELECARE": self.r.randint(30, 365),
            "MEALS": self.r.randint(14, 120),
            "ST-RES": self.r.randint(14, 42),
            "ST-NUR": self.r.randint(14, 42),
            "EMERG": self.r.randint(1, 14),
        }.get(component, self.r.randint(7, 90))
        provider = self.provider("care_home") if component in ("ST-RES", "ST-NUR") else None
        agreement = self.add_agreement(p, "SU", setting, self.pick("delivery", "st"), s, provider)
        outcome = self.pick("outcome", "st_other_end")
        if component in ("ST-RES", "ST-NUR") and self.r.random() < 0.4:
            outcome = "PROG-SERV"
        end, how = self.finish(s, s + duration)
        self.add_line(
            agreement, component, s, end, "NFA-DIED" if how == "died" else outcome if how == "done" else None
        )
        if how != "done":
            return None
        assert end is not None
        agreement.status = "ENDED"
        if outcome == "PROG-SERV" and component in ("ST-RES", "ST-NUR"):
            return self.long_term(p, end + 1, setting="RES-LT" if component == "ST-RES" else "NUR-LT")
        if outcome == "PROG-SERV":
            return self.assessment(p, end + self.r.randint(1, 21))
        return end

    # ------------------------------------------------------------------ long-term support
    def open_package(self, p: Person, setting: str, s: int) -> tuple[Agreement, list[Line]]:
        older = self.age(p, s) >= 65
        lines: list[Line] = []
        if setting in ("RES-LT", "NUR-LT"):
            home = self.provider("care_home" if setting == "RES-LT" else "nursing_home")
            agreement = self.add_agreement(p, "SU", setting, self.pick("delivery", "res"), s, home)
            lines.append(
                self.add_line(agreement, "LT-RES" if setting == "RES-LT" else "LT-NUR", s, None, None)
            )
            if home is not None:
                self.move_to(p, s, home.postcode, "CAREH" if setting == "RES-LT" else "NURSH")
            return agreement, lines
        if setting == "PRIS-LT":
            agreement = self.add_agreement(p, "SU", setting, self.pick("delivery", "prison"), s, None)
            component = self.r.choice(("DOM", "DOM", "EQUIP", "PROF-OTH"))
            lines.append(self.add_line(agreement, component, s, None, None))
            return agreement, lines
        context = "comm_65_plus" if older else "comm_18_64"
        component = self.pick("component", context)
        if p.psr == "LD" and not older and self.r.random() < 0.4:
            component = self.r.choice(("CSL", "CSL", "DAY", "SHL"))
        delivery: str | None = "DP" if component == "DPAY" else self.pick("delivery", context)
        if delivery == "DP" and component != "DPAY" and self.r.random() < 0.7:
            component = "DPAY"
        if self.r.random() < 0.03:
            delivery = None  # not recorded
        kind = {"DAY": "day_centre", "DPAY": None}.get(component, "home_care")
        provider = self.provider(kind) if kind and delivery != "DP" else None
        agreement = self.add_agreement(p, "SU", setting, delivery, s, provider)
        lines.append(self.add_line(agreement, component, s, None, None))
        if component == "ECH":
            self.move_to(p, s, self.r.choice(self.postcodes), "SHELT")
        if component == "SHL":
            self.move_to(p, s, self.r.choice(self.postcodes), "SHL")
        if self.r.random() < 0.3:
            extra = self.pick("component", "extra")
            if extra != component:
                lines.append(self.add_line(agreement, extra, s + self.r.randint(0, 30), None, None))
        if self.r.random() < 0.015:  # a package arranged and cancelled before any support was given
            cancelled = self.add_agreement(p, "SU", setting, delivery, s, provider)
            self.add_line(cancelled, component, s, s, None, cancelled=True)
        return agreement, lines

    def long_term(self, p: Person, s: int, existing: bool = False, setting: str | None = None) -> int | None:
        """Long-term support until it ends; returns the end day if the person may come back, else None."""
        if not self.can_start(s):
            return None
        older = self.age(p, s) >= 65
        if setting is None:
            setting = (
                "PRIS-LT" if self.prison else self.pick("setting", "lts_65_plus" if older else "lts_18_64")
            )
            if setting == "COMM-LT" and self.death - s < 365 and self.r.random() < 0.2:
                setting = "NUR-LT" if self.r.random() < 0.5 else "RES-LT"
        agreement, lines = self.open_package(p, setting, s)
        t = s
        # The first review comes six weeks to four months after support starts, then about yearly.
        next_review = self.t0 + self.r.randint(1, 365) if existing else s + self.r.randint(42, 120)
        while True:
            rates = self.rates(p, setting, t)
            total = sum(rates.values())
            step = t + self.wait(total)
            day = min(step, next_review, self.death, self.te + 1)
            if day > self.te and self.death > self.te:
                return None  # still in support at the snapshot
            if day >= self.death:
                for line in lines:
                    self.close_line(line, self.death, "NFA-DIED")
                agreement.status = "ENDED"
                return None
            if day == next_review:
                next_review = self.planned_review(p, day, lines)
                if next_review < 0:  # the review ended the package
                    agreement.status = "ENDED"
                    return None if -next_review > self.te else -next_review
                continue
            t = day
            if t < self.t0 - 60:
                continue  # history before the simulation window is not simulated in detail
            kind = Picker(list(rates), list(rates.values()))(self.r)
            if kind == "hospital":
                setting, agreement, lines = self.lts_hospital(p, t, setting, agreement, lines)
                if not lines:
                    return None
            elif kind == "care_home":
                target = "NUR-LT" if setting == "RES-LT" or self.r.random() < 0.35 else "RES-LT"
                setting, agreement, lines = self.move_setting(p, t, agreement, lines, target)
            elif kind == "change":
                lines = self.change_package(p, t, agreement, lines)
            else:
                for line in lines:
                    self.close_line(line, t, kind)
                agreement.status = "ENDED"
                return None if kind == "NFA-MOVED" else t

    def rates(self, p: Person, setting: str, t: int) -> dict[str, float]:
        """Yearly rates of what can happen to someone in long-term support (model assumptions)."""
        older = self.age(p, t) >= 65
        community = setting == "COMM-LT"
        return {
            "hospital": (0.35 if older else 0.15) if community else 0.4 if setting != "PRIS-LT" else 0.05,
            "care_home": (0.06 if older else 0.01) if community else (0.04 if setting == "RES-LT" else 0.0),
            "change": 0.15 if community else 0.0,
            "NFA-MOVED": 0.012,
            "NFA-NHS": 0.03 if setting == "NUR-LT" else 0.004,
            "NFA-SELF": 0.012 if older else 0.002,
            "END-PLAN": 0.005 if older else 0.03,
            "END-OTH": 0.008,
            "NFA-DECL": 0.004 if community else 0.0,
        }

    def planned_review(self, p: Person, day: int, lines: list[Line]) -> int:
        """A planned review; returns the next review day, or minus the end day if it ended the package."""
        later = day + 365 + self.r.randint(-20, 60)
        if self.r.random() < 0.12:  # missed this year
            return later + 120
        if day < self.t0 - 400:
            return later
        end, how = self.finish(day, day + self.lognormal_days(5, 1.0, 0, 60))
        method = self.pick("review_method", "su")
        if how == "open":
            self.add_review(p, "SU", "PLAN", day, None, "OPEN", None, method, None)
            return NEVER
        if how == "died":
            self.add_review(p, "SU", "PLAN", day, end, "CANCELLED", None, method, None)
            return NEVER
        assert end is not None
        outcome = self.pick("outcome", "review_lts")
        self.add_review(
            p, "SU", "PLAN", day, end, "COMPLETE", outcome, method, self.pick("outcomes_achieved", "all")
        )
        if outcome in ("END-OTH", "NFA-SELF", "NFA-NHS"):
            for line in lines:
                self.close_line(line, end, outcome)
            return -end
        if outcome == "PROG-SERV" and lines and lines[0].agreement.setting == "COMM-LT":
            lines[:] = self.change_package(p, end, lines[0].agreement, lines)
        return later

    def lts_hospital(
        self, p: Person, t: int, setting: str, agreement: Agreement, lines: list[Line]
    ) -> tuple[str, Agreement, list[Line]]:
        los = self.lognormal_days(7, 0.8, 1, 90)
        discharge = t + los
        died = self.death <= discharge
        self.spell(t, min(discharge, self.death), died=died)
        if died or discharge > self.te:
            return setting, agreement, lines  # death or the snapshot is handled by the caller's loop
        # Services are suspended during the stay but stay open (spec README §4).
        if setting == "COMM-LT" and self.age(p, t) >= 65 and self.r.random() < 0.12:
            return self.move_setting(
                p,
                discharge + self.r.randint(0, 7),
                agreement,
                lines,
                "NUR-LT" if self.r.random() < 0.4 else "RES-LT",
            )
        if self.r.random() < 0.3:
            rs = discharge + self.r.randint(2, 20)
            if self.can_start(rs):
                end, how = self.finish(rs, rs + self.r.randint(0, 10))
                status = {"done": "COMPLETE", "open": "OPEN", "died": "CANCELLED"}[how]
                outcome = self.r.choice(("NOCHG", "NOCHG", "PROG-SERV")) if how == "done" else None
                achieved = (
                    self.pick("outcomes_achieved", "all") if how == "done" and self.r.random() < 0.5 else None
                )
                self.add_review(
                    p, "SU", "UNPL-HOSP", rs, end, status, outcome, self.pick("review_method", "su"), achieved
                )
        if setting == "COMM-LT" and self.r.random() < 0.08:  # reablement for an existing client
            self.stmax(p, discharge + self.r.randint(0, 2), existing=True)
        return setting, agreement, lines

    def move_setting(
        self, p: Person, t: int, agreement: Agreement, lines: list[Line], target: str
    ) -> tuple[str, Agreement, list[Line]]:
        if not self.can_start(t):
            return agreement.setting, agreement, lines
        if self.r.random() < 0.6:
            rs = max(t - self.r.randint(3, 30), agreement.start)
            if rs < t:
                rtype = self.pick("review_type", "unplanned")
                self.add_review(
                    p,
                    "SU",
                    rtype,
                    rs,
                    t - 1,
                    "COMPLETE",
                    "PROG-SERV",
                    self.pick("review_method", "su"),
                    self.pick("outcomes_achieved", "all") if self.r.random() < 0.5 else None,
                )
        for line in lines:
            self.close_line(line, max(t - 1, line.start), "PROG-SERV")
        agreement.status = "ENDED"
        new_agreement, new_lines = self.open_package(p, target, t)
        return target, new_agreement, new_lines

    def change_package(self, p: Person, t: int, agreement: Agreement, lines: list[Line]) -> list[Line]:
        """End one line of a community package and start its replacement (more hours, a new component...)."""
        if not lines or not self.can_start(t) or t > self.te:
            return lines
        old = self.r.choice(lines)
        if old.start >= t:
            return lines
        self.close_line(old, t - 1, "PROG-SERV")
        component = old.component if self.r.random() < 0.6 else self.pick("component", "extra")
        if any(line.component == component for line in lines if line is not old):
            component = old.component
        new = self.add_line(agreement, component, t, None, None)
        return [line for line in lines if line is not old] + [new]

    # ------------------------------------------------------------------ carers
    def carer(self, p: Person, links: list[CarerLink], direct: bool) -> None:
        """A carer's own events (carers in direct contact) for as long as they care."""
        self.person = p
        self.death = p.death if p.death is not None else NEVER
        if not direct or not links:
            return
        link_start = min(link.start for link in links)
        link_end = max(NEVER if link.end is None else link.end for link in links)
        t = link_start + self.r.randint(0, 300)
        if t >= min(link_end, self.death) or t > self.te:
            return
        result = self.request(p, "CARER", t, "COMM", "request_carer")
        if result is None:
            return
        outcome, end = result
        if outcome != "PROG-ASSESS":
            return
        s = end + self.lognormal_days(14, 0.7, 0, 90)
        if not self.can_start(s) or s >= link_end:
            return
        planned = s + self.lognormal_days(10, 0.7, 0, 60)
        fin, how = self.finish(s, planned)
        eligible = "Y" if self.r.random() < 0.75 else "N"
        if how != "done":
            self.add_assessment(
                p,
                "CARER",
                "CARER-ASS",
                s,
                None if how == "open" else fin,
                "OPEN" if how == "open" else "CANCELLED",
                None,
                None,
                "CAR",
            )
            return
        assert fin is not None
        outcome = self.pick("outcome", "assessment_carer")
        if eligible == "N" and outcome == "PROG-SERV":
            outcome = "NFA-IA"
        self.add_assessment(p, "CARER", "CARER-ASS", s, fin, "COMPLETE", outcome, eligible, "CAR")
        if outcome == "PROG-SERV":
            self.carer_service(p, fin + self.r.randint(0, 21), link_end)
        review_day = fin + 365 + self.r.randint(-30, 60)
        while review_day < min(link_end, self.death) and review_day <= self.te:
            rend, rhow = self.finish(review_day, review_day + self.lognormal_days(3, 1.0, 0, 30))
            if rhow != "done":
                self.add_review(
                    p,
                    "CARER",
                    "PLAN",
                    review_day,
                    rend if rhow == "died" else None,
                    "OPEN" if rhow == "open" else "CANCELLED",
                    None,
                    "CAR",
                    None,
                )
                return
            assert rend is not None
            outcome = self.pick("outcome", "review_carer")
            self.add_review(
                p,
                "CARER",
                "PLAN",
                review_day,
                rend,
                "COMPLETE",
                outcome,
                "CAR",
                self.pick("outcomes_achieved", "all"),
            )
            if outcome == "PROG-SERV":
                self.carer_service(p, rend + self.r.randint(0, 14), link_end)
            review_day += 365 + self.r.randint(-20, 60)

    def carer_service(self, p: Person, s: int, link_end: int) -> None:
        if not self.can_start(s) or s >= link_end:
            return
        setting = "CAR-DIRECT" if self.r.random() < 0.75 else "CAR-CF"
        component = self.pick("component", "carer_direct" if setting == "CAR-DIRECT" else "carer_cf")
        delivery: str | None = self.pick(
            "delivery", "carer_direct" if setting == "CAR-DIRECT" else "carer_cf"
        )
        if component == "DPAY":
            delivery = "DP"
        elif self.r.random() < 0.08:
            delivery = None
        duration = {
            "DPAY": 0,
            "CAR-OTHER": 0,
            "CAR-UNIV": self.r.randint(0, 90),
            "RESPITE": self.r.randint(1, 14),
            "SITTING": self.r.randint(30, 365),
        }.get(component, 30)
        agreement = self.add_agreement(p, "CARER", setting, delivery, s, None)
        end, how = self.finish(s, min(s + duration, link_end))
        self.add_line(
            agreement,
            component,
            s,
            end,
            "NFA-DIED" if how == "died" else "END-PLAN" if how == "done" else None,
        )
        if how == "done":
            agreement.status = "ENDED"


_SUS_SEX = {"M": "1", "F": "2", "O": "9", "U": "0"}


def sus_sex(gender: str) -> str:
    """SUS sex code for a local gender code."""
    return _SUS_SEX.get(gender, "9")
