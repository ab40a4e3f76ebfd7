"""The sans-I/O core: bytes and chunks in, typed agent messages out.

Everything here is pure and push-driven: no files, network, clocks, threads, asyncio or
printing. Chunk and message schemas, the incremental argument reader, the parser, SSE /
NDJSON / JSON-array / AWS event-stream framing, content decoding (gzip, deflate, br, zstd),
provider detection and adapters, the in-memory cassette model and the replay result types live
here. ``tests/test_layers.py`` keeps it so.
"""
