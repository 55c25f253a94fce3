"""The simulator's state: tables of model objects, indexes, caches and persistence.

Everything lives in memory; with ``--state FILE`` every change is written
through to SQLite at the end of the request that made it (one transaction per
request), so a restart loses nothing, pending timed transitions included.

Changes go through ``add``/``remove``/``touch`` so that three things stay right:
the set of records to write, the per-machine JSON cache used by
``GET /machines/`` (a machine's JSON depends on its interfaces and addresses,
and on the zones, pools, subnets... it points at) and the lazily rebuilt
interface/address indexes.

Adding or changing an interface or address marks those indexes stale; removing
one does not: ids are never reused, and every index reader skips ids that are
no longer in their table, so an index built before a removal stays right.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import time

from .model import MODELS, Machine, VirtualMachine, from_record, to_record

# Kinds whose change can alter any machine's JSON (rendered nested in machines).
_SHARED_KINDS = {"zone", "pool", "domain", "fabric", "vlan", "subnet", "pod", "user", "dnsresource"}
# Kinds indexed per machine/interface.
_INDEXED_KINDS = {"interface", "staticip"}


class Store:
    """SQLite persistence: one JSON record per object, plus named meta values."""

    def __init__(self, path: str):
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS objects (kind TEXT, key TEXT, data TEXT, PRIMARY KEY (kind, key))")
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")

    def is_empty(self) -> bool:
        """True when no state was ever written."""
        return self.conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0

    def load(self) -> tuple[dict, dict]:
        """``({kind: [records]}, {name: value})``."""
        records: dict[str, list] = {kind: [] for kind in MODELS}
        for kind, data in self.conn.execute("SELECT kind, data FROM objects"):
            if kind in records:
                records[kind].append(json.loads(data))
        meta = {name: json.loads(value) for name, value in self.conn.execute("SELECT name, value FROM meta")}
        return records, meta

    def write(self, upserts, deletes, meta: dict, replace_all: bool = False) -> None:
        """Write one batch in a single transaction."""
        cur = self.conn.cursor()
        cur.execute("BEGIN")
        try:
            if replace_all:
                cur.execute("DELETE FROM objects")
                cur.execute("DELETE FROM meta")
            cur.executemany("INSERT OR REPLACE INTO objects (kind, key, data) VALUES (?, ?, ?)", upserts)
            cur.executemany("DELETE FROM objects WHERE kind = ? AND key = ?", deletes)
            cur.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the database."""
        self.conn.close()


