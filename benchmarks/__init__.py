"""Benchmarks: cold imports, AWS calls per operation, artefact sizes, dev-server start (``make bench``)."""
