"""DataPushSocket: a UDP server that takes values pushed to it (PyExpLabSys's push protocol)."""

from __future__ import annotations

import logging
import queue as queue_module
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from labnode.values import DEFAULT_PUSH_PORT, check_port

from .access import AllowList
from .guard import ErrorRateLimiter
from .push_protocol import DEFAULT_MAX_REQUEST, Address, DataPushHandler, check_push_arguments
from .system_status import system_status
from .udp_bind import UdpServing

log = logging.getLogger(__name__)

#: The default bound of the queue of ``enqueue`` and ``callback_async``: a full queue refuses
#: new values with ``ERROR#`` (nothing stored) until the consumer catches up.
DEFAULT_QUEUE_SIZE = 1000
#: Bytes read per datagram: any UDP datagram fits, so nothing is ever cut short.
RECEIVE_BUFFER = 65535
#: Datagrams that one serve_pending() call answers at most, so its caller gets its thread back.
MAX_PENDING_SERVED = 64


class _CallbackWorker(threading.Thread):
    """Calls ``callback(values)`` for each item of a queue; survives the callback's exceptions."""

    def __init__(self, items: queue_module.Queue, callback: Callable[[dict], Any], owner) -> None:
        super().__init__(name=f"DataPushSocket callback {owner.name!r}", daemon=True)
        self.items = items
        self.callback = callback
        self.owner = owner
        self.stopping = False
        self.wake = object()

    def run(self) -> None:
        counts = self.owner.handler.counts
        while not self.stopping:
            values = self.items.get()
            if values is self.wake or not isinstance(values, dict):
                continue  # a wake-up for stop(), maybe one left over from an earlier start
            try:
                self.callback(values)
            except Exception:
                counts.callback_errors += 1
                log.exception(
                    "push socket %r: callback failed for %r (error %d); carrying on",
                    self.owner.name,
                    values,
                    counts.callback_errors,
                )

    def stop(self, timeout: float) -> None:
        self.stopping = True
        try:
            self.items.put(self.wake, block=False)
        except queue_module.Full:
            pass  # the worker is busy: it sees `stopping` after the callback it is running
        self.join(timeout)
        if self.is_alive():
            log.warning("push socket callback still running after %.1f s; left behind", timeout)


