"""Synthetic national identities: NHS numbers in the test range, names, dates of birth, sex and deaths.

An *identity* is a synthetic person as the national register knows them. Its attributes are a function of
the master seed and the identity key alone (generated in seeded blocks), so any council can compute the
identity of any of its people without knowing the other councils: councils are generated independently and in
parallel.

NHS numbers are all in the 999 range the NHS reserves for testing (never issued to patients). That range holds
909,091 valid numbers (a million nine-digit bodies, less those whose check digit would be 10). 95% of them are
identity numbers and 5% are kept for "decoys" (register entries of people unknown to social care, and the
general population in the hospital spells). Councils draw consecutive identity keys in councils.csv order;
when a run has more people than identity numbers (the national scale of about 1.5 million people does), keys
wrap round and an identity is then known to two councils: the same synthetic person (same NHS number, name,
date of birth, sex and death) with an independent history in each. docs/synth.md gives the shares.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np

from ascld.synth.reference import load_reference

BLOCK = 1024
DECOY_SHARE = 0.05
DECOY_EVERY = 211  # one identity in DECOY_EVERY has a register namesake (same family name, DOB and sex)
WEIGHTS = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2])


@functools.cache
def nhs_numbers(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(identity numbers, decoy numbers) as int64 arrays of valid 10-digit test-range NHS numbers, in a
    seed-dependent order."""
    bodies = np.arange(1_000_000, dtype=np.int64)
    digits = np.stack([np.full_like(bodies, 9)] * 3 + [(bodies // 10**k) % 10 for k in range(5, -1, -1)])
    total = (digits * WEIGHTS[:, None]).sum(axis=0)
    check = 11 - total % 11
    check[check == 11] = 0
    valid = check != 10
    numbers = (999_000_000 + bodies[valid]) * 10 + check[valid]
    numbers = numbers[numbers != 9_999_999_999]  # all nines is a placeholder, not a number
    rng = np.random.default_rng([seed, 0x4E48])
    numbers = rng.permutation(numbers)
    n_main = int(len(numbers) * (1 - DECOY_SHARE))
    return numbers[:n_main], numbers[n_main:]


def identity_capacity(seed: int = 0) -> int:
    """How many distinct identity NHS numbers exist (about 863,636)."""
    return len(nhs_numbers(seed)[0])


def _age_pmf(low: int, high: int, peak: float, spread: float, floor: float) -> tuple[np.ndarray, np.ndarray]:
    ages = np.arange(low, high + 1)
    w = np.exp(-0.5 * ((ages - peak) / spread) ** 2) + floor
    return ages, w / w.sum()


AGES_65, P_65 = _age_pmf(65, 104, 85.0, 8.0, 0.02)  # older clients cluster in their 80s
AGES_18, P_18 = _age_pmf(18, 64, 58.0, 16.0, 0.15)  # working-age clients skew towards their 50s
SHARE_65_PLUS = 0.72  # of all identities; service users end near 65%, carers near 35% (see world.py)


@functools.cache
def _names(kind: str) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    names, weights, variants = load_reference().names[kind]
    p = np.array(weights) / sum(weights)
    return names, p, variants


@functools.lru_cache(maxsize=16)
def identity_block(seed: int, block: int, reference_day: int, start_day: int) -> dict[str, list]:
    """Attributes of identities block*BLOCK ... block*BLOCK+BLOCK-1 (as Python lists).

    Args:
        seed: master seed.
        block: block number.
        reference_day: ordinal date ages are drawn at (the snapshot date).
        start_day: ordinal date deaths are drawn from (the simulation start).
    """
    ref = load_reference()
    rng = np.random.default_rng([seed, 0x1D, block])
    n = BLOCK
    older = rng.random(n) < SHARE_65_PLUS
    age = np.where(older, rng.choice(AGES_65, n, p=P_65), rng.choice(AGES_18, n, p=P_18))
    dob = reference_day - np.floor(age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    gender = np.empty(n, dtype=object)
    for flag, context in ((True, "su_65_plus"), (False, "su_18_64")):
        codes, weights = ref.dist("gender", context)
        mask = older == flag
        p = np.array(weights) / sum(weights)
        gender[mask] = rng.choice(np.array(codes, dtype=object), int(mask.sum()), p=p)
    fem_names, fem_p, fem_var = _names("female")
    male_names, male_p, male_var = _names("male")
    fam_names, fam_p, fam_var = _names("family")
    fem_i = rng.choice(len(fem_names), n, p=fem_p)
    male_i = rng.choice(len(male_names), n, p=male_p)
    fam_i = rng.choice(len(fam_names), n, p=fam_p)
    coin = rng.random(n)
    variant_draw = rng.random(n)
    moved_draw = rng.random(n)
    # Annual death hazard by age: rises ~9% a year of age from 4.5% at 65 (adult social care clients die
    # sooner than the general population); 1.2% below 65.
    hazard = np.where(age >= 65, np.minimum(0.045 * np.exp(0.09 * (age - 65)), 0.6), 0.012)
    years = rng.exponential(1.0 / hazard)
    death_day = start_day + np.floor(years * 365.25).astype(np.int64)
    decoy_given = rng.random(n)
    out: dict[str, list] = {
        "dob": dob.tolist(),
        "gender": gender.tolist(),
        "death": death_day.tolist(),
        "older": older.tolist(),
        "given": [],
        "given_recorded": [],
        "family": [],
        "family_recorded": [],
        "moved": (moved_draw < 0.03).tolist(),
        "decoy_given": [],
    }
    for k in range(n):
        female = gender[k] == "F" or (gender[k] in ("O", "U") and coin[k] < 0.5)
        if female:
            given, gvar = fem_names[fem_i[k]], fem_var[fem_i[k]]
            other = fem_names[int(decoy_given[k] * len(fem_names))]
        else:
            given, gvar = male_names[male_i[k]], male_var[male_i[k]]
            other = male_names[int(decoy_given[k] * len(male_names))]
        family, fvar = fam_names[fam_i[k]], fam_var[fam_i[k]]
        g_rec, f_rec = given, family
        if variant_draw[k] < 0.02:  # the council spells the name differently from the register
            if gvar:
                g_rec = gvar
            elif fvar:
                f_rec = fvar
        out["given"].append(given)
        out["given_recorded"].append(g_rec)
        out["family"].append(family)
        out["family_recorded"].append(f_rec)
        out["decoy_given"].append(other if other != given else (other + "a" if female else other + "o"))
    return out


class IdentityView:
    """Identity attributes for any key, computed block by block."""

    def __init__(self, seed: int, reference: dt.date, start: dt.date) -> None:
        self.seed = seed
        self.numbers, self.decoys = nhs_numbers(seed)
        self.capacity = len(self.numbers)
        self._ref = reference.toordinal()
        self._start = start.toordinal()

    def key(self, global_index: int) -> int:
        """The identity key of the n-th person of the run (wraps round past the capacity)."""
        return global_index % self.capacity

    def attrs(self, key: int) -> tuple[dict[str, list], int]:
        return identity_block(self.seed, key // BLOCK, self._ref, self._start), key % BLOCK

    def nhs(self, key: int) -> str:
        return str(int(self.numbers[key]))

    def decoy_nhs(self, index: int) -> str:
        return str(int(self.decoys[index % len(self.decoys)]))
