"""Cassette files: reading and writing every format, request matching and secret scrubbing."""