class DataPushSocket(UdpServing):
    """Take values pushed by clients over UDP: ``json_wn#{...}`` or ``raw_wn#name:type:v``.

    PyExpLabSys's ``DataPushSocket(name, port, action, queue, callback, return_format)``, plus
    ``host`` (the address to bind, '' for all interfaces) and ``allow`` (client networks in CIDR;
    None serves everyone, anything else is refused with ``ERROR#`` before any work). Actions:
    ``store_last`` keeps ``last``/``updated`` only; ``enqueue`` also puts each dict on
    ``queue`` (bounded to ``queue_size`` when not given: full refuses new values with
    ``ERROR#``); ``callback_async`` calls ``callback`` from a thread that survives its
    exceptions (logged and counted); ``callback_direct`` calls it while serving and replies
    with its return value in ``return_format``. ``check`` (refuse values before they are
    recorded) and ``audit`` (hear of every write attempt): see :class:`DataPushHandler`.
    """

    status_provider_key = "owner"

    def __init__(
        self,
        name: str,
        port: int = DEFAULT_PUSH_PORT,
        action: str = "store_last",
        queue: Any = None,
        callback: Callable[[dict], Any] | None = None,
        return_format: str = "json",
        host: str = "",
        *,
        allow: Iterable[str] | AllowList | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_request: int = DEFAULT_MAX_REQUEST,
        check: Callable[[dict, Address], None] | None = None,
        audit: Callable[[Address, bytes, bytes | None], None] | None = None,
        limiter: ErrorRateLimiter | None = None,
    ) -> None:
        check_push_arguments(action, queue, callback, return_format)
        check_port(port)
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"queue_size={queue_size!r}: give a whole number of values >= 1")
        if not 0 < max_request <= RECEIVE_BUFFER:
            raise ValueError(f"max_request={max_request!r}: give bytes from 1 to {RECEIVE_BUFFER}")
        if allow is not None and not isinstance(allow, AllowList):
            allow = AllowList(allow)
        self.name = str(name)
        self.host = host
        self.requested_port = port
        self.port: int | None = None if port == 0 else port
        self.action = action
        if (action == "enqueue" and queue is None) or action == "callback_async":
            queue = queue_module.Queue(maxsize=queue_size)
        self.handler = DataPushHandler(
            self.name,
            action,
            queue,
            callback if action == "callback_direct" else None,
            return_format,
            check=check,
            audit=audit,
            status=self._status,
            allow=allow,
            max_request=max_request,
            limiter=limiter,
        )
        self._callback = callback
        self._worker: _CallbackWorker | None = None
        self._init_serving()

    # -- values -------------------------------------------------------------------------------
    @property
    def queue(self) -> Any:
        """The queue of ``enqueue`` and ``callback_async`` (None for the other actions)."""
        return self.handler.queue

    @property
    def last(self) -> tuple[float | None, dict | None]:
        """``(time, values)`` of the last accepted push; ``(None, None)`` before any."""
        return self.handler.last

    @property
    def updated(self) -> tuple[float | None, dict]:
        """``(time, values)``: the newest value of every name pushed so far."""
        return self.handler.updated

    def set_last_to_none(self) -> None:
        """Forget the last push."""
        self.handler.set_last_to_none()

    def clear_updated(self) -> None:
        """Forget every value pushed so far."""
        self.handler.clear_updated()

    @property
    def allow(self) -> AllowList | None:
        """The client networks served, or None for everyone."""
        return self.handler.allow

    # -- serving ------------------------------------------------------------------------------
    def _serving_started(self) -> None:
        self.handler.own_address = (self.host, self.port)
        if self.action == "callback_async":
            self._worker = _CallbackWorker(self.handler.queue, self._callback, self)
            self._worker.start()
        log.info("push socket %r on udp %s:%s (%s)", self.name, self.host, self.port, self.action)

    def _serving_stopped(self) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=2.0)
            self._worker = None
        log.info("push socket %r stopped; udp port %s closed", self.name, self.port)

    def _serve(self, sock: socket.socket) -> None:
        recvfrom = sock.recvfrom
        answer = self._answer
        while True:
            try:
                datagram, address = recvfrom(RECEIVE_BUFFER)
            except OSError:
                if self._stopping:
                    break
                continue
            if self._stopping:
                break
            answer(datagram, address)

    def serve_pending(self, limit: int = MAX_PENDING_SERVED) -> int:
        """Answer the datagrams waiting now, at most ``limit``, without blocking; return how many.

        For a socket started with ``start(thread=False)``: its owner calls this from its own
        thread when ``select`` finds :meth:`fileno` readable.
        """
        sock = self._sock
        if sock is None:
            return 0
        served = 0
        while served < limit:
            try:
                datagram, address = sock.recvfrom(RECEIVE_BUFFER)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:  # e.g. an ICMP error of an earlier reply; keep serving
                log.debug("push socket %r: receive failed: %s", self.name, error)
                break
            served += 1
            self._answer(datagram, address)
        return served

    def _answer(self, datagram: bytes, address: Address) -> None:
        """Answer one datagram; the reply goes out before the write is audited (logged)."""
        try:
            self.handler.handle(datagram, address, send=self._send)
        except Exception:  # never let one datagram stop the socket
            log.exception("failed to answer %r from %s", datagram[:100], address)

    def _send(self, reply: bytes, address: Address) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.sendto(reply, address)
        except OSError as error:  # the client's address went away; keep serving the rest
            log.debug("could not reply to %s: %s", address, error)

    # -- status -------------------------------------------------------------------------------
    def _status(self, now: float) -> dict[str, Any]:
        host_facts = system_status()
        host_facts.pop("hostname", None)  # a push socket tells no one the host's identity
        status: dict[str, Any] = {
            "name": self.name,
            "type": "push",
            "port": self.port,
            "uptime": self.uptime(now),
            "allow": None if self.allow is None else [str(n) for n in self.allow.networks],
            **self.handler.status(now),
            "system_status": host_facts,
            "socket_server_status": {
                str(self.port): {"name": self.name, "type": "push", "status": "OK"}
            },
        }
        return self._with_provided_status(status)

    def __repr__(self) -> str:
        return (
            f"DataPushSocket({self.name!r}, port={self.port}, action={self.action!r}, "
            f"host={self.host!r})"
        )
