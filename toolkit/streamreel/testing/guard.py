"""The network guard: a replay-only test may reach loopback and nothing else.

The recorder intercepts the HTTP clients it knows; a client it does not know (a raw socket,
websockets, aiobotocore's aiohttp session, a library of the user's) would reach the provider
silently. So the guard sits one level lower, at the socket: while a test is guarded,

* ``socket.socket.connect`` / ``connect_ex`` / ``sendto`` refuse any IPv4 or IPv6 address that is
  not loopback (``127.0.0.0/8``, ``::1``, the unspecified address, which Linux routes to this
  host) and any host name but ``localhost``, before the system call, so no packet leaves;
* ``socket.getaddrinfo`` refuses to resolve a name other than ``localhost``, since the lookup
  itself would send a DNS query; a numeric address resolves (it sends nothing) and is judged
  when connected to.

Everything else that opens a connection in Python comes down to these: ``socket.create_connection``,
``asyncio``'s ``loop.create_connection``/``sock_connect`` (the selector loop calls the socket's
``connect``), and so ``httpx``, ``urllib3``, ``aiohttp`` and ``websockets``. Native code that opens
its own sockets (gRPC's C core, ``aiodns`` lookups) does not pass through Python's ``socket`` and
is not seen; the README says so.

The refusal raises :class:`~streamreel.core.errors.NetworkBlockedError`, which is not an
``OSError``, so clients neither retry it nor wrap it as a transient connection error; and
:func:`refusals` lets the plugin fail the test even if the client swallowed the exception.
Installed once, on the first guarded test; with no test guarded the patched calls cost one
attribute test.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streamreel.core.errors import NetworkBlockedError

__all__ = ["Guard", "guard", "guarded", "install", "refusals", "release"]

_LOCAL_NAMES = frozenset(
    {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)


@dataclass(slots=True)
class Guard:
    """What the running test may reach, and what it was refused."""

    test: str
    reason: str
    allowed: frozenset[str] = frozenset()
    refused: list[str] = field(default_factory=list)

    def check_host(self, host: object, port: object = None) -> None:
        if host is None or _is_local(host) or _name(host) in self.allowed:
            return
        self._refuse(host, port)

    def check_address(self, address: object) -> None:
        if isinstance(address, tuple) and len(address) >= 2:
            self.check_host(address[0], address[1])
        # Anything else is a Unix socket path, a netlink pair...: local by nature.

    def check_lookup(self, host: object, port: object) -> None:
        if host is None or _is_numeric(host):
            return
        self.check_host(host, port)

    def _refuse(self, host: object, port: object) -> None:
        shown = _name(host) + (f":{port}" if port not in (None, "", 0) else "")
        self.refused.append(shown)
        raise NetworkBlockedError(
            f"cannot connect to {shown} from {self.test}: expected only loopback connections "
            f"while {self.reason}, got a connection beyond it (refused before anything was "
            "sent); do replay the traffic through streamreel_record, allow the host with "
            "@pytest.mark.cassette(..., allow_hosts=[...]) or the streamreel_allow_hosts ini "
            "key, or run with --streamreel-network allow"
        )


_current: Guard | None = None
_outer: list[Guard | None] = []
"""The guards :func:`guard` replaced, restored by :func:`release`: a pytest run started inside
a test (pytester) guards its own tests and then hands the outer test its guard back."""
_installed = False


def guard(test: str, *, reason: str, allowed: Iterable[str] = ()) -> Guard:
    """Guard the network for ``test`` until :func:`release`; returns the guard."""
    global _current
    install()
    _outer.append(_current)
    _current = Guard(test, reason, frozenset(_name(host) for host in allowed))
    return _current


def release() -> list[str]:
    """Stop guarding (restore the guard this one replaced); the hosts refused since
    :func:`guard`."""
    global _current
    refused = list(_current.refused) if _current is not None else []
    _current = _outer.pop() if _outer else None
    return refused


def guarded() -> str | None:
    """The test being guarded, or None when the network is open."""
    return _current.test if _current is not None else None


def refusals() -> list[str]:
    """The hosts refused so far to the test being guarded."""
    return list(_current.refused) if _current is not None else []


def install() -> None:
    """Patch the socket module's connecting calls (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if _current is not None and _inet(self):
            _current.check_address(address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if _current is not None and _inet(self):
            _current.check_address(address)
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if _current is not None and _inet(self) and args:
            _current.check_address(args[-1])
        return original_sendto(self, data, *args)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if _current is not None:
            _current.check_lookup(host, port)
        return original_getaddrinfo(host, port, *args, **kwargs)

    _patch(socket.socket, "connect", connect)
    _patch(socket.socket, "connect_ex", connect_ex)
    _patch(socket.socket, "sendto", sendto)
    socket.getaddrinfo = getaddrinfo


def _patch(cls: type, name: str, function: Callable[..., Any]) -> None:
    function.__name__ = name
    function.__qualname__ = f"{cls.__name__}.{name}"
    setattr(cls, name, function)


def _inet(sock: socket.socket) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6)


def _name(host: object) -> str:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return str(host).strip("[]").lower().rstrip(".")


def _address(host: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = _name(host).split("%", 1)[0]  # an IPv6 zone id ("fe80::1%eth0")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_numeric(host: object) -> bool:
    return _address(host) is not None


def _is_local(host: object) -> bool:
    name = _name(host)
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    address = _address(name)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified
