"""The edge gateway: what runs in the home and sends its ThermoBeacons' readings.

thermobeacon  advertisement and GATT history bytes → typed values (no I/O)
config        the TOML configuration; the reference's properties import
agent         passive scan → one reading per sensor and window → outbox → sink
gatt          history backfill over GATT (bleak + bleak-retry-connector)
outbox        the durable SQLite (WAL) outbox and the gateway's state
sinks         Pub/Sub (the data plane's publisher) or HTTP to `livability serve`
simulated     bleak's scanner and client on a simulated radio; a virtual-time event loop
cli           `python -m edge` and `livability edge`
messages      hourly batches of rows as Pub/Sub messages (the demo's weather poller)
See edge/README.md.
"""
