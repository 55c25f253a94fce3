"""Read capacity and allocation from one LXD server over its HTTPS REST API.

Capacity comes from ``GET /1.0/resources`` (CPU threads and memory of the machine).
Allocation is the sum, over every instance of every project, of the instance's
``limits.cpu`` and ``limits.memory`` (from the expanded config, so limits set in profiles count).
All instances count whatever their state: a stopped instance can be started at any time.

Instances without a limit:

- virtual machines get LXD's own defaults (1 vCPU, 1 GiB), which they really use;
- containers share the host and reserve nothing, so they count as ``container_without_limits``
  (0 cores and 0 MiB unless configured otherwise).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import ssl
import time
import warnings
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from lxdcp_maas_core import units
from lxdcp_maas_core.units import MIB  # re-exported: lxd.MIB

_PERCENT_RE = re.compile(r"^(\d+(?:\.\d+)?)%$")
_CPU_SET_RE = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")

# What LXD gives a virtual machine that has no limit (LXD documentation, instance options).
VM_DEFAULT_CORES = 1
VM_DEFAULT_MEMORY = 1024 * MIB


class LxdError(Exception):
    """Reading an LXD server failed; the message says what was asked and what happened."""


class LimitError(ValueError):
    """An instance limit could not be understood."""


def parse_cpu_limit(value: str) -> int:
    """Return the number of CPUs that ``limits.cpu`` allocates.

    LXD accepts a count (``"4"``) or a set of pinned CPUs (``"0-3,6"``, ``"2"`` as a set is written
    ``"2-2"``); a set allocates as many CPUs as it names.
    """
    text = str(value).strip()
    if text.isdigit():
        count = int(text)
        if count < 1:
            raise LimitError(f"limits.cpu {value!r} is not a positive count")
        return count
    if not _CPU_SET_RE.match(text):
        raise LimitError(f"limits.cpu {value!r} is neither a count nor a CPU set like '0-3,6'")
    cpus: set[int] = set()
    for part in text.split(","):
        first, _dash, last = part.partition("-")
        low, high = int(first), int(last or first)
        if high < low:
            raise LimitError(f"limits.cpu {value!r} has a reversed range {part!r}")
        cpus.update(range(low, high + 1))
    return len(cpus)


def parse_memory_limit(value: str, total_bytes: int) -> int:
    """Return the bytes that ``limits.memory`` allocates (``"2GiB"``, ``"512MB"``, ``"50%"``, ``"1073741824"``).

    Sizes use the collection's size grammar (:mod:`lxdcp_maas_core.units`), which reads LXD's units
    the way LXD does (``B``; ``kB``..``PB`` powers of 1000; ``KiB``..``PiB`` powers of 1024; a bare
    number is bytes). A percentage is of the host's total memory.
    """
    text = str(value).strip()
    percent = _PERCENT_RE.match(text)
    if percent:
        return int(total_bytes * float(percent.group(1)) / 100)
    try:
        return units.parse_size(text, 1, "limits.memory")
    except units.SizeError as exc:
        raise LimitError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class Usage:
    """Cores and memory one instance allocates."""

    cores: int
    memory: int  # bytes
    limited: bool  # False when a default was used for at least one of the two


def instance_usage(instance: dict, total_memory: int, container_cores: int = 0, container_memory: int = 0) -> Usage:
    """Return what one instance (an item of ``/1.0/instances?recursion=1``) allocates."""
    config = instance.get("expanded_config") or instance.get("config") or {}
    is_vm = instance.get("type") == "virtual-machine"
    limited = True
    cpu = config.get("limits.cpu", "")
    if cpu:
        cores = parse_cpu_limit(cpu)
    else:
        cores, limited = (VM_DEFAULT_CORES if is_vm else container_cores), False
    memory_text = config.get("limits.memory", "")
    if memory_text:
        memory = parse_memory_limit(memory_text, total_memory)
    else:
        memory, limited = (VM_DEFAULT_MEMORY if is_vm else container_memory), False
    return Usage(cores, memory, limited)


@dataclasses.dataclass
class ServerState:
    """What one read of an LXD server found (or why it could not be read)."""

    name: str
    url: str
    ok: bool
    error: str = ""
    total_cores: int = 0
    total_memory: int = 0  # MiB
    used_cores: int = 0
    used_memory: int = 0  # MiB, rounded up
    instances: frozenset = frozenset()
    unlimited_instances: int = 0
    server_name: str = ""
    fetched_at: float = 0.0  # time.time() when the read started
    duration: float = 0.0  # seconds the read took

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe view (instance names are summarised as a count)."""
        data = dataclasses.asdict(self)
        data["instances"] = len(self.instances)
        return data


