"""SALT LTS001a: people accessing long-term support during the year (salt.md §5)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import long_term, reference, tidy
from ascld.measures.salt.common import SaltContext, alive_on, assign_person_id

MEASURE = "SALT LTS001a"


def cohort(ctx: SaltContext) -> ir.Table:
    """Step 1-2: long-term services open during the year, people alive at PS; PSR known flag; ID; setting."""
    p = ctx.period
    t = long_term.long_term_rows(ctx)
    t = t.filter((t.Event_End_Date >= ibis.date(p.start)) | t.Event_End_Date.isnull(), alive_on(t, p.start))
    t = t.mutate(__known=long_term.known_flag(t.Primary_Support_Reason, reference.value("psr_unknown")))
    return ctx.stage(long_term.setting_and_hierarchy(assign_person_id(t)))


def build(ctx: SaltContext) -> ir.Table:
    """Tables 1a (18-64) and 1b (65+): distinct people by PSR, service type and delivery mechanism."""
    council = tidy.union(
        long_term.age_tables(
            ctx,
            cohort(ctx),
            measure=MEASURE,
            category="Primary_Support_Reason",
            valid=reference.valid_values("primary_support_reason"),
            conflict=reference.value("psr_conflict"),
            label="Primary support reason",
        )
    )
    return tidy.union([council, tidy.national_sum(council)])
