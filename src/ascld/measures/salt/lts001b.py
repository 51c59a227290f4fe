"""SALT LTS001b: people accessing long-term support at the year end (snapshot at PE) (salt.md §6)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import long_term, reference, tidy
from ascld.measures.salt.common import SaltContext, alive_on, assign_person_id, eq_ci, in_ci

MEASURE = "SALT LTS001b"


def cohort(ctx: SaltContext) -> ir.Table:
    """Step 1: long-term services open at PE, people alive at PE; PSR, carer and ethnicity known flags; ID."""
    p = ctx.period
    t = long_term.long_term_rows(ctx)
    t = t.filter((t.Event_End_Date >= ibis.date(p.end)) | t.Event_End_Date.isnull(), alive_on(t, p.end))
    t = t.mutate(
        __psr_known=long_term.known_flag(t.Primary_Support_Reason, reference.value("psr_unknown")),
        __carer_known=long_term.known_flag(t.Has_Unpaid_Carer, reference.value("carer_unknown")),
        __ethnicity_known=long_term.known_flag(t.Ethnicity, reference.value("ethnicity_unknown")),
    )
    return ctx.stage(long_term.setting_and_hierarchy(assign_person_id(t)))


def build(ctx: SaltContext) -> ir.Table:
    """Tables 1a/1b (PSR by age), 2 (support from carer, all ages), 3a/3b (ethnicity by gender), 3c."""
    rows = cohort(ctx)
    parts = long_term.age_tables(
        ctx,
        rows.mutate(__known=rows["__psr_known"]),
        measure=MEASURE,
        category="Primary_Support_Reason",
        valid=reference.valid_values("primary_support_reason"),
        conflict=reference.value("psr_conflict"),
        label="Primary support reason",
    )
    carers = ctx.stage(
        long_term.one_per_person(
            rows,
            category="Has_Unpaid_Carer",
            known="__carer_known",
            valid=reference.valid_values("has_unpaid_carer"),
            conflict=reference.value("carer_conflict"),
        )
    )
    parts += [
        tidy.cells(carers, measure=MEASURE, breakdown=tidy.TOTAL, distinct="ID"),
        tidy.cells(
            carers,
            measure=MEASURE,
            breakdown="Has unpaid carer | Service type | Delivery mechanism",
            dims=["Category", "Service_Type", "Delivery_Mechanism"],
            distinct="ID",
        ),
    ]
    for gender in (reference.value("male"), reference.value("female")):
        final = ctx.stage(
            long_term.one_per_person(
                rows.filter(eq_ci(rows.Gender, gender)),
                category="Ethnicity",
                known="__ethnicity_known",
                valid=reference.valid_values("ethnicity"),
                conflict=reference.value("ethnicity_conflict"),
            ).mutate(Gender=ibis.literal(gender))
        )
        parts += [
            tidy.cells(final, measure=MEASURE, breakdown="Gender", dims=["Gender"], distinct="ID"),
            tidy.cells(
                final,
                measure=MEASURE,
                breakdown="Gender | Ethnicity | Service type | Delivery mechanism",
                dims=["Gender", "Category", "Service_Type", "Delivery_Mechanism"],
                distinct="ID",
            ),
        ]
    others = reference.values("other_unknown_gender")
    other = rows.filter(in_ci(rows.Gender, others)).mutate(Gender=ibis.literal(" or ".join(others)))
    parts.append(tidy.cells(other, measure=MEASURE, breakdown="Gender", dims=["Gender"], distinct="ID"))
    council = tidy.union(parts)
    return tidy.union([council, tidy.national_sum(council)])
