"""The worker that runs Letta 0.7.8's own ``StreamingServerInterface`` in Letta's virtualenv.

This file is run as a script by the Python of the virtualenv that ``streamreel install-letta``
builds; it is never imported by streamreel (Letta pins ``openai<2``, which the project's own
environment cannot hold). It needs only the standard library and the ``letta`` package.

Letta's package ``__init__`` imports its whole client and server (databases, web framework,
telemetry), none of which the interface module needs, so the worker registers an empty
``letta`` package over the installed folder and imports just
``letta.server.rest_api.interface`` and what that module imports.

The protocol is one JSON object a line in each direction, one reply per request:
``{"op": "new", "settings": {...}}`` creates an interface and returns its ``handle``; the
lifecycle calls (``stream_start``, ``chunk``, ``stream_end``, ``step_complete``,
``step_yield``, ``function_message``, ``force_inner_thoughts``, ``close``) name a handle. Each
reply carries the messages Letta's async generator yielded during the call, as Letta's server
serializes them (``model_dump`` then ``json.dumps``), and an ``error`` when Letta raised, so
nothing produced before a fault is lost.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import types
from datetime import datetime
from typing import Any


def _import_interface() -> Any:
    spec = importlib.util.find_spec("letta")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the letta package is not installed in this virtualenv")
    # An empty package object stands in for letta/__init__.py, so importing a submodule does
    # not start Letta's client and server imports.
    package = types.ModuleType("letta")
    package.__path__ = list(spec.submodule_search_locations)
    package.__version__ = "0.7.8"  # type: ignore[attr-defined]
    sys.modules["letta"] = package
    from letta.server.rest_api import interface

    return interface


class _Session:
    """One Letta interface, with its async generator consumed on the worker's loop."""

    def __init__(self, module: Any, loop: asyncio.AbstractEventLoop, settings: dict[str, Any]):
        self.module = module
        self.loop = loop
        self.interface = module.StreamingServerInterface(multi_step=True, **settings)
        self.collected: list[str] = []
        self.consumer = loop.create_task(self._consume())

    async def _consume(self) -> None:
        async for message in self.interface.get_generator():
            data = message.model_dump() if hasattr(message, "model_dump") else message
            self.collected.append(json.dumps(data, separators=(",", ":"), default=str))

    def take(self, wait: bool = False) -> list[str]:
        if wait:
            self.loop.run_until_complete(asyncio.wait_for(self.consumer, timeout=30))
        else:
            # Let the consumer run until it waits for more, as a server's event loop would.
            for _ in range(3):
                self.loop.run_until_complete(asyncio.sleep(0))
        taken, self.collected = self.collected, []
        return taken


def _chunk_call(session: _Session, request: dict[str, Any]) -> Any:
    chunk_type = session.module.ChatCompletionChunkResponse
    chunk = chunk_type(**request["chunk"])
    return session.interface.process_chunk(
        chunk,
        message_id=request["message_id"],
        message_date=datetime.fromisoformat(request["message_date"]),
        expect_reasoning_content=request["expect_reasoning_content"],
        name=request.get("name"),
        message_index=request["message_index"],
    )


def _function_message(session: _Session, request: dict[str, Any]) -> None:
    # Letta's server passes its tool message; the interface reads only these fields of it.
    record = request["record"]
    tool_message = types.SimpleNamespace(
        id=record["id"],
        created_at=datetime.fromisoformat(record["created_at"]),
        tool_call_id=record["tool_call_id"],
        name=record["name"],
        tool_returns=None,
        tool_calls=None,
    )
    session.interface.function_message(
        request["msg"], msg_obj=tool_message, chunk_index=request["chunk_index"]
    )


def _serve(reader: Any, writer: Any) -> None:
    module = _import_interface()
    loop = asyncio.new_event_loop()
    sessions: dict[int, _Session] = {}
    counter = 0
    writer.write(json.dumps({"ready": True, "version": "0.7.8"}) + "\n")
    writer.flush()
    for line in reader:
        request = json.loads(line)
        op = request["op"]
        reply: dict[str, Any] = {"messages": []}
        session: _Session | None = None
        try:
            if op == "new":
                counter += 1
                sessions[counter] = _Session(module, loop, request["settings"])
                reply["handle"] = counter
            else:
                session = sessions[request["handle"]]
                if op == "chunk":
                    returned = _chunk_call(session, request)
                    reply["returned"] = returned if isinstance(returned, str) else None
                elif op == "function_message":
                    _function_message(session, request)
                elif op == "force_inner_thoughts":
                    # Letta's Anthropic path sets this attribute on the interface it streams to.
                    session.interface.inner_thoughts_in_kwargs = True
                elif op == "close":
                    sessions.pop(request["handle"]).consumer.cancel()
                    session = None
                else:
                    getattr(session.interface, op)()
        except Exception as exc:
            reply["error"] = {"type": type(exc).__name__, "text": str(exc)}
        if session is not None:
            try:
                reply["messages"] = session.take(wait=op == "step_yield")
            except Exception as exc:
                reply["messages"] = session.collected
                reply.setdefault("error", {"type": type(exc).__name__, "text": str(exc)})
        writer.write(json.dumps(reply) + "\n")
        writer.flush()


def main() -> None:
    # The protocol owns the original stdout; anything Letta prints goes to stderr instead.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    _serve(sys.stdin, protocol)


if __name__ == "__main__":
    main()
