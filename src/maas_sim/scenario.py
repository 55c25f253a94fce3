"""Scenario files: the YAML description of a simulated MAAS, turned into a ``State``.

The schema is documented in ``docs/maas-sim.md``. Every problem is reported as
a ``ScenarioError`` naming the entry and the key at fault, before the server
starts.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
import uuid

import yaml

from . import builders, lookup, machineform, modes, powertypes
from .enums import STATUS_KEYWORDS, IPType, NodeStatus
from .faults import FaultError, validate as validate_faults
from .model import DNSResource, Domain, Fabric, IPRange, Pod, Pool, Subnet, User, VirtualMachine, Vlan, Zone
from .params import Params
from .state import State

DEFAULT_SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "default.yml")
# The default scenario of ``--maas-version 4.0`` (and later) without ``--scenario``: no VM hosts.
DEFAULT_SCENARIO_40 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "maas40.yml")

DEFAULT_TIMINGS = {"commissioning": 2.0, "deploying": 3.0, "releasing": 1.0, "disk_erasing": 2.0}

DEFAULT_RELEASES = [
    {"name": "focal", "version": "20.04", "title": 'Ubuntu 20.04 LTS "Focal Fossa"'},
    {"name": "jammy", "version": "22.04", "title": 'Ubuntu 22.04 LTS "Jammy Jellyfish"'},
    {"name": "noble", "version": "24.04", "title": 'Ubuntu 24.04 LTS "Noble Numbat"'},
]

POD_CAPABILITIES = ["composable", "dynamic_local_storage", "over_commit", "storage_pools"]

_TOP_KEYS = {
    "maas_version", "maas_name", "lxd_hosts", "users", "default_distro_series", "os_releases", "domains", "zones", "pools", "tags", "fabrics",
    "subnets", "vm_hosts", "machines", "generate_machines", "ip_reservations", "dns_resources", "timings", "faults",
}

_SIZE = re.compile(r"^\s*([0-9.]+)\s*([kmgtp]?)(i?)b?\s*$", re.IGNORECASE)


class ScenarioError(ValueError):
    """A scenario file that cannot be loaded; the message says where and why."""


def parse_bytes(value, where: str) -> int:
    """Bytes from an int or ``500G``/``1T``/``64GiB`` (G = 10**9, GiB = 2**30)."""
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: expected a size, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        raise ScenarioError(f"{where}: cannot parse size {value!r} (use bytes or e.g. 500G, 64GiB)")
    number, unit, binary = float(match.group(1)), match.group(2).lower(), match.group(3)
    power = "kmgtp".index(unit) + 1 if unit else 0
    return int(number * ((1024 if binary else 1000) ** power))


def _check_keys(entry, allowed: set, where: str) -> dict:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a mapping, got {entry!r}")
    unknown = set(entry) - allowed
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return entry


def _status(value, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    key = str(value).strip().lower().replace(" ", "_")
    if key not in STATUS_KEYWORDS:
        raise ScenarioError(f"{where}: unknown status {value!r}; use one of {sorted(STATUS_KEYWORDS)}")
    return STATUS_KEYWORDS[key]


def load_file(path: str | None) -> dict:
    """Read a scenario file (the packaged default when ``path`` is None)."""
    path = path or DEFAULT_SCENARIO
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {path}: the top level must be a mapping")
    return data


def build(data: dict, api_key: str | None = None, maas_version: str | None = None) -> State:
    """Build a fresh state from scenario data (``maas_version`` overrides the scenario's)."""
    _check_keys(data, _TOP_KEYS, "scenario")
    state = State()
    state.meta = {
        "maas_version": version(maas_version or data.get("maas_version", modes.DEFAULT_VERSION), "maas_version"),
        "maas_name": str(data.get("maas_name", "maas-sim")),
        "maas_uuid": str(uuid.uuid4()),
        "timings": _timings(data.get("timings") or {}),
        "os_releases": data.get("os_releases") or DEFAULT_RELEASES,
        "default_distro_series": data.get("default_distro_series", "jammy"),
        "default_domain_id": 0,
    }
    try:
        state.meta["faults"] = validate_faults(data.get("faults") or {})
    except FaultError as exc:
        raise ScenarioError(f"faults: {exc}") from None
    _users(state, data.get("users") or [], api_key)
    _basics(state, data)
    _networks(state, data)
    if modes.without_vm_hosts(state) and data.get("vm_hosts"):
        raise ScenarioError(f"vm_hosts: MAAS {state.meta['maas_version']} has no VM hosts (removed in 4.0); "
                            "describe the machines that run LXD under lxd_hosts")
    for index, entry in enumerate(data.get("vm_hosts") or []):
        _vm_host(state, entry, f"vm_hosts[{index}]")
    for index, entry in enumerate(data.get("lxd_hosts") or []):
        _lxd_host(state, entry, f"lxd_hosts[{index}]")
    for index, entry in enumerate(data.get("machines") or []):
        _machine(state, entry, f"machines[{index}]")
    for index, entry in enumerate(data.get("generate_machines") or []):
        _generated(state, entry, f"generate_machines[{index}]")
    for index, entry in enumerate(data.get("ip_reservations") or []):
        _reservation(state, entry, f"ip_reservations[{index}]")
    for index, entry in enumerate(data.get("dns_resources") or []):
        _dns_resource(state, entry, f"dns_resources[{index}]")
    state.mark_all_dirty()
    return state


def version(raw, where: str) -> str:
    """A MAAS version as ``version/`` reports it (``4.0`` -> ``4.0.0``)."""
    normalised = modes.normalise(raw)
    if normalised is None:
        raise ScenarioError(f"{where}: {raw!r} is not a MAAS version (e.g. 3.6.1 or 4.0)")
    return normalised


def _timings(raw: dict) -> dict:
    _check_keys(raw, set(DEFAULT_TIMINGS), "timings")
    timings = dict(DEFAULT_TIMINGS)
    for key, value in raw.items():
        try:
            timings[key] = float(value)
        except (TypeError, ValueError):
            raise ScenarioError(f"timings.{key}: expected seconds, got {value!r}") from None
        if timings[key] < 0:
            raise ScenarioError(f"timings.{key}: must not be negative")
    return timings


def _users(state: State, entries: list, api_key: str | None) -> None:
    if not entries:
        entries = [{"username": "lxdcp", "is_superuser": True, "api_key": "lxdcp:sim-token:sim-secret"}]
    allowed = {"username", "email", "is_superuser", "api_key", "api_keys"}
    for index, entry in enumerate(entries):
        where = f"users[{index}]"
        _check_keys(entry, allowed, where)
        if "username" not in entry:
            raise ScenarioError(f"{where}: username is required")
        keys = []
        for raw in ([entry["api_key"]] if entry.get("api_key") else []) + list(entry.get("api_keys") or []):
            keys.append(_api_key(raw, where))
        state.add(User(id=state.next_id("user"), username=entry["username"], email=entry.get("email", ""),
                       is_superuser=bool(entry.get("is_superuser", False)), keys=keys))
    if not any(user.is_superuser for user in state.all("user")):
        raise ScenarioError("users: at least one user needs is_superuser: true")
    if api_key:
        set_admin_key(state, api_key)


def set_version(state: State, raw: str) -> None:
    """``--maas-version`` on a state loaded from ``--state``: a 4.0 state cannot hold VM hosts."""
    state.meta["maas_version"] = version(raw, "--maas-version")
    state.touch_meta()
    if modes.without_vm_hosts(state) and state.all("pod"):
        raise ScenarioError(f"--maas-version {raw}: the state holds VM hosts, which MAAS {state.meta['maas_version']} does not have")


def set_admin_key(state: State, api_key: str) -> None:
    """Give the first admin user exactly this key (``--api-key``)."""
    admin = next(user for user in state.all("user") if user.is_superuser)
    admin.keys = [_api_key(api_key, "--api-key")]
    state.touch(admin)


def _api_key(raw: str, where: str) -> dict:
    parts = str(raw).split(":")
    if len(parts) != 3 or not all(parts):
        raise ScenarioError(f"{where}: an API key has three non-empty colon-separated parts (consumer:token:secret)")
    return {"consumer": parts[0], "token": parts[1], "secret": parts[2], "name": "scenario"}


def _basics(state: State, data: dict) -> None:
    state.add(Zone(id=state.next_id("zone"), name="default"))
    state.add(Pool(id=state.next_id("pool", start=0), name="default", description="Default pool"))
    domains = data.get("domains") or [{"name": "maas"}]
    for index, entry in enumerate(domains):
        _check_keys(entry, {"name", "ttl", "authoritative", "default"}, f"domains[{index}]")
        domain = Domain(id=state.next_id("domain", start=0), name=entry["name"], ttl=entry.get("ttl"),
                        authoritative=bool(entry.get("authoritative", True)))
        state.add(domain)
        if entry.get("default"):
            state.meta["default_domain_id"] = domain.id
    for index, entry in enumerate(data.get("zones") or []):
        _check_keys(entry, {"name", "description"}, f"zones[{index}]")
        if entry["name"] != "default":
            state.add(Zone(id=state.next_id("zone"), name=entry["name"], description=entry.get("description", "")))
    for index, entry in enumerate(data.get("pools") or []):
        _check_keys(entry, {"name", "description"}, f"pools[{index}]")
        if entry["name"] != "default":
            state.add(Pool(id=state.next_id("pool", start=0), name=entry["name"], description=entry.get("description", "")))
    for index, entry in enumerate(data.get("tags") or []):
        _check_keys(entry, {"name", "comment", "definition", "kernel_opts"}, f"tags[{index}]")
        builders.ensure_tag(state, entry["name"], comment=entry.get("comment", ""), definition=entry.get("definition", ""),
                            kernel_opts=entry.get("kernel_opts", ""))
    builders.ensure_tag(state, "pod-console-logging", kernel_opts="console=tty1 console=ttyS0")


def _networks(state: State, data: dict) -> None:
    fabrics = data.get("fabrics") or [{"name": "fabric-0", "vlans": [{"vid": 0, "dhcp_on": True}]}]
    for index, entry in enumerate(fabrics):
        where = f"fabrics[{index}]"
        _check_keys(entry, {"name", "class_type", "vlans"}, where)
        fabric = Fabric(id=state.next_id("fabric", start=0), name=entry.get("name") or f"fabric-{index}", class_type=entry.get("class_type"))
        state.add(fabric)
        for vindex, ventry in enumerate(entry.get("vlans") or [{"vid": 0}]):
            _check_keys(ventry, {"vid", "name", "mtu", "dhcp_on", "space", "primary_rack"}, f"{where}.vlans[{vindex}]")
            vid = int(ventry.get("vid", 0))
            state.add(Vlan(id=state.next_id("vlan", start=5001), fabric_id=fabric.id, vid=vid,
                           name=ventry.get("name") or ("untagged" if vid == 0 else str(vid)), mtu=int(ventry.get("mtu", 1500)),
                           dhcp_on=bool(ventry.get("dhcp_on", False)), space=ventry.get("space"),
                           primary_rack=ventry.get("primary_rack", "sim-rack" if ventry.get("dhcp_on") else None)))
    admin = next(user for user in state.all("user") if user.is_superuser)
    for index, entry in enumerate(data.get("subnets") or []):
        where = f"subnets[{index}]"
        _check_keys(entry, {"cidr", "name", "fabric", "vid", "gateway_ip", "dns_servers", "ip_ranges", "description", "managed"}, where)
        try:
            network = ipaddress.ip_network(str(entry["cidr"]))
        except (KeyError, ValueError) as exc:
            raise ScenarioError(f"{where}: a valid cidr is required ({exc})") from None
        fabric_name = entry.get("fabric") or state.all("fabric")[0].name
        fabric = state.find("fabric", name=fabric_name)
        if fabric is None:
            raise ScenarioError(f"{where}: unknown fabric {fabric_name!r}")
        vlan = state.find("vlan", fabric_id=fabric.id, vid=int(entry.get("vid", 0)))
        if vlan is None:
            raise ScenarioError(f"{where}: fabric {fabric_name} has no VLAN {entry.get('vid', 0)}")
        for address in [entry.get("gateway_ip")] + list(entry.get("dns_servers") or []):
            if address and ipaddress.ip_address(address) not in network:
                raise ScenarioError(f"{where}: {address} is not in {network}")
        subnet = Subnet(id=state.next_id("subnet"), name=entry.get("name") or str(network), cidr=str(network), vlan_id=vlan.id,
                        gateway_ip=entry.get("gateway_ip"), dns_servers=[str(a) for a in entry.get("dns_servers") or []],
                        description=entry.get("description", ""), managed=bool(entry.get("managed", True)))
        state.add(subnet)
        for rindex, rentry in enumerate(entry.get("ip_ranges") or []):
            rwhere = f"{where}.ip_ranges[{rindex}]"
            _check_keys(rentry, {"type", "start", "end", "comment"}, rwhere)
            if rentry.get("type") not in ("dynamic", "reserved"):
                raise ScenarioError(f"{rwhere}: type must be dynamic or reserved")
            for key in ("start", "end"):
                if key not in rentry or ipaddress.ip_address(rentry[key]) not in network:
                    raise ScenarioError(f"{rwhere}: {key} must be an address in {network}")
            state.add(IPRange(id=state.next_id("iprange"), subnet_id=subnet.id, type=rentry["type"], start_ip=str(rentry["start"]),
                              end_ip=str(rentry["end"]), comment=rentry.get("comment", ""), user_id=admin.id))


def _named(state: State, kind: str, name, where: str, key: str):
    obj = state.find(kind, name=name)
    if obj is None:
        raise ScenarioError(f"{where}: unknown {key} {name!r}")
    return obj


def _owner(state: State, entry: dict, where: str, status: int):
    owned = status in (NodeStatus.ALLOCATED, NodeStatus.DEPLOYING, NodeStatus.DEPLOYED, NodeStatus.FAILED_DEPLOYMENT,
                       NodeStatus.RESERVED, NodeStatus.RELEASING)
    name = entry.get("owner")
    if name is None:
        if not owned:
            return None
        return next(user for user in state.all("user") if user.is_superuser)
    user = lookup.user_named(state, name)
    if user is None:
        raise ScenarioError(f"{where}: unknown owner {name!r}")
    return user


def _first_subnet(state: State):
    subnets = state.all("subnet")
    return subnets[0] if subnets else None


def _attach(state: State, machine, where: str, ip: str | None, mode: str | None) -> None:
    """Give a machine its boot interface and, for commissioned machines, a link."""
    subnet = lookup.best_subnet_for_ip(state, ip) if ip else _first_subnet(state)
    if ip and subnet is None:
        raise ScenarioError(f"{where}: no subnet holds {ip}")
    vlan_id = subnet.vlan_id if subnet else state.all("vlan")[0].id
    interface = builders.create_interface(state, machine, "eth0", vlan_id)
    if subnet is None or machine.status in (NodeStatus.NEW, NodeStatus.COMMISSIONING):
        return
    if ip and state.ip_by_address(ip) is not None:
        raise ScenarioError(f"{where}: address {ip} is used twice")
    mode = mode or "auto"
    if mode not in ("auto", "static"):
        raise ScenarioError(f"{where}: ip_mode must be auto or static")
    holds_auto_ip = machine.status in (NodeStatus.DEPLOYING, NodeStatus.DEPLOYED, NodeStatus.FAILED_DEPLOYMENT)
    builders.link(state, interface, mode, subnet, ip if (mode == "static" or holds_auto_ip) else None)


_HOST_KEYS = {"name", "type", "zone", "pool", "tags", "project", "cores", "memory", "cpu_speed", "cpu_over_commit_ratio",
              "memory_over_commit_ratio", "version", "storage_pools", "default_storage_pool", "host", "power_address", "vms"}


def _vm_host(state: State, entry: dict, where: str) -> None:
    _check_keys(entry, _HOST_KEYS, where)
    for key in ("name", "cores", "memory"):
        if key not in entry:
            raise ScenarioError(f"{where}: {key} is required")
    kind = entry.get("type", "lxd")
    if kind not in ("lxd", "virsh"):
        raise ScenarioError(f"{where}: type must be lxd or virsh")
    zone = _named(state, "zone", entry.get("zone", "default"), where, "zone")
    pool = _named(state, "pool", entry.get("pool", "default"), where, "pool")
    storage_pools = []
    for index, raw in enumerate(entry.get("storage_pools") or [{"name": "default", "size": "500G"}]):
        pwhere = f"{where}.storage_pools[{index}]"
        _check_keys(raw, {"name", "type", "size", "path", "default"}, pwhere)
        name = raw.get("name", "default")
        storage_pools.append({
            "id": name if kind == "lxd" else f"{entry['name']}-{name}",
            "name": name,
            "type": raw.get("type", "zfs" if kind == "lxd" else "dir"),
            "path": raw.get("path", f"/var/snap/lxd/common/lxd/storage-pools/{name}" if kind == "lxd" else f"/var/lib/libvirt/{name}"),
            "total": parse_bytes(raw.get("size", "500G"), f"{pwhere}.size"),
        })
    default_pool = entry.get("default_storage_pool") or next(
        (raw.get("name", "default") for raw in entry.get("storage_pools") or [] if raw.get("default")), storage_pools[0]["name"])
    host_entry = _check_keys(entry.get("host") or {}, {"hostname", "ip", "power_type"}, f"{where}.host")
    host_ip = host_entry.get("ip")
    admin = next(user for user in state.all("user") if user.is_superuser)
    host = builders.create_machine(
        state, hostname=host_entry.get("hostname", entry["name"]), status=NodeStatus.DEPLOYED, zone_id=zone.id, pool_id=pool.id,
        owner_id=admin.id, cpu_count=int(entry["cores"]), memory=int(entry["memory"]), power_type=host_entry.get("power_type", "ipmi"),
        power_state="on", osystem="ubuntu", distro_series="jammy", hwe_kernel="ga-22.04", status_message="Deployed",
    )
    builders.add_disk(state, host, sum(p["total"] for p in storage_pools) + 200 * 10**9)
    _attach(state, host, f"{where}.host", host_ip, "static")
    address = entry.get("power_address") or (
        f"{host_ip or host.hostname}:8443" if kind == "lxd" else f"qemu+ssh://ubuntu@{host_ip or host.hostname}/system")
    parameters = {"power_address": address}
    if kind == "lxd":
        parameters.update({"project": entry.get("project", "default"),
                           "certificate": f"-----BEGIN CERTIFICATE-----\nmaas-sim {entry['name']}\n-----END CERTIFICATE-----\n",
                           "key": f"-----BEGIN PRIVATE KEY-----\nmaas-sim {entry['name']}\n-----END PRIVATE KEY-----\n"})
    else:
        parameters["power_pass"] = "maas-sim"
    tags = [str(tag) for tag in entry.get("tags") or []]
    if "pod-console-logging" not in tags:
        tags.append("pod-console-logging")
    pod = Pod(id=state.next_id("pod"), name=entry["name"], type=kind, zone_id=zone.id, pool_id=pool.id, tags=tags,
              cpu_over_commit_ratio=float(entry.get("cpu_over_commit_ratio", 1.0)),
              memory_over_commit_ratio=float(entry.get("memory_over_commit_ratio", 1.0)),
              cores=int(entry["cores"]), memory=int(entry["memory"]), cpu_speed=int(entry.get("cpu_speed", 0)),
              storage_pools=storage_pools, default_storage_pool=default_pool, host_system_id=host.system_id,
              version=str(entry.get("version", "5.21.1" if kind == "lxd" else "8.0.0")), capabilities=list(POD_CAPABILITIES),
              power_parameters=parameters)
    state.add(pod)
    for tag in tags:
        builders.ensure_tag(state, tag)
    for index, raw in enumerate(entry.get("vms") or []):
        vwhere = f"{where}.vms[{index}]"
        _check_keys(raw, {"name", "cores", "memory", "disk", "pool"}, vwhere)
        disk_pool = raw.get("pool", default_pool)
        state.add(VirtualMachine(id=state.next_id("vm"), pod_id=pod.id, identifier=raw.get("name", f"unmanaged-{index}"),
                                 project=parameters.get("project", "default"), cores=int(raw.get("cores", 1)),
                                 memory=int(raw.get("memory", 2048)),
                                 disks=[{"pool": disk_pool, "size": parse_bytes(raw.get("disk", "10G"), f"{vwhere}.disk")}]))


_MACHINE_KEYS = {"hostname", "vm_host", "cpu_count", "memory", "disks", "status", "owner", "zone", "pool", "domain", "tags", "ip",
                 "ip_mode", "osystem", "distro_series", "description", "power_type", "architecture", "power_state", "locked",
                 "power_parameters", "owner_data"}
_LXD_HOST_KEYS = (_MACHINE_KEYS - {"vm_host"}) | {"lxd_endpoint"}


def _lxd_host(state: State, entry: dict, where: str) -> None:
    """A machine that runs LXD (MAAS 4.0 has no VM hosts): Deployed, tagged ``lxd-host`` unless told otherwise.

    ``lxd_endpoint`` (the address of the LXD server the tests map the machine to) is recorded in the
    machine's workload annotations (``owner_data``) and listed by ``GET /_sim/``.
    """
    _check_keys(entry, _LXD_HOST_KEYS, where)
    endpoint = entry.get("lxd_endpoint")
    if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.strip()):
        raise ScenarioError(f"{where}.lxd_endpoint: expected an address such as https://10.10.0.11:8443, got {endpoint!r}")
    fields = {key: value for key, value in entry.items() if key != "lxd_endpoint"}
    fields.setdefault("status", "deployed")
    fields.setdefault("tags", ["lxd-host"])
    machine = _machine(state, fields, where)
    if endpoint:
        machine.owner_data = dict(machine.owner_data, lxd_endpoint=endpoint.strip())
    state.meta.setdefault("lxd_hosts", {})[machine.hostname] = endpoint.strip() if endpoint else None


