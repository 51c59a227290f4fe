"""SALT LTS001c: people in long-term support for more than 12 months at the year end (salt.md §7)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import long_term, reference, tidy
from ascld.measures.salt.common import SaltContext, alive_on, assign_person_id, islands, months_before

MEASURE = "SALT LTS001c"


def cohort(ctx: SaltContext) -> ir.Table:
    """Steps 1-4: long-term rows (no end-date filter) chained with g = 1 over any setting; keep rows of chains
    starting before PE - 12 months that are themselves open at PE."""
    p = ctx.period
    t = long_term.long_term_rows(ctx)
    t = t.filter(alive_on(t, p.end))
    t = t.mutate(__known=long_term.known_flag(t.Primary_Support_Reason, reference.value("psr_unknown")))
    t = ctx.stage(assign_person_id(t))
    t = t.mutate(Proxy_End_Date=t.Event_End_Date.fill_null(ibis.date(p.today)))
    chained = islands(
        t,
        gap=reference.parameter_int("long_term_chain_gap_days"),
        start="Event_Start_Date",
        end="Proxy_End_Date",
        count_name="Chain_Count",
        start_name="Chain_Start_Date",
    )
    cutoff = months_before(p.end, reference.parameter_int("lts001c_months"))
    chained = chained.filter(
        chained.Chain_Start_Date < ibis.date(cutoff), chained.Proxy_End_Date >= ibis.date(p.end)
    )
    return ctx.stage(long_term.setting_and_hierarchy(chained))


def build(ctx: SaltContext) -> ir.Table:
    """Tables 1a (18-64) and 1b (65+) as LTS001a, but the PSR is not checked against the PSR list."""
    council = tidy.union(
        long_term.age_tables(
            ctx,
            cohort(ctx),
            measure=MEASURE,
            category="Primary_Support_Reason",
            valid=None,
            conflict=reference.value("psr_conflict"),
            label="Primary support reason",
        )
    )
    return tidy.union([council, tidy.national_sum(council)])
