"""The edge gateway: what runs in the home and publishes readings to Pub/Sub."""
