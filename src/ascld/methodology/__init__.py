"""Methodology reference tables as data (main tables; each row cites main-tables.md)."""

from ascld.methodology.loader import MainTablesMethod, load_main_tables_method

__all__ = ["MainTablesMethod", "load_main_tables_method"]
