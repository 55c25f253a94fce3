"""The scheduler's view of its LXD servers: one read per server per ``cache_ttl`` seconds.

Stale servers are read in parallel, each by one caller at a time: while it reads, concurrent
callers keep answering from the previous state (stale by less than one more TTL) instead of
queueing behind the read; they wait only when there is no state yet or it is older than that.
A server that cannot be read is kept as a failed :class:`ServerState`
(``ok=False`` with the reason) for the same TTL, so a dead server costs one timeout per TTL,
and it is logged and counted, never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor

from .config import HostConfig, Settings
from .logs import log
from .lxd import LxdClient, LxdError, ServerState

LOG = logging.getLogger("lxd_multi_scheduler.inventory")

Reader = Callable[[], ServerState]


class _Entry:
    """Cache slot of one server: its last state and a lock that makes reads single-flight."""

    def __init__(self, name: str, url: str, reader: Reader):
        self.name = name
        self.url = url
        self.reader = reader
        self.lock = threading.Lock()
        self.state: ServerState | None = None
        self.expires = 0.0  # time.monotonic()


class Inventory:
    """Cached states of the configured servers.

    ``readers`` maps a server name to a callable returning a fresh :class:`ServerState`; by default
    (see :meth:`from_settings`) that is an :class:`LxdClient` read.
    """

    def __init__(self, readers: dict[str, tuple[str, Reader]], ttl: float, on_read: Callable[[ServerState], None] | None = None):
        self.ttl = ttl
        self._entries = {name: _Entry(name, url, reader) for name, (url, reader) in readers.items()}
        self._on_read = on_read
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(32, 2 * len(self._entries))), thread_name_prefix="lxd-read")
        self._clients: list[LxdClient] = []

    @classmethod
    def from_settings(cls, settings: Settings, on_read: Callable[[ServerState], None] | None = None) -> Inventory:
        """One :class:`LxdClient` per configured host."""
        readers: dict[str, tuple[str, Reader]] = {}
        clients = []
        defaults = settings.container_without_limits
        for host in settings.hosts:
            client = _client(host, settings.lxd_timeout, settings.lxd_insecure_skip_verify)
            clients.append(client)
            readers[host.label] = (host.url, _reader(client, defaults.cpu, defaults.memory))
        inventory = cls(readers, settings.cache_ttl, on_read)
        inventory._clients = clients
        return inventory

    @property
    def names(self) -> list[str]:
        """Server names in configuration order."""
        return list(self._entries)

    def cached(self) -> list[ServerState]:
        """The last known states, without reading anything (servers never read are left out)."""
        return [entry.state for entry in self._entries.values() if entry.state is not None]

    def snapshot(self, names: Collection[str] | None = None) -> list[ServerState]:
        """Current states of all servers, or of those in ``names`` (in configuration order).

        Those whose cached state is older than the TTL are read first; servers outside ``names`` are not read.
        """
        entries = [entry for entry in self._entries.values() if names is None or entry.name in names]
        now = time.monotonic()
        stale = [entry for entry in entries
                 if (entry.state is None or entry.expires <= now) and (self._must_wait(entry, now) or not entry.lock.locked())]
        if len(stale) == 1:
            self._refresh(stale[0])
        elif stale:
            list(self._pool.map(self._refresh, stale))
        return [entry.state for entry in entries]

    def invalidate(self) -> None:
        """Forget every cached state (the next snapshot reads all servers)."""
        for entry in self._entries.values():
            entry.expires = 0.0

    def close(self) -> None:
        """Stop the read pool and close HTTP sessions."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for client in self._clients:
            client.close()

    def _must_wait(self, entry: _Entry, now: float) -> bool:
        """Whether a caller must wait for a read in progress (no state, or one too old to answer from)."""
        return entry.state is None or entry.expires + self.ttl <= now

    def _refresh(self, entry: _Entry) -> None:
        # While one caller reads, the others keep using the previous state instead of queueing
        # behind the read - unless there is none yet or it is more than one TTL past its expiry.
        if not entry.lock.acquire(blocking=self._must_wait(entry, time.monotonic())):
            return
        try:
            self._read(entry)
        finally:
            entry.lock.release()

    def _read(self, entry: _Entry) -> None:
        if entry.state is not None and entry.expires > time.monotonic():
            return  # another caller read it while we waited
        start = time.monotonic()
        try:
            state = entry.reader()
        except LxdError as exc:
            state = ServerState(name=entry.name, url=entry.url, ok=False, error=str(exc), fetched_at=time.time(),
                                duration=time.monotonic() - start)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # one server must never break the others
            LOG.exception("unexpected error reading %s", entry.name)
            state = ServerState(name=entry.name, url=entry.url, ok=False, error=f"unexpected error: {exc}",
                                fetched_at=time.time(), duration=time.monotonic() - start)
        was_ok = entry.state.ok if entry.state else None
        entry.state = state
        entry.expires = time.monotonic() + self.ttl
        if state.ok:
            level = logging.INFO if was_ok is False else logging.DEBUG
            log(LOG, level, "read LXD server", event="lxd_read", host=state.name, ok=True, cores_total=state.total_cores,
                cores_used=state.used_cores, memory_total_mib=state.total_memory, memory_used_mib=state.used_memory,
                instances=len(state.instances), duration_ms=round(state.duration * 1000, 1))
        else:
            log(LOG, logging.WARNING, "LXD server unreachable, skipped", event="lxd_read", host=state.name, ok=False, error=state.error,
                duration_ms=round(state.duration * 1000, 1))
        if self._on_read:
            self._on_read(state)


def _client(host: HostConfig, timeout: float, insecure_skip_verify: bool) -> LxdClient:
    return LxdClient(host.label, host.url, host.client_cert, host.client_key, server_cert=host.server_cert,
                     ca_cert=host.ca_cert, timeout=timeout, insecure_skip_verify=insecure_skip_verify)


def _reader(client: LxdClient, cores: int, memory: int) -> Reader:
    return lambda: client.read(container_cores=cores, container_memory=memory)
