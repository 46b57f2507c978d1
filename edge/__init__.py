"""The edge gateway: what runs in the home and sends its ThermoBeacons' readings.

thermobeacon  advertisement and GATT history bytes → typed values (no I/O)
config        the TOML configuration; the reference's properties import
clock         monotonic windows; wall time only when trustworthy (kernel flag, sanity rule)
window        a window's bounded summary per sensor; the agreeing-majority estimate
readings      a reading, its row, the gateway's counters
agent         passive scan → one reading per sensor and window → outbox
sender        outbox → sink in its own task: backoff, Retry-After, set aside what is refused
history       sensor boots by uptime; gaps filled from the sensors' memory
gatt          history backfill over GATT (bleak + bleak-retry-connector)
outbox        the durable SQLite (WAL) outbox and the gateway's state (outbox_model: tables)
sinks         Pub/Sub (the data plane's publisher) or HTTP to `livability serve`
cli           `python -m edge` and `livability edge`
messages      hourly batches of rows as Pub/Sub messages (the demo's weather poller)
The simulated radio and virtual-time loop live in `livability.sim.radio`. See edge/README.md.
"""
