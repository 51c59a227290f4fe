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

from ascld.returns.writer import is_formula_like, quote_cell
from ascld.spec import Spec
from ascld.synth.model import CouncilWorld, Line, Person
from ascld.synth.reference import Reference, load_reference

TABLE_ORDER = {"contact": 0, "assessment": 1, "service_line": 2, "review": 3, "kba": 4}
CARER_COLUMNS = (
    "No_of_adults_being_cared_for",
    "Adult_1_Linked_Person_ID",
    "Adult_2_Linked_Person_ID",
    "Adult_3_Linked_Person_ID",
)


class Row:
    """One return row and where it came from.

    The text of a row is built from shared parts (the person's columns for the file, the event's fixed
    columns, a few per-period values) and joined only when written; `cells` turns it into a list of 50 values
    for code that inspects or changes single values (defects), after which the list is what gets written.
    """

    __slots__ = (
        "table",
        "record_id",
        "pid",
        "role",
        "start",
        "end",
        "defect",
        "_cells",
        "_base",
        "_event",
        "_dynamic",
        "carer",
        "_builder",
    )

    def __init__(
        self,
        table: str,
        record_id: int,
        pid: int,
        role: str,
        start: int | None,
        end: int | None,
        cells: list[str] | None = None,
        *,
        base: PersonPart | None = None,
        event: EventPart | None = None,
        dynamic: tuple[str, str, str] = ("", "", ""),
        builder: ReturnBuilder | None = None,
        defect: bool = False,
    ) -> None:
        self.table = table  # contact | assessment | service_line | review | kba
        self.record_id = record_id
        self.pid = pid
        self.role = role  # SU | CARER | KBA
        self.start = start
        self.end = end
        self.defect = defect  # already carries a defect (inherited or injected)
        self._cells = cells
        self._base = base
        self._event = event
        self._dynamic = dynamic  # (end date, outcome, unit cost) as text
        self.carer: tuple[str, tuple[str, ...]] | None = None  # (number cared for, linked person ids)
        self._builder = builder

    @property
    def cells(self) -> list[str]:
        if self._cells is None:
            assert self._builder is not None and self._base is not None
            self._cells = self._builder.materialise(self)
        return self._cells

    @property
    def materialised(self) -> bool:
        return self._cells is not None

    def line(self) -> str | None:
        """The row as one quoted CSV line, or None once its cells have been materialised."""
        if self._cells is not None:
            return None
        assert self._builder is not None
        return self._builder.join(self)

    def copy(self) -> Row:
        return Row(
            self.table,
            self.record_id,
            self.pid,
            self.role,
            self.start,
            self.end,
            list(self.cells),
            defect=True,
        )


class PersonPart:
    """A person's columns for one file (as at its period end): fixed cells, per-file values, quoted text."""

    __slots__ = ("static", "dynamic", "text")

    def __init__(self, static: list[str], dynamic: tuple[str, ...], text: str) -> None:
        self.static = static
        self.dynamic = dynamic  # values of ReturnBuilder.person_dynamic columns
        self.text = text


