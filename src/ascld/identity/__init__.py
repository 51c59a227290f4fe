"""Identity rules: NHS numbers, postcodes, pseudonymisation keys and tracing."""

from ascld.identity.nhs_number import check_nhs_number, is_valid_nhs_number, make_nhs_number
from ascld.identity.postcode import check_postcode, normalise_postcode, postcode_sector

__all__ = [
    "check_nhs_number", "check_postcode", "is_valid_nhs_number", "make_nhs_number", "normalise_postcode",
    "postcode_sector",
]
