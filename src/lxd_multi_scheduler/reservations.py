"""Short reservations: room promised by ``/schedule`` that LXD does not show yet.

A reservation counts against its host until it expires (``reservation_ttl``) or is released
(``DELETE /reservations/{id}``). A reservation that names its instance also stops counting for a
decision whose read of that host, begun after the reservation, shows the instance (LXD counts it
there); it is not deleted for that, since other decisions may still use an older read (see
``scheduler.reserved``).

Check-and-reserve must be atomic: the scheduler reads the active reservations, decides, and adds
its own inside :meth:`ReservationStore.locked`. A decision that reserves nothing (``reserve:
false``) only reads them, with :meth:`ReservationStore.summary`, and never waits for that lock.

- :class:`MemoryStore`: one process; a ``threading.Lock``.
- :class:`RedisStore`: several replicas; a Redis lock (``SET NX PX`` with a random token,
  released by a compare-and-delete script) around the decision, and every write is *fenced*: a
  Lua script stores the reservation only if the lock still holds this replica's token, so a
  replica that lost its lock (expired while it was paused) cannot write a decision another
  replica did not see. Each reservation is its own key with a Redis expiry, indexed by a set.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any


class StoreUnavailable(Exception):
    """The reservation store cannot be used right now (Redis down, lock not obtained in time)."""


@dataclasses.dataclass(frozen=True)
class Reservation:
    """Room promised on one host."""

    id: str
    host: str
    cores: int
    memory: int  # MiB
    created: float  # time.time()
    expires: float  # time.time()
    instance_name: str | None = None

    @classmethod
    def new(cls, host: str, cores: int, memory: int, ttl: float, instance_name: str | None = None) -> Reservation:
        """A reservation starting now."""
        now = time.time()
        return cls(uuid.uuid4().hex, host, cores, memory, now, now + ttl, instance_name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe view, with the seconds left."""
        data = dataclasses.asdict(self)
        data["expires_in"] = round(max(0.0, self.expires - time.time()), 3)
        return data


Totals = dict[str, tuple[int, int]]  # host -> (cores, MiB) held by active reservations


def summarize(reservations: list[Reservation]) -> tuple[Totals, list[Reservation]]:
    """Per-host totals of ``reservations``, and those among them that name an instance."""
    totals: Totals = {}
    for item in reservations:
        cores, memory = totals.get(item.host, (0, 0))
        totals[item.host] = (cores + item.cores, memory + item.memory)
    return totals, [item for item in reservations if item.instance_name]


class LockedView:
    """What the holder of the store's lock sees and may change.

    A decision needs only the per-host ``totals`` of the active reservations, and the ``named``
    ones (which stop counting for a read that shows their instance), so a store never has to hand
    over every reservation for every decision.
    """

    def __init__(self, totals: Totals, named: list[Reservation], add, release):
        self.totals = dict(totals)
        self.named = list(named)
        self._add = add
        self._release = release
        self._known = {item.id: item for item in named}

    def _count(self, item: Reservation, sign: int) -> None:
        cores, memory = self.totals.get(item.host, (0, 0))
        self.totals[item.host] = (cores + sign * item.cores, memory + sign * item.memory)

    def add(self, reservation: Reservation) -> None:
        """Store a reservation (visible to the next holder of the lock)."""
        self._add(reservation)
        self._count(reservation, 1)
        self._known[reservation.id] = reservation
        if reservation.instance_name:
            self.named.append(reservation)

    def release(self, ids: list[str]) -> None:
        """Drop reservations (a decision undoes its own when one of them could not be stored)."""
        if not ids:
            return
        self._release(ids)
        for rid in ids:
            item = self._known.pop(rid, None)
            if item is not None:
                self._count(item, -1)
        self.named = [item for item in self.named if item.id not in ids]


