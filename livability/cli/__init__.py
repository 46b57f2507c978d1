"""`livability`: the operator's command line (`app.main`), one module per command.

It runs against whatever the settings name: the embedded default (DuckDB, a folder) or
BigQuery and Cloud Storage. Never shipped in a function bundle or the edge image.
"""
