"""Helpers the test folders share: paths, Pub/Sub deliveries, a gRPC Publisher stand-in."""
