"""Letta's streaming-interface API over the core parser (``StreamingServerInterface``)."""