def _power_parameters(state: State, entry: dict, where: str, power_type: str) -> dict:
    """A machine's own power parameters, checked against its power type's settings like the create form does."""
    raw = entry.get("power_parameters") or {}
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}.power_parameters: expected a mapping, got {raw!r}")
    items = Params((f"{powertypes.PREFIX}{key}", "" if value is None else str(value)) for key, value in raw.items())
    parameters, problems = powertypes.clean(power_type, items) if raw else ({}, [])
    if problems:
        raise ScenarioError(f"{where}.power_parameters: {' '.join(problems)}")
    if power_type == "lxd" and not parameters.get("certificate") and not parameters.get("key"):
        parameters["certificate"], parameters["key"] = machineform.generated_certificate(state)
    return parameters


def _machine(state: State, entry: dict, where: str):
    _check_keys(entry, _MACHINE_KEYS, where)
    if entry.get("vm_host") and modes.without_vm_hosts(state):
        raise ScenarioError(f"{where}.vm_host: MAAS {state.meta['maas_version']} has no VM hosts (removed in 4.0)")
    status = _status(entry.get("status", "ready"), f"{where}.status")
    pod = _named(state, "pod", entry["vm_host"], where, "vm_host") if entry.get("vm_host") else None
    zone = _named(state, "zone", entry["zone"], where, "zone") if entry.get("zone") else (
        state.get("zone", pod.zone_id) if pod else lookup.default_zone(state))
    pool = _named(state, "pool", entry["pool"], where, "pool") if entry.get("pool") else (
        state.get("pool", pod.pool_id) if pod else lookup.default_pool(state))
    domain = _named(state, "domain", entry["domain"], where, "domain") if entry.get("domain") else lookup.default_domain(state)
    owner = _owner(state, entry, where, status)
    deployed = status in (NodeStatus.DEPLOYING, NodeStatus.DEPLOYED, NodeStatus.FAILED_DEPLOYMENT)
    hostname = entry.get("hostname")
    if hostname and lookup.machine_by_hostname(state, hostname):
        raise ScenarioError(f"{where}: hostname {hostname!r} is used twice")
    tags = [str(tag) for tag in entry.get("tags") or []]
    if pod is not None:
        tags = list(dict.fromkeys(tags + pod.tags))
    power_on = deployed or status == NodeStatus.COMMISSIONING
    machine = builders.create_machine(
        state, hostname=hostname, status=status, zone_id=zone.id, pool_id=pool.id, domain_id=domain.id,
        owner_id=owner.id if owner else None, cpu_count=int(entry.get("cpu_count", 2)), memory=int(entry.get("memory", 4096)),
        architecture=entry.get("architecture", "amd64/generic"), description=entry.get("description", ""), tags=tags,
        power_type=pod.type if pod else entry.get("power_type", "manual"),
        power_state=entry.get("power_state", "on" if power_on else "off"),
        osystem=entry.get("osystem", "ubuntu") if deployed else "", distro_series=entry.get("distro_series", "jammy") if deployed else "",
        hwe_kernel="ga-22.04" if deployed else None, pod_id=pod.id if pod else None, parent_id=pod.host_system_id if pod else None,
        locked=bool(entry.get("locked", False)), status_message="Deployed" if status == NodeStatus.DEPLOYED else "",
    )
    for index, size in enumerate(entry.get("disks") or ["20G"]):
        disk = builders.add_disk(state, machine, parse_bytes(size, f"{where}.disks[{index}]"), pool=pod.default_storage_pool if pod else None)
        if pod is not None and not any(p["name"] == disk["pool"] for p in pod.storage_pools):
            raise ScenarioError(f"{where}: VM host {pod.name} has no storage pool {disk['pool']!r}")
    if pod is not None:
        state.add(VirtualMachine(id=state.next_id("vm"), pod_id=pod.id, identifier=machine.hostname,
                                 project=pod.power_parameters.get("project", "default"), cores=machine.cpu_count, memory=machine.memory,
                                 machine_id=machine.system_id, disks=[{"pool": d["pool"], "size": d["size"]} for d in machine.disks]))
        machine.power_parameters = {"instance_name": machine.hostname, "project": pod.power_parameters.get("project", "default")}
    elif entry.get("power_parameters") is not None or machine.power_type == "lxd":
        machine.power_parameters = _power_parameters(state, entry, where, machine.power_type)
    if entry.get("owner_data") is not None:
        if not isinstance(entry["owner_data"], dict):
            raise ScenarioError(f"{where}.owner_data: expected a mapping")
        machine.owner_data = {str(key): str(value) for key, value in entry["owner_data"].items()}
    _attach(state, machine, where, entry.get("ip"), entry.get("ip_mode"))
    if status in (NodeStatus.COMMISSIONING, NodeStatus.DEPLOYING, NodeStatus.RELEASING, NodeStatus.DISK_ERASING):
        action = {NodeStatus.COMMISSIONING: "commissioning", NodeStatus.DEPLOYING: "deploying", NodeStatus.RELEASING: "releasing",
                  NodeStatus.DISK_ERASING: "disk_erasing"}[status]
        machine.pending = {"action": action, "at": time.time() + state.meta["timings"][action], "fail": False}
        state.schedule(machine)
    return machine