class State:
    """All objects of one simulated MAAS."""

    def __init__(self):
        self.tables: dict[str, dict] = {kind: {} for kind in MODELS}
        self.counters: dict[str, int] = {}
        # Scenario-level settings: maas_version, timings, os releases, faults...
        self.meta: dict = {}
        self.nonces: dict[tuple, float] = {}
        self._dirty: set[tuple[str, object]] = set()
        self._meta_dirty = False
        self._replace_all = False
        self._machine_json: dict[str, bytes] = {}
        # Rendered shared objects (zones, subnets...) reused while nothing shared changes.
        self.memo: dict = {}
        self._index_version = 0
        self._indexed_at = -1
        self._interfaces_by_node: dict = {}
        self._ips_by_interface: dict = {}
        # address -> ids of the rows holding it, in creation order (the last one present wins).
        self._ips_by_address: dict = {}
        self._hostnames: dict[str, str] = {}
        # machine system_id -> id of the VM record that backs it.
        self._vm_of_machine: dict[str, int] = {}
        self._heap: list[tuple[float, str]] = []

    # --- ids -----------------------------------------------------------------

    def next_id(self, kind: str, start: int = 1) -> int:
        """Next integer id for ``kind`` (never reused)."""
        value = max(self.counters.get(kind, start), start)
        self.counters[kind] = value + 1
        return value

    # --- access --------------------------------------------------------------

    def get(self, kind: str, key):
        """Object of ``kind`` by primary key, or None."""
        return self.tables[kind].get(key)

    def all(self, kind: str) -> list:
        """All objects of ``kind`` in creation order."""
        return list(self.tables[kind].values())

    def find(self, kind: str, **fields):
        """First object of ``kind`` whose attributes equal ``fields``."""
        for obj in self.tables[kind].values():
            if all(getattr(obj, name) == value for name, value in fields.items()):
                return obj
        return None

    # --- changes -------------------------------------------------------------

    def add(self, obj) -> None:
        """Insert a new object."""
        self.tables[obj.KIND][obj.key] = obj
        self.touch(obj)
        self._index_object(obj)

    def _index_object(self, obj) -> None:
        """Enter a new object in the hostname, VM and pending-transition indexes."""
        if isinstance(obj, Machine):
            self._hostnames[obj.hostname] = obj.system_id
            if obj.pending:
                self.schedule(obj)
        elif isinstance(obj, VirtualMachine) and obj.machine_id is not None:
            self._vm_of_machine.setdefault(obj.machine_id, obj.id)

    def remove(self, obj) -> None:
        """Delete an object.

        Removing an interface or address keeps the interface/address indexes
        (their readers skip missing ids) but still drops the owner's cached JSON.
        """
        if obj.KIND in _INDEXED_KINDS:
            self._dirty.add((obj.KIND, obj.key))
            self._invalidate_owner(obj)
        else:
            self.touch(obj)
        self.tables[obj.KIND].pop(obj.key, None)
        if isinstance(obj, Machine):
            self._machine_json.pop(obj.system_id, None)
            if self._hostnames.get(obj.hostname) == obj.system_id:
                del self._hostnames[obj.hostname]
        elif isinstance(obj, VirtualMachine) and obj.machine_id is not None:
            if self._vm_of_machine.get(obj.machine_id) == obj.id:
                del self._vm_of_machine[obj.machine_id]

    def vm_of_machine(self, system_id: str):
        """The VM record backing a machine, or None."""
        key = self._vm_of_machine.get(system_id)
        return self.tables["vm"].get(key) if key is not None else None

    def machine_named(self, hostname: str):
        """The machine with this hostname, or None."""
        system_id = self._hostnames.get(hostname)
        return self.tables["machine"].get(system_id) if system_id is not None else None

    def rename_machine(self, machine, hostname: str) -> None:
        """Change a machine's hostname (keeps the hostname index right)."""
        self._hostnames.pop(machine.hostname, None)
        machine.hostname = hostname
        self._hostnames[hostname] = machine.system_id
        self.touch(machine)

    def touch(self, obj) -> None:
        """Record that ``obj`` changed (persist it, drop the caches that depend on it)."""
        kind = obj.KIND
        self._dirty.add((kind, obj.key))
        if kind == "machine":
            self._machine_json.pop(obj.system_id, None)
        elif kind in _INDEXED_KINDS:
            self._index_version += 1
            self._invalidate_owner(obj)
        elif kind in _SHARED_KINDS:
            self._machine_json.clear()
            self.memo.clear()

    def touch_meta(self) -> None:
        """Record that ``meta`` changed (written with the next flush)."""
        self._meta_dirty = True

    def _invalidate_owner(self, obj) -> None:
        """Drop the cached JSON of the machine owning an interface or address."""
        if obj.KIND == "interface":
            system_id = obj.system_id
        else:
            interface = self.tables["interface"].get(obj.interface_id) if obj.interface_id is not None else None
            system_id = interface.system_id if interface is not None else None
        if system_id is not None:
            self._machine_json.pop(system_id, None)

    # --- machine JSON cache --------------------------------------------------

    def cached_json(self, system_id: str) -> bytes | None:
        """The cached JSON of a machine, if still valid."""
        return self._machine_json.get(system_id)

    def cache_json(self, system_id: str, data: bytes) -> None:
        """Remember a machine's JSON until it or what it shows changes."""
        self._machine_json[system_id] = data

    # --- indexes ---------------------------------------------------------------

    def _reindex(self) -> None:
        if self._indexed_at == self._index_version:
            return
        by_node: dict = {}
        for interface in self.tables["interface"].values():
            by_node.setdefault(interface.system_id, []).append(interface.id)
        by_interface: dict = {}
        by_address: dict = {}
        for sip in self.tables["staticip"].values():
            by_interface.setdefault(sip.interface_id, []).append(sip.id)
            if sip.ip:
                by_address.setdefault(sip.ip, []).append(sip.id)
        self._interfaces_by_node = by_node
        self._ips_by_interface = by_interface
        self._ips_by_address = by_address
        self._indexed_at = self._index_version

    def interfaces_of(self, system_id: str | None) -> list:
        """Interfaces of a machine, by id."""
        self._reindex()
        table = self.tables["interface"]
        return [table[i] for i in sorted(self._interfaces_by_node.get(system_id, ())) if i in table]

    def ips_of(self, interface_id: int) -> list:
        """``StaticIP`` rows linked to an interface, by id."""
        self._reindex()
        table = self.tables["staticip"]
        return [table[i] for i in sorted(self._ips_by_interface.get(interface_id, ())) if i in table]

    def ip_by_address(self, address: str):
        """The ``StaticIP`` holding ``address`` (the newest when several do), or None."""
        self._reindex()
        table = self.tables["staticip"]
        for key in reversed(self._ips_by_address.get(address, ())):
            if key in table:
                return table[key]
        return None

    # --- timed transitions ---------------------------------------------------

    def schedule(self, machine: Machine) -> None:
        """Queue the machine's pending transition."""
        heapq.heappush(self._heap, (machine.pending["at"], machine.system_id))

    def due(self, now: float) -> list[Machine]:
        """Machines whose pending transition is due at ``now``, earliest first."""
        ready = []
        while self._heap and self._heap[0][0] <= now:
            at, system_id = heapq.heappop(self._heap)
            machine = self.tables["machine"].get(system_id)
            if machine is not None and machine.pending and machine.pending["at"] == at:
                ready.append(machine)
        return ready

    # --- persistence -----------------------------------------------------------

    def mark_all_dirty(self) -> None:
        """The whole state replaces what is stored (scenario load, reset)."""
        self._replace_all = True

    def flush(self, store: Store | None) -> None:
        """Write the changes since the last flush."""
        meta = {"counters": self.counters, "meta": self.meta}
        if store is not None:
            if self._replace_all:
                upserts = [
                    (kind, str(key), json.dumps(to_record(obj))) for kind, table in self.tables.items() for key, obj in table.items()
                ]
                store.write(upserts, [], meta, replace_all=True)
            elif self._dirty or self._meta_dirty:
                upserts, deletes = [], []
                for kind, key in self._dirty:
                    obj = self.tables[kind].get(key)
                    if obj is None:
                        deletes.append((kind, str(key)))
                    else:
                        upserts.append((kind, str(key), json.dumps(to_record(obj))))
                store.write(upserts, deletes, meta)
        self._dirty.clear()
        self._meta_dirty = False
        self._replace_all = False

    @classmethod
    def restore(cls, store: Store) -> "State":
        """Rebuild a state from what ``flush`` wrote."""
        records, meta = store.load()
        state = cls()
        state.counters = meta.get("counters", {})
        state.meta = meta.get("meta", {})
        for kind, items in records.items():
            objects = [from_record(kind, record) for record in items]
            objects.sort(key=lambda obj: obj.id)
            for obj in objects:
                state.tables[kind][obj.key] = obj
                state._index_object(obj)  # pylint: disable=protected-access
        return state

    # --- OAuth nonces ----------------------------------------------------------

    def use_nonce(self, consumer: str, token: str, nonce: str, window: float = 300.0) -> bool:
        """Record a nonce; False when it was already used within the window."""
        now = time.time()
        if len(self.nonces) > 10000:
            self.nonces = {key: at for key, at in self.nonces.items() if now - at <= window}
        key = (consumer, token, nonce)
        if key in self.nonces and now - self.nonces[key] <= window:
            return False
        self.nonces[key] = now
        return True
