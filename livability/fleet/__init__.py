"""Fleet health: is every home reporting, how well, and how are the batteries.

sql     the fleet's queries, one GoogleSQL definition (SQLGlot transpiles it for DuckDB)
check   the thresholds, `check` (the queries through the Warehouse port), `FleetReport`
"""
