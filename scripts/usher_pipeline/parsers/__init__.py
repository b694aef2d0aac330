"""Parsers for the upstream file formats, shared by snapshot and live mode.

Every parser validates the header it relies on and raises ``SourceFormatError`` naming the source and
file on schema drift, an HTML error page or a truncated file; none returns a partial table.
"""
