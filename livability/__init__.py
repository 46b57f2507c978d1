"""Livability Score platform: shared core (warehouse, bucket, ingest, CLI)."""
