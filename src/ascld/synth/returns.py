"""Turn a council's records into the rows of a CLD return for a reporting period (the extraction rules).

These rules are what a correct extraction of the synthetic case-management database gives (docs/synth.md,
"Extraction rules"); the extraction engineer's mapping must reproduce them.

* **Scope** (spec README §4). Requests (contacts of an in-scope type), assessments (of an in-scope type) and
  reviews are included when their status is COMPLETE and their end date is inside the period. Service lines
  are included when not CANCELLED, started on or before the period end and not ended before the period
  start. Cancelled events and out-of-scope types (safeguarding, DoLS, mental capacity, Mental Health Act) are
  left out.
* **As at the period end.** A service that ends after the period end is written open: blank end date and the
  outcome `Continuation of support or services`. The postcode and accommodation are those of the address
  current at the period end; the date of death is written when it is on or before the period end; the unit
  cost is the one in force on the service's end date (or the period end if later or open).
* **Carers.** Carer rows carry `No. of adults being cared for` (carer links active in the period) and up to
  three linked person IDs: the cared-for people with an active link who have a `Service user` row in the same
  file, oldest link first. A carer with an active link to such a person but no event of their own in the file
  gets one `Unpaid carer known by association` row. `Total Hrs Caring per week` is left blank (no values of
  its list are known).
* **Order.** Event rows by person, start date, event kind (request, assessment, service, review) and record
  id; then the known-by-association rows by person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ascld.spec import Spec
from ascld.synth.model import CouncilWorld, Line, Person
from ascld.synth.reference import Reference, load_reference

TABLE_ORDER = {"contact": 0, "assessment": 1, "service_line": 2, "review": 3, "kba": 4}


@dataclass(slots=True)
class Row:
    """One return row: its cells (national column order) and where it came from."""

    cells: list[str]
    table: str  # contact | assessment | service_line | review | kba
    record_id: int  # the record's id in its table (the person's client_id for kba rows)
    pid: int
    start: int | None
    end: int | None
    defect: bool = False  # already carries a defect (inherited or injected)


_DATE_CACHE: dict[int, str] = {}


def fmt_date(ordinal: int | None) -> str:
    """dd/mm/yyyy for an ordinal ('' for None)."""
    if ordinal is None:
        return ""
    text = _DATE_CACHE.get(ordinal)
    if text is None:
        d = dt.date.fromordinal(ordinal)
        text = _DATE_CACHE[ordinal] = f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
    return text


class ReturnBuilder:
    """Builds the clean (extraction-equivalent) rows of one council's returns.

    Args:
        world: the council's records.
        spec: the specification (column order).
    """

    def __init__(self, world: CouncilWorld, spec: Spec | None = None, ref: Reference | None = None) -> None:
        self.world = world
        self.ref = ref or load_reference()
        self.spec = spec or self.ref.spec
        self.columns = self.spec.columns
        self.col = {c: i for i, c in enumerate(self.columns)}
        self.width = len(self.columns)
        self.providers = {p.id: p for p in world.providers}
        v = self.ref.value
        self.client_type = {
            "SU": v("client_role", "SU"),
            "CARER": v("client_role", "CARER"),
            "KBA": v("extract_rule", "KNOWN_BY_ASSOCIATION"),
        }
        self.open_outcome = v("extract_rule", "OPEN_SERVICE_OUTCOME")
        self.event_type = {
            t: v("event_table", t) for t in ("contact", "assessment", "service_line", "review")
        }
        self.in_scope = {key: code.in_scope for key, code in self.ref.codes.items()}
        self._person_cache: dict[tuple[int, str], list[str]] = {}
        self._events = self._event_list()

    def _event_list(self) -> list[tuple[int, int, int, int, str, object]]:
        w = self.world
        events: list[tuple[int, int, int, int, str, object]] = []
        for c in w.contacts:
            if c.status == "COMPLETE" and self.in_scope[("contact_type", c.type)]:
                events.append((c.pid, c.start, 0, c.id, "contact", c))
        for a in w.assessments:
            if a.status == "COMPLETE" and self.in_scope[("assessment_type", a.type)]:
                events.append((a.pid, a.start, 1, a.id, "assessment", a))
        for line in w.lines:
            if line.status != "CANCELLED":
                events.append((line.pid, line.start, 2, line.id, "service_line", line))
        for r in w.reviews:
            if r.status == "COMPLETE":
                events.append((r.pid, r.start, 3, r.id, "review", r))
        events.sort(key=lambda e: e[:4])
        return events

    # ------------------------------------------------------------------ person part
    def person_cells(self, p: Person, role: str) -> list[str]:
        """The static person columns of a row for this person as this client type (cached)."""
        key = (p.pid, role)
        cells = self._person_cache.get(key)
        if cells is not None:
            return cells
        v = self.ref.value
        c = self.col
        cells = [""] * self.width
        cells[c["LA_Code"]] = self.world.council.la_code
        cells[c["NHS_Number"]] = p.nhs_recorded or ""
        cells[c["LA_Person_Unique_Identifier"]] = p.la_person_id
        cells[c["First_Name"]] = p.given_name
        cells[c["Last_Name"]] = p.family_name
        cells[c["GP_Practice_Name"]] = p.gp_name or ""
        cells[c["GP_Practice_Code"]] = p.gp_code or ""
        cells[c["Gender"]] = v("gender", p.gender)
        cells[c["Ethnicity"]] = v("ethnicity", p.ethnicity)
        cells[c["Date_of_Birth"]] = fmt_date(p.dob)
        cells[c["Client_Type"]] = self.client_type[role]
        cells[c["Primary_Support_Reason"]] = v("psr", p.psr)
        cells[c["Employment_Status"]] = v("employment", p.employment)
        cells[c["Has_Unpaid_Carer"]] = v("has_carer", p.has_carer)
        if role == "SU":
            cells[c["Autism_Spectrum_Disorder_ASD"]] = v("asd", p.asd)
            cells[c["Visual_Impairment"]] = v("visual", p.visual)
            cells[c["Hearing_Impairment"]] = v("hearing", p.hearing)
            cells[c["Dementia"]] = v("dementia", p.dementia)
            cells[c["Client_Funding_Status"]] = v("funding", p.funding)
        self._person_cache[key] = cells
        return cells

    def dated_person(self, p: Person, role: str, period_end: int) -> list[str]:
        cells = list(self.person_cells(p, role))
        c = self.col
        address = p.addresses[0]
        for a in p.addresses:
            if a.start <= period_end:
                address = a
        cells[c["Postcode"]] = address.postcode
        cells[c["Accommodation_Status"]] = self.ref.value("accommodation", address.accommodation)
        if p.death is not None and p.death <= period_end:
            cells[c["Date_of_Death"]] = fmt_date(p.death)
        return cells

    # ------------------------------------------------------------------ rows
    def rows(
        self, period_start: dt.date, period_end: dt.date, tables: Sequence[str] | None = None
    ) -> list[Row]:
        """The rows of a return for the period, in file order.

        Args:
            period_start, period_end: the reporting period the scope rules apply to.
            tables: restrict to these event kinds (partial top-up files); None for all.
        """
        ps, pe = period_start.toordinal(), period_end.toordinal()
        w = self.world
        c = self.col
        v = self.ref.value
        people = w.people
        out: list[Row] = []
        person_rows: dict[tuple[int, str], list[str]] = {}
        for pid, start, _, rid, table, rec in self._events:
            if start > pe or (tables is not None and table not in tables):
                continue
            if table == "service_line":
                line: Line = rec  # type: ignore[assignment]
                end = line.cms_end
                if end is not None and end < ps:
                    continue
                shown = end if end is not None and end <= pe else None
            else:
                end = rec.end  # type: ignore[attr-defined]
                if end is None or end < ps or end > pe:
                    continue
                shown = end
            role = rec.role  # type: ignore[attr-defined]
            key = (pid, role)
            base = person_rows.get(key)
            if base is None:
                base = person_rows[key] = self.dated_person(people[pid], role, pe)
            cells = list(base)
            cells[c["Event_Type"]] = self.event_type[table]
            cells[c["Event_Start_Date"]] = fmt_date(start)
            cells[c["Event_End_Date"]] = fmt_date(shown)
            if table == "contact":
                cells[c["Event_Reference"]] = f"C{rid}"
                cells[c["Event_Description"]] = self.ref.description("contact_type", rec.type)  # type: ignore[attr-defined]
                cells[c["Event_Outcome"]] = v("outcome", rec.outcome)  # type: ignore[attr-defined]
                cells[c["Request_Route_of_Access"]] = v("route", rec.route)  # type: ignore[attr-defined]
            elif table == "assessment":
                cells[c["Event_Reference"]] = f"A{rid}"
                cells[c["Event_Description"]] = self.ref.description("assessment_type", rec.type)  # type: ignore[attr-defined]
                cells[c["Event_Outcome"]] = v("outcome", rec.outcome)  # type: ignore[attr-defined]
                cells[c["Assessment_Type"]] = v("assessment_type", rec.type)  # type: ignore[attr-defined]
                cells[c["Eligible_Needs_Identified"]] = v("eligibility", rec.eligible)  # type: ignore[attr-defined]
                cells[c["Method_of_Assessment"]] = v("assessment_method", rec.method)  # type: ignore[attr-defined]
            elif table == "review":
                cells[c["Event_Reference"]] = f"R{rid}"
                cells[c["Event_Description"]] = self.ref.description("review_type", rec.type)  # type: ignore[attr-defined]
                cells[c["Event_Outcome"]] = v("outcome", rec.outcome)  # type: ignore[attr-defined]
                cells[c["Review_Reason"]] = v("review_type", rec.type)  # type: ignore[attr-defined]
                cells[c["Review_Outcomes_Achieved"]] = v("outcomes_achieved", rec.achieved)  # type: ignore[attr-defined]
                cells[c["Method_of_Review"]] = v("review_method", rec.method)  # type: ignore[attr-defined]
            else:
                self._service_cells(cells, line, shown, pe)
            out.append(Row(cells, table, rid, pid, start, shown))
        self._carer_cells(out, ps, pe)
        return out

    def _service_cells(self, cells: list[str], line: Line, shown: int | None, pe: int) -> None:
        c = self.col
        v = self.ref.value
        agreement = line.agreement
        cells[c["Event_Reference"]] = f"S{line.id}"
        cells[c["Event_Description"]] = self.ref.description("component", line.component)
        cells[c["Event_Outcome"]] = v("outcome", line.outcome) if shown is not None else self.open_outcome
        cells[c["Service_Type"]] = v("setting", agreement.setting)
        cells[c["Service_Component"]] = v("component", line.component)
        cells[c["Delivery_Mechanism"]] = v("delivery", agreement.delivery)
        if agreement.provider is not None:
            provider = self.providers[agreement.provider]
            cells[c["Provider_CQC_Location_Name"]] = provider.name
            cells[c["Provider_CQC_Location_ID"]] = provider.cqc_location_id
        if line.unit_type is not None and line.costs:
            as_at = shown if shown is not None else pe
            cost = line.costs[0][1]
            for effective, amount in line.costs:
                if effective <= as_at:
                    cost = amount
            cells[c["Unit_Cost"]] = cost
            cells[c["Cost_Frequency_Unit_Type"]] = v("unit_type", line.unit_type)
            cells[c["Planned_units_per_week"]] = line.units or ""

    def _carer_cells(self, out: list[Row], ps: int, pe: int) -> None:
        w = self.world
        c = self.col
        service_users = {r.pid for r in out if r.cells[c["Client_Type"]] == self.client_type["SU"]}
        active: dict[int, list[tuple[int, int]]] = {}
        for link in w.links:
            if link.start <= pe and (link.end is None or link.end >= ps):
                active.setdefault(link.carer, []).append((link.start, link.cared))
        if not active:
            return
        linked: dict[int, tuple[str, list[str]]] = {}
        for carer, pairs in active.items():
            pairs.sort()
            ids = [w.people[cared].la_person_id for _, cared in pairs if cared in service_users][:3]
            linked[carer] = (str(len(pairs)), ids)
        has_rows = set()
        cols = [c["Adult_1_Linked_Person_ID"], c["Adult_2_Linked_Person_ID"], c["Adult_3_Linked_Person_ID"]]
        for row in out:
            if row.cells[c["Client_Type"]] != self.client_type["CARER"]:
                continue
            has_rows.add(row.pid)
            entry = linked.get(row.pid)
            if entry is None:
                continue
            row.cells[c["No_of_adults_being_cared_for"]] = entry[0]
            for col, value in zip(cols, entry[1], strict=False):
                row.cells[col] = value
        for carer in sorted(linked):
            count, ids = linked[carer]
            if carer in has_rows or not ids:
                continue
            cells = self.dated_person(w.people[carer], "KBA", pe)
            cells[c["No_of_adults_being_cared_for"]] = count
            for col, value in zip(cols, ids, strict=False):
                cells[col] = value
            out.append(Row(cells, "kba", w.people[carer].client_id, carer, None, None))

    def mappings(self, period_start: dt.date, period_end: dt.date) -> Iterator[dict[str, str]]:
        """The rows as mappings keyed by national column name (blank cells left out)."""
        for row in self.rows(period_start, period_end):
            yield {col: value for col, value in zip(self.columns, row.cells, strict=True) if value}