class ReservationStore(abc.ABC):
    """Interface of the two stores."""

    kind = ""

    @abc.abstractmethod
    def locked(self) -> AbstractContextManager[LockedView]:
        """Hold the store's lock; yield the active reservations."""

    @abc.abstractmethod
    def active(self) -> list[Reservation]:
        """Active reservations, without taking the lock (for reports)."""

    def summary(self) -> tuple[Totals, list[Reservation]]:
        """Per-host totals of the active reservations and the named ones, without taking the lock.

        What :meth:`locked` hands over, for a decision that reserves nothing: it must count the
        reservations but need not exclude concurrent ones (it promises no room).
        """
        return summarize(self.active())

    @abc.abstractmethod
    def release(self, ids: list[str]) -> int:
        """Drop reservations; return how many existed."""

    def check(self) -> None:
        """Raise :class:`StoreUnavailable` when the store cannot be used."""

    def close(self) -> None:
        """Release connections."""


class MemoryStore(ReservationStore):
    """Reservations of one process."""

    kind = "memory"

    def __init__(self):
        self._lock = threading.Lock()
        self._items: dict[str, Reservation] = {}

    def _prune(self) -> None:
        now = time.time()
        for rid in [rid for rid, r in self._items.items() if r.expires <= now]:
            del self._items[rid]

    @contextmanager
    def locked(self) -> Iterator[LockedView]:
        with self._lock:
            self._prune()
            yield LockedView(*summarize(list(self._items.values())), self._store, self._drop)

    def _store(self, reservation: Reservation) -> None:
        self._items[reservation.id] = reservation

    def _drop(self, ids: list[str]) -> int:
        return sum(self._items.pop(rid, None) is not None for rid in ids)

    def active(self) -> list[Reservation]:
        with self._lock:
            self._prune()
            return list(self._items.values())

    def summary(self) -> tuple[Totals, list[Reservation]]:
        with self._lock:  # in-process and held only for decisions: no polling, no other replica
            self._prune()
            return summarize(list(self._items.values()))

    def release(self, ids: list[str]) -> int:
        with self._lock:
            return self._drop(ids)


