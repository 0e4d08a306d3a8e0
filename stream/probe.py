"""Reaching a Kafka broker: addresses, and a readiness probe that needs no client library.

:func:`wait_for_broker` blocks until a broker answers a raw ApiVersions request over a plain
socket: no aiokafka and no event loop involved, so it works from sync code, from inside a
running event loop and before any client is configured. :class:`BrokerError` is what every
broker helper of orbitlink raises (:mod:`~orbitlink.stream.admin`,
:mod:`~orbitlink.stream.tansu`).

::

    wait_for_broker("127.0.0.1:9092", timeout_s=30.0)
    bootstrap_from_url("kafka://127.0.0.1:9092")    # -> '127.0.0.1:9092'
"""

from __future__ import annotations

import socket
import ssl
import struct
import time

__all__ = ["BrokerError", "bootstrap_from_url", "probe_api_versions", "wait_for_broker"]

_API_VERSIONS_KEY = 18


class BrokerError(RuntimeError):
    """The broker could not be started, reached, or asked to do something."""


def bootstrap_from_url(url: str) -> str:
    """``'kafka://host:port[;kafka://host2:port2]'`` or ``'host:port'`` -> ``'host:port[,...]'``.

    Faust names brokers as URLs (``kafka://127.0.0.1:9092``); aiokafka wants a bootstrap list.
    A missing port means Kafka's 9092.
    """
    hosts = []
    for part in url.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            scheme, part = part.split("://", 1)
            if scheme not in ("kafka", "kafka+ssl", "aiokafka", "tcp"):
                raise ValueError(f"broker URL {url!r}: unsupported scheme {scheme!r}")
        part = part.rstrip("/")
        if ":" not in part:
            part = f"{part}:9092"
        host, port = part.rsplit(":", 1)
        if not host or not port.isdigit():
            raise ValueError(f"broker URL {url!r}: expected host:port, got {part!r}")
        hosts.append(f"{host}:{port}")
    if not hosts:
        raise ValueError(f"broker URL {url!r} names no host")
    return ",".join(hosts)


def _split_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    return [
        (h, int(p)) for h, p in (x.rsplit(":", 1) for x in bootstrap_from_url(bootstrap).split(","))
    ]


def _api_versions_request(correlation_id: int, client_id: bytes = b"orbitlink-probe") -> bytes:
    # Request header v1: api_key, api_version, correlation_id, client_id; ApiVersions v0 body is
    # empty. v0 is answered by every broker version, so no version negotiation is needed.
    header = struct.pack(">hhih", _API_VERSIONS_KEY, 0, correlation_id, len(client_id)) + client_id
    return struct.pack(">i", len(header)) + header


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection mid-response")
        buf.extend(chunk)
    return bytes(buf)


def probe_api_versions(
    host: str, port: int, timeout_s: float, *, ssl_context: ssl.SSLContext | None = None
) -> int:
    """One ApiVersions v0 exchange; returns how many API keys the broker supports.

    With ``ssl_context`` the exchange goes over TLS (a ``kafka+ssl://`` listener; ApiVersions
    needs no SASL login). Raises ``OSError`` (``ConnectionError`` and ``ssl.SSLError``
    included) or ``struct.error`` when nobody answers or the answer is not Kafka's.
    """
    correlation_id = int(time.monotonic_ns() & 0x7FFFFFFF)
    with socket.create_connection((host, port), timeout=timeout_s) as raw:
        sock = raw if ssl_context is None else ssl_context.wrap_socket(raw, server_hostname=host)
        sock.sendall(_api_versions_request(correlation_id))
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        body = _recv_exactly(sock, size)
    got_id, error_code, n_apis = struct.unpack(">ihi", body[:10])
    if got_id != correlation_id:
        raise ConnectionError(
            f"ApiVersions answer has correlation id {got_id}, sent {correlation_id}"
        )
    if error_code != 0:
        raise ConnectionError(f"ApiVersions answered with Kafka error code {error_code}")
    return n_apis


def wait_for_broker(
    bootstrap: str,
    timeout_s: float = 30.0,
    *,
    interval_s: float = 0.1,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Block until a broker in ``bootstrap`` answers a Kafka ApiVersions request (over TLS
    with ``ssl_context``).

    ``bootstrap`` is ``'host:port[,host:port]'`` or a ``kafka://`` URL. Raises
    :class:`BrokerError` naming the last failure when none answers within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    addresses = _split_bootstrap(bootstrap)
    while True:
        for host, port in addresses:
            try:
                probe_api_versions(
                    host, port, timeout_s=min(2.0, max(timeout_s, 0.1)), ssl_context=ssl_context
                )
                return
            except (OSError, ConnectionError, struct.error) as exc:
                last_error = exc
        if time.monotonic() >= deadline:
            raise BrokerError(
                f"no Kafka broker answered at {bootstrap} within {timeout_s:.1f} s "
                f"(last error: {last_error!r})"
            )
        time.sleep(interval_s)
