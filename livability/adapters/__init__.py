"""Adapters: one module per backend behind the ports of `livability.ports`.

Imported lazily by the factories in `livability.settings`, so a process loads only the
client library of the backend it is configured for (no DuckDB in a BigQuery function).
"""