class _PinnedCertAdapter(HTTPAdapter):
    """Accept exactly one server certificate, by SHA-256 fingerprint, like ``lxc remote add`` does.

    The hostname is not checked: the pinned certificate is the identity. urllib3 compares the
    fingerprint during the handshake, before any byte of the request is sent.
    """

    def __init__(self, fingerprint: str):
        self._fingerprint = fingerprint
        super().__init__()

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, False, cert)
        pool_kwargs["assert_fingerprint"] = self._fingerprint
        return host_params, pool_kwargs

    def send(self, request, **kwargs):  # pylint: disable=arguments-differ
        kwargs["verify"] = False  # chain verification is replaced by the fingerprint check above
        return super().send(request, **kwargs)


def certificate_fingerprint(path: str) -> str:
    """SHA-256 fingerprint (hex) of the PEM certificate in ``path``."""
    with open(path, encoding="ascii") as handle:
        der = ssl.PEM_cert_to_DER_cert(handle.read())
    return hashlib.sha256(der).hexdigest()


class LxdClient:
    """A small client for the read-only part of the LXD REST API that the scheduler needs.

    ``server_cert`` pins the server's own certificate (hostname not checked); ``ca_cert`` verifies
    the chain against a CA bundle (hostname checked); with neither, the system CA store is used,
    unless ``insecure_skip_verify`` (the explicit opt-in of the settings) turns verification off,
    as shoes-lxd-multi's own client does.
    """

    def __init__(self, name: str, url: str, client_cert: str, client_key: str, server_cert: str | None = None,
                 ca_cert: str | None = None, timeout: float = 5.0, insecure_skip_verify: bool = False):
        self.name = name
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.cert = (client_cert, client_key)
        self.session.headers["User-Agent"] = "lxd-multi-scheduler"
        if server_cert:
            self.session.mount(self.url + "/", _PinnedCertAdapter(certificate_fingerprint(server_cert)))
        self.session.verify = ca_cert or True
        if insecure_skip_verify and not (server_cert or ca_cert):
            self.session.verify = False
            # The start log says it once, as a warning naming the servers; urllib3 would repeat it on stderr, not as JSON.
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def get(self, path: str, **params: str) -> Any:
        """GET ``path`` and return the ``metadata`` of LXD's sync response."""
        url = self.url + path
        try:
            # verify given per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's
            # verify (False, or the ca_cert bundle) when the request itself leaves it unset.
            response = self.session.get(url, params=params or None, timeout=self.timeout, verify=self.session.verify)
        except requests.exceptions.SSLError as exc:
            raise LxdError(f"TLS error talking to {self.url}: {_short(exc)} (check server_cert / ca_cert for this host)") from None
        except requests.exceptions.RequestException as exc:
            raise LxdError(f"cannot reach {self.url}: {_short(exc)}") from None
        try:
            body = response.json()
        except ValueError:
            raise LxdError(f"GET {path} on {self.url} answered HTTP {response.status_code} with a body that is not JSON") from None
        if response.status_code != 200 or body.get("type") == "error":
            message = body.get("error") or response.reason
            raise LxdError(f"GET {path} on {self.url} answered HTTP {response.status_code}: {message}")
        return body.get("metadata")

    def instances(self, all_projects: bool) -> list[dict]:
        """Every instance with its expanded config, across all projects."""
        if all_projects:
            return self.get("/1.0/instances", **{"all-projects": "true", "recursion": "1"}) or []
        found: list[dict] = []
        for project in self.get("/1.0/projects", recursion="1") or []:
            found.extend(self.get("/1.0/instances", project=project["name"], recursion="1") or [])
        return found

    def read(self, container_cores: int = 0, container_memory: int = 0) -> ServerState:
        """Read capacity and allocation; raise :class:`LxdError` when the server cannot be read."""
        start, started_at = time.monotonic(), time.time()
        server = self.get("/1.0") or {}
        if server.get("auth") != "trusted":
            raise LxdError(f"{self.url} does not trust the client certificate (add it with 'lxc config trust add')")
        resources = self.get("/1.0/resources") or {}
        total_cores = int(resources.get("cpu", {}).get("total", 0))
        total_bytes = int(resources.get("memory", {}).get("total", 0))
        instances = self.instances("instance_all_projects" in (server.get("api_extensions") or []))
        used_cores = used_bytes = unlimited = 0
        for instance in instances:
            try:
                usage = instance_usage(instance, total_bytes, container_cores, container_memory * MIB)
            except LimitError as exc:
                where = f"{instance.get('project', 'default')}/{instance.get('name')}"
                raise LxdError(f"instance {where} on {self.url}: {exc}") from None
            used_cores += usage.cores
            used_bytes += usage.memory
            unlimited += not usage.limited
        return ServerState(
            name=self.name,
            url=self.url,
            ok=True,
            total_cores=total_cores,
            total_memory=total_bytes // MIB,
            used_cores=used_cores,
            used_memory=math.ceil(used_bytes / MIB),
            instances=frozenset(i.get("name", "") for i in instances),
            unlimited_instances=unlimited,
            server_name=(server.get("environment") or {}).get("server_name", ""),
            fetched_at=started_at,
            duration=time.monotonic() - start,
        )


def _short(exc: Exception) -> str:
    """The innermost useful part of a requests/urllib3 error chain."""
    text = str(exc)
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip("()'\" ")[:300]
