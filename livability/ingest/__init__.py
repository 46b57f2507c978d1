"""Ingest: Pub/Sub messages in, warehouse rows or dead letters out.

messages      decode a push / CloudEvent body (or say why it is no JSON) and route it
rows          validate, key and write rows; dead-letter what is refused, with the reason
dead_letters  list dead letters and replay them through the same rules
"""