class EventPart:
    """An event's columns that do not depend on the period: a full-width template and quoted segments."""

    __slots__ = ("cells", "segments")

    def __init__(self, cells: list[str], segments: list[str]) -> None:
        self.cells = cells
        self.segments = segments


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
        ref: the reference data (local codes and their CLD values).
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
        # Layout: person columns come first, then the event, carer and cost columns. The event part is cut
        # into fixed segments around the columns that change with the period (end date, outcome, carer
        # columns, unit cost).
        self.split = self.col["Event_Type"]
        self.dynamic = [
            self.col["Event_End_Date"],
            self.col["Event_Outcome"],
            *(self.col[c] for c in CARER_COLUMNS),
            self.col["Unit_Cost"],
        ]
        carer = self.dynamic[2:6]
        if (
            sorted(self.dynamic) != self.dynamic
            or self.dynamic[0] < self.split
            or carer != list(range(carer[0], carer[0] + 4))
        ):
            raise AssertionError("unexpected column order in the specification")
        bounds = [self.split, *self.dynamic, self.width]
        self._segments = [(bounds[k] + (1 if k else 0), bounds[k + 1]) for k in range(len(bounds) - 1)]
        self.person_dynamic = [
            self.col[c]
            for c in (
                "Reporting_Period_Start_Date",
                "Reporting_Period_End_Date",
                "Date_of_Death",
                "Postcode",
                "Accommodation_Status",
            )
        ]
        d = self.person_dynamic
        if not (
            d[0] > 0
            and d[1] == d[0] + 1
            and d[1] < d[2] - 1
            and d[2] < d[3] - 1
            and d[4] == d[3] + 1
            and d[4] < self.split - 1
        ):
            raise AssertionError("unexpected column order in the specification")
        if d[0] != 1:
            raise AssertionError("unexpected column order in the specification")
        self._person_bounds = [(0, d[0]), (d[1] + 1, d[2]), (d[2] + 1, d[3]), (d[4] + 1, self.split)]
        self.accommodation = self.ref.cld["accommodation"]
        self._person_segments: dict[tuple[int, str], list[str]] = {}
        self._person_texts: dict[tuple[int, str, int, bool], str] = {}
        self._la_text = ""
        self._blank_events = [""] * (self.width - self.split)
        self._person_cache: dict[tuple[int, str], list[str]] = {}
        self._parts: dict[int, EventPart] = {}  # record ids are unique across tables
        self._quoted: dict[str, str] = {"": ""}
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

    def q(self, text: str) -> str:
        """A cell quoted as csv.QUOTE_MINIMAL would (cached). Every distinct value written on the fast path
        passes through here, which is where formula-like values are refused."""
        quoted = self._quoted.get(text)
        if quoted is None:
            if is_formula_like(text):
                raise ValueError(f"a value starting with {text[0]!r} would run as a spreadsheet formula")
            quoted = quote_cell(text)
            if len(self._quoted) < 200_000:
                self._quoted[text] = quoted
        return quoted

    def joined(self, cells: Sequence[str]) -> str:
        get = self._quoted.get
        q = self.q
        return ",".join([(get(c) or q(c)) if c else "" for c in cells])

    # ------------------------------------------------------------------ person part
    def person_cells(self, p: Person, role: str) -> list[str]:
        """The person columns that never change, for this person as this client type (cached)."""
        key = (p.pid, role)
        cells = self._person_cache.get(key)
        if cells is not None:
            return cells
        v = self.ref.value
        c = self.col
        cells = [""] * self.split
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

    def person_part(self, p: Person, role: str, period_end: int, stated: tuple[str, str]) -> PersonPart:
        """The person's columns for a file: stated period, death, postcode and accommodation as at the period
        end."""
        address = p.addresses[0]
        for a in p.addresses:
            if a.start <= period_end:
                address = a
        dead = p.death is not None and p.death <= period_end
        key = (p.pid, role, address.id, dead)
        cached = self._person_texts.get(key)
        static = self.person_cells(p, role)
        death = fmt_date(p.death) if dead else ""
        accommodation = self.accommodation[address.accommodation]
        if cached is None:
            segments = self._person_segments.get((p.pid, role))
            if segments is None:
                quoted = [self.q(x) if x else "" for x in static]
                segments = self._person_segments[(p.pid, role)] = [
                    ",".join(quoted[a:b]) for a, b in self._person_bounds
                ]
            # Everything after the reporting period columns, which come right after LA Code.
            cached = self._person_texts[key] = ",".join(
                (segments[1], death, segments[2], self.q(address.postcode), self.q(accommodation), segments[3])
            )
            self._la_text = segments[0]
        text = f"{self._la_text},{stated[0]},{stated[1]},{cached}"
        return PersonPart(static, (stated[0], stated[1], death, address.postcode, accommodation), text)

    # ------------------------------------------------------------------ event part
    def event_part(self, table: str, rec: object) -> EventPart:
        """The event's columns that do not depend on the period (cached per record)."""
        part = self._parts.get(rec.id)  # type: ignore[attr-defined]
        if part is not None:
            return part
        c = self.col
        v = self.ref.value
        d = self.ref.description
        cells = [""] * self.width
        cells[c["Event_Type"]] = self.event_type[table]
        cells[c["Event_Start_Date"]] = fmt_date(rec.start)  # type: ignore[attr-defined]
        if table == "contact":
            cells[c["Event_Reference"]] = f"C{rec.id}"  # type: ignore[attr-defined]
            cells[c["Event_Description"]] = d("contact_type", rec.type)  # type: ignore[attr-defined]
            cells[c["Request_Route_of_Access"]] = v("route", rec.route)  # type: ignore[attr-defined]
        elif table == "assessment":
            cells[c["Event_Reference"]] = f"A{rec.id}"  # type: ignore[attr-defined]
            cells[c["Event_Description"]] = d("assessment_type", rec.type)  # type: ignore[attr-defined]
            cells[c["Assessment_Type"]] = v("assessment_type", rec.type)  # type: ignore[attr-defined]
            cells[c["Eligible_Needs_Identified"]] = v("eligibility", rec.eligible)  # type: ignore[attr-defined]
            cells[c["Method_of_Assessment"]] = v("assessment_method", rec.method)  # type: ignore[attr-defined]
        elif table == "review":
            cells[c["Event_Reference"]] = f"R{rec.id}"  # type: ignore[attr-defined]
            cells[c["Event_Description"]] = d("review_type", rec.type)  # type: ignore[attr-defined]
            cells[c["Review_Reason"]] = v("review_type", rec.type)  # type: ignore[attr-defined]
            cells[c["Review_Outcomes_Achieved"]] = v("outcomes_achieved", rec.achieved)  # type: ignore[attr-defined]
            cells[c["Method_of_Review"]] = v("review_method", rec.method)  # type: ignore[attr-defined]
        else:
            line: Line = rec  # type: ignore[assignment]
            agreement = line.agreement
            cells[c["Event_Reference"]] = f"S{line.id}"
            cells[c["Event_Description"]] = d("component", line.component)
            cells[c["Service_Type"]] = v("setting", agreement.setting)
            cells[c["Service_Component"]] = v("component", line.component)
            cells[c["Delivery_Mechanism"]] = v("delivery", agreement.delivery)
            if agreement.provider is not None:
                provider = self.providers[agreement.provider]
                cells[c["Provider_CQC_Location_Name"]] = provider.name
                cells[c["Provider_CQC_Location_ID"]] = provider.cqc_location_id
            if line.unit_type is not None and line.costs:
                cells[c["Cost_Frequency_Unit_Type"]] = v("unit_type", line.unit_type)
                cells[c["Planned_units_per_week"]] = line.units or ""
        get = self._quoted.get
        q = self.q
        split = self.split
        quoted = cells[:split] + [(get(x) or q(x)) if x else "" for x in cells[split:]]
        part = EventPart(cells, [",".join(quoted[a:b]) for a, b in self._segments])
        self._parts[rec.id] = part  # type: ignore[attr-defined]
        return part

    # ------------------------------------------------------------------ rows
    def rows(
        self,
        period_start: dt.date,
        period_end: dt.date,
        tables: Sequence[str] | None = None,
        stated: tuple[dt.date, dt.date] | None = None,
    ) -> list[Row]:
        """The rows of a return for the period, in file order.

        Args:
            period_start, period_end: the reporting period the scope rules apply to.
            tables: restrict to these event kinds (partial top-up files); None for all.
            stated: the reporting period written in the file (default: the scope period).
        """
        ps, pe = period_start.toordinal(), period_end.toordinal()
        first, last = stated or (period_start, period_end)
        stated_text = (f"{first:%d/%m/%Y}", f"{last:%d/%m/%Y}")
        people = self.world.people
        outcome_of = self.ref.cld["outcome"]
        open_outcome = self.open_outcome
        out: list[Row] = []
        person_parts: dict[tuple[int, str], PersonPart] = {}
        for pid, start, _, rid, table, rec in self._events:
            if start > pe:
                continue
            if tables is not None and table not in tables:
                continue
            cost = ""
            if table == "service_line":
                line: Line = rec  # type: ignore[assignment]
                end = line.cms_end
                if end is not None and end < ps:
                    continue
                shown = end if end is not None and end <= pe else None
                outcome = (
                    open_outcome if shown is None else (outcome_of[line.outcome] if line.outcome else "")
                )
                costs = line.costs
                if line.unit_type is not None and costs:
                    as_at = pe if shown is None else shown
                    cost = costs[0][1]
                    for effective, amount in costs:
                        if effective > as_at:
                            break
                        cost = amount
            else:
                end = rec.end  # type: ignore[attr-defined]
                if end is None or end < ps or end > pe:
                    continue
                shown = end
                outcome = outcome_of[rec.outcome] if rec.outcome else ""  # type: ignore[attr-defined]
            role = rec.role  # type: ignore[attr-defined]
            base = person_parts.get((pid, role))
            if base is None:
                base = person_parts[(pid, role)] = self.person_part(people[pid], role, pe, stated_text)
            out.append(
                Row(
                    table,
                    rid,
                    pid,
                    role,
                    start,
                    shown,
                    base=base,
                    event=self.event_part(table, rec),
                    dynamic=(fmt_date(shown), outcome, cost),
                    builder=self,
                )
            )
        self._carer_rows(out, ps, pe, stated_text)
        return out

    def materialise(self, row: Row) -> list[str]:
        """The 50 cells of a row built from its parts."""
        base = row._base  # noqa: SLF001
        assert base is not None
        event = row._event  # noqa: SLF001
        cells = base.static + (event.cells[self.split :] if event is not None else self._blank_events)
        for i, value in zip(self.person_dynamic, base.dynamic, strict=True):
            cells[i] = value
        d = self.dynamic
        cells[d[0]], cells[d[1]], cells[d[-1]] = row._dynamic  # noqa: SLF001
        if row.carer is not None:
            count, ids = row.carer
            cells[d[2]] = count
            for k, pid in enumerate(ids):
                cells[d[3 + k]] = pid
        return cells

    def join(self, row: Row) -> str:
        """The quoted CSV line of a row that has not been materialised."""
        event = row._event  # noqa: SLF001
        base = row._base  # noqa: SLF001
        assert base is not None
        if event is None:
            return self.joined(self.materialise(row))
        end, outcome, cost = row._dynamic  # noqa: SLF001
        seg = event.segments
        if row.carer is None:
            carer = ",,,"
        else:
            count, ids = row.carer
            carer = ",".join([count, *ids, *([""] * (3 - len(ids)))])
        quoted = self._quoted.get(outcome) or self.q(outcome)
        return ",".join((base.text, seg[0], end, seg[1], quoted, seg[2], carer, seg[6], cost, seg[7]))

    def _carer_rows(self, out: list[Row], ps: int, pe: int, stated: tuple[str, str]) -> None:
        w = self.world
        service_users = {r.pid for r in out if r.role == "SU"}
        active: dict[int, list[tuple[int, int]]] = {}
        for link in w.links:
            if link.start <= pe and (link.end is None or link.end >= ps):
                active.setdefault(link.carer, []).append((link.start, link.cared))
        if not active:
            return
        linked: dict[int, tuple[str, tuple[str, ...]]] = {}
        for carer, pairs in active.items():
            pairs.sort()
            ids = tuple([w.people[cared].la_person_id for _, cared in pairs if cared in service_users][:3])
            linked[carer] = (str(len(pairs)), ids)
        has_rows = set()
        for row in out:
            if row.role == "CARER" and row.pid in linked:
                has_rows.add(row.pid)
                row.carer = linked[row.pid]
        for carer in sorted(linked):
            count, ids = linked[carer]
            if carer in has_rows or not ids:
                continue
            base = self.person_part(w.people[carer], "KBA", pe, stated)
            row = Row("kba", w.people[carer].client_id, carer, "KBA", None, None, base=base, builder=self)
            row.carer = (count, ids)
            out.append(row)

    def mappings(self, period_start: dt.date, period_end: dt.date) -> Iterator[dict[str, str]]:
        """The rows as mappings keyed by national column name (blank cells left out), for comparing with an
        extraction of the case-management database."""
        for row in self.rows(period_start, period_end):
            yield {col: value for col, value in zip(self.columns, row.cells, strict=True) if value}
