"""Identity rules: NHS numbers, postcodes, pseudonymisation keys and tracing."""

from ascld.identity.nhs_number import check_nhs_number, is_valid_nhs_number, make_nhs_number
from ascld.identity.postcode import check_postcode, normalise_postcode, postcode_sector
from ascld.identity.postcodes import PostcodeLookup, load_postcode_lookup
from ascld.identity.pseudonym import PseudoKey, PseudoKeyError, Pseudonymiser, la_person_domain, load_key
from ascld.identity.tracing import TRACE_OUTCOMES, DemographicIndex, load_demographic_index, trace_people

__all__ = [
    "TRACE_OUTCOMES", "DemographicIndex", "PostcodeLookup", "PseudoKey", "PseudoKeyError", "Pseudonymiser",
    "check_nhs_number", "check_postcode", "is_valid_nhs_number", "la_person_domain", "load_demographic_index",
    "load_key", "load_postcode_lookup", "make_nhs_number", "normalise_postcode", "postcode_sector",
    "trace_people",
]
