"""Reading and writing CLD return files (exact headers, dd/mm/yyyy, Windows-1252 without BOM, CSV or gzip)."""

from ascld.returns.reader import ReturnFile, TransportError, open_return
from ascld.returns.writer import (
    ReturnWriter,
    WrittenReturn,
    file_sha256,
    format_date,
    format_decimal,
    format_value,
    is_formula_like,
    quote_cell,
    write_return,
)

__all__ = [
    "ReturnFile", "TransportError", "open_return",
    "ReturnWriter", "WrittenReturn", "file_sha256", "format_date", "format_decimal", "format_value",
    "is_formula_like", "quote_cell",
    "write_return",
]