# KEYS[1] lock, KEYS[2] index set, KEYS[3] reservation key; ARGV token, id, json, ttl ms.
_FENCED_ADD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""
# KEYS[1] index set; ARGV item key prefix, now (epoch seconds). Returns {{host, cores, MiB, ...}, {json of named}}:
# the totals are computed next to the data, so a decision costs the same with 5 or 5000 reservations.
# (Reservation keys are derived from the index, so this needs a single Redis, not Redis Cluster.)
_SUMMARY = """
local totals, order, named = {}, {}, {}
local now = tonumber(ARGV[2])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local raw = redis.call('GET', ARGV[1] .. id)
  if not raw then
    redis.call('SREM', KEYS[1], id)
  else
    local item = cjson.decode(raw)
    if item.expires > now then
      if not totals[item.host] then totals[item.host] = {0, 0}; order[#order + 1] = item.host end
      totals[item.host][1] = totals[item.host][1] + item.cores
      totals[item.host][2] = totals[item.host][2] + item.memory
      if item.instance_name ~= cjson.null then named[#named + 1] = raw end
    end
  end
end
local flat = {}
for _, host in ipairs(order) do
  flat[#flat + 1] = host; flat[#flat + 1] = totals[host][1]; flat[#flat + 1] = totals[host][2]
end
return {flat, named}
"""
# KEYS[1] lock; ARGV token.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore(ReservationStore):
    """Reservations shared by every replica that uses the same Redis and prefix."""

    kind = "redis"

    def __init__(self, url: str, prefix: str = "lxd-multi-scheduler", lock_ttl: float = 10.0, lock_wait: float = 10.0,
                 timeout: float = 5.0):
        import redis  # pylint: disable=import-outside-toplevel  # only needed when REDIS_URL is set

        self._errors = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._lock_key = f"{prefix}:lock"
        self._index = f"{prefix}:reservations"
        self._item_prefix = f"{prefix}:reservation:"
        self._lock_ttl_ms = int(lock_ttl * 1000)
        self._lock_wait = lock_wait
        self._local = threading.Lock()  # threads of this replica queue here, not by polling Redis
        self._add_script = self._client.register_script(_FENCED_ADD)
        self._summary_script = self._client.register_script(_SUMMARY)
        self._unlock_script = self._client.register_script(_UNLOCK)

    def _key(self, rid: str) -> str:
        return self._item_prefix + rid

    def _call(self, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(f"Redis: {exc}") from None

    def _load(self) -> list[Reservation]:
        ids = sorted(member.decode() for member in self._call(self._client.smembers, self._index))
        if not ids:
            return []
        values = self._call(self._client.mget, [self._key(rid) for rid in ids])
        found, gone = [], []
        for rid, value in zip(ids, values):
            if value is None:
                gone.append(rid)  # the key expired; drop it from the index
            else:
                found.append(Reservation(**json.loads(value)))
        if gone:
            self._call(self._client.srem, self._index, *gone)
        now = time.time()
        return [r for r in found if r.expires > now]

    def _summary(self) -> tuple[Totals, list[Reservation]]:
        flat, named = self._call(self._summary_script, keys=[self._index], args=[self._item_prefix, repr(time.time())])
        totals = {flat[i].decode(): (int(flat[i + 1]), int(flat[i + 2])) for i in range(0, len(flat), 3)}
        return totals, [Reservation(**json.loads(raw)) for raw in named]

    @contextmanager
    def locked(self) -> Iterator[LockedView]:
        deadline = time.monotonic() + self._lock_wait
        if not self._local.acquire(timeout=self._lock_wait):
            raise StoreUnavailable(f"the reservation lock was not free within {self._lock_wait:g} s")
        try:
            with self._redis_lock(deadline) as view:
                yield view
        finally:
            self._local.release()

    @contextmanager
    def _redis_lock(self, deadline: float) -> Iterator[LockedView]:
        token = secrets.token_hex(16)
        delay = 0.001
        while not self._call(self._client.set, self._lock_key, token, nx=True, px=self._lock_ttl_ms):
            if time.monotonic() >= deadline:
                raise StoreUnavailable(f"the Redis reservation lock was not free within {self._lock_wait:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.005)
        try:
            yield LockedView(*self._summary(), lambda r: self._fenced_add(token, r), self._drop)
        finally:
            try:
                self._unlock_script(keys=[self._lock_key], args=[token])
            except self._errors:
                pass  # the lock expires on its own

    def _fenced_add(self, token: str, reservation: Reservation) -> None:
        ttl_ms = max(1, int((reservation.expires - time.time()) * 1000))
        payload = json.dumps(dataclasses.asdict(reservation))
        stored = self._call(self._add_script, keys=[self._lock_key, self._index, self._key(reservation.id)],
                            args=[token, reservation.id, payload, ttl_ms])
        if not stored:
            raise StoreUnavailable("the Redis reservation lock expired before the reservation was written; nothing was reserved")

    def _drop(self, ids: list[str]) -> int:
        if not ids:
            return 0
        pipe = self._client.pipeline()
        pipe.delete(*[self._key(rid) for rid in ids])
        pipe.srem(self._index, *ids)
        deleted = self._call(pipe.execute)[0]
        return deleted

    def active(self) -> list[Reservation]:
        return self._load()

    def summary(self) -> tuple[Totals, list[Reservation]]:
        return self._summary()  # one Lua script: an atomic snapshot, without the lock

    def release(self, ids: list[str]) -> int:
        return self._drop(ids)

    def check(self) -> None:
        self._call(self._client.ping)

    def close(self) -> None:
        self._client.close()


def make_store(redis_url: str | None, prefix: str) -> ReservationStore:
    """Redis when a URL is given, memory otherwise."""
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore()