def _generated(state: State, entry: dict, where: str) -> None:
    _check_keys(entry, {"count", "prefix", "zone", "pool", "status", "cpu_count", "memory", "disk", "tags", "owner"}, where)
    count = int(entry.get("count", 0))
    prefix = entry.get("prefix", "node")
    template = {key: entry[key] for key in ("zone", "pool", "status", "cpu_count", "memory", "tags", "owner") if key in entry}
    template["disks"] = [entry.get("disk", "100G")]
    width = len(str(count))
    for number in range(1, count + 1):
        _machine(state, dict(template, hostname=f"{prefix}-{number:0{width}d}"), f"{where} #{number}")


def _split_name(fqdn: str) -> tuple[str, str]:
    """``host.domain`` -> ``("host", "domain")``; no dot -> ``(fqdn, "")``."""
    return tuple(fqdn.split(".", 1)) if "." in fqdn else (fqdn, "")


def _reservation(state: State, entry: dict, where: str) -> None:
    _check_keys(entry, {"ip", "owner", "hostname"}, where)
    address = str(entry.get("ip", ""))
    subnet = lookup.best_subnet_for_ip(state, address)
    if subnet is None:
        raise ScenarioError(f"{where}: no subnet holds {address!r}")
    if state.ip_by_address(address) is not None:
        raise ScenarioError(f"{where}: address {address} is used twice")
    owner = lookup.user_named(state, entry["owner"]) if entry.get("owner") else next(u for u in state.all("user") if u.is_superuser)
    if owner is None:
        raise ScenarioError(f"{where}: unknown owner {entry['owner']!r}")
    sip = builders.create_ip(state, IPType.USER_RESERVED, address, subnet.id, owner.id)
    if entry.get("hostname"):
        name, domain_name = _split_name(str(entry["hostname"]))
        domain = _named(state, "domain", domain_name, where, "domain") if domain_name else lookup.default_domain(state)
        state.add(DNSResource(id=state.next_id("dnsresource"), name=name, domain_id=domain.id, ip_ids=[sip.id]))


def _dns_resource(state: State, entry: dict, where: str) -> None:
    _check_keys(entry, {"fqdn", "ip_addresses", "address_ttl"}, where)
    name, domain_name = _split_name(str(entry.get("fqdn", "")))
    if not name or not domain_name:
        raise ScenarioError(f"{where}: fqdn must be <name>.<domain>")
    domain = _named(state, "domain", domain_name, where, "domain")
    admin = next(u for u in state.all("user") if u.is_superuser)
    ip_ids = []
    for address in entry.get("ip_addresses") or []:
        sip = state.ip_by_address(str(address))
        if sip is None:
            subnet = lookup.best_subnet_for_ip(state, str(address))
            sip = builders.create_ip(state, IPType.USER_RESERVED, str(address), subnet.id if subnet else None, admin.id)
        ip_ids.append(sip.id)
    state.add(DNSResource(id=state.next_id("dnsresource"), name=name, domain_id=domain.id, address_ttl=entry.get("address_ttl"), ip_ids=ip_ids))
