"""The simulator's object model: one dataclass per MAAS table it keeps.

Objects refer to each other by id (``zone_id``, ``system_id``...), exactly as
MAAS's database rows do; the renderers in ``render.py`` turn them into API
JSON. Every class is persisted as a JSON record (``dataclasses.asdict``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar


class Record:
    """Base of every stored object: ``KIND`` names its table, ``KEY`` its primary-key field."""

    KIND: ClassVar[str] = ""
    KEY: ClassVar[str] = "id"

    @property
    def key(self):
        """Primary key value."""
        return getattr(self, self.KEY)


@dataclass
class User(Record):
    """A MAAS user and its API keys (``consumer:token:secret``)."""

    id: int
    username: str
    email: str = ""
    is_superuser: bool = False
    keys: list = field(default_factory=list)  # [{"consumer", "token", "secret", "name"}]

    KIND = "user"


@dataclass
class Zone(Record):
    """A physical zone (``/zones/{name}/``)."""

    id: int
    name: str
    description: str = ""

    KIND = "zone"


@dataclass
class Pool(Record):
    """A resource pool (``/resourcepool/{id}/``)."""

    id: int
    name: str
    description: str = ""

    KIND = "pool"


@dataclass
class Domain(Record):
    """A DNS domain."""

    id: int
    name: str
    authoritative: bool = True
    ttl: int | None = None

    KIND = "domain"


@dataclass
class Tag(Record):
    """A machine tag."""

    id: int
    name: str
    definition: str = ""
    comment: str = ""
    kernel_opts: str = ""

    KIND = "tag"


@dataclass
class Fabric(Record):
    """A fabric."""

    id: int
    name: str
    class_type: str | None = None
    description: str = ""

    KIND = "fabric"


@dataclass
class Vlan(Record):
    """A VLAN on a fabric."""

    id: int
    fabric_id: int
    vid: int = 0
    name: str = "untagged"
    mtu: int = 1500
    dhcp_on: bool = False
    external_dhcp: str | None = None
    relay_vlan_id: int | None = None
    primary_rack: str | None = None
    secondary_rack: str | None = None
    space: str | None = None
    description: str = ""

    KIND = "vlan"


@dataclass
class Subnet(Record):
    """An IP subnet on a VLAN."""

    id: int
    name: str
    cidr: str
    vlan_id: int
    gateway_ip: str | None = None
    dns_servers: list = field(default_factory=list)
    rdns_mode: int = 2
    allow_dns: bool = True
    allow_proxy: bool = True
    active_discovery: bool = False
    managed: bool = True
    description: str = ""
    disabled_boot_architectures: list = field(default_factory=list)

    KIND = "subnet"


@dataclass
class IPRange(Record):
    """A dynamic or reserved range of a subnet."""

    id: int
    subnet_id: int
    type: str
    start_ip: str
    end_ip: str
    comment: str = ""
    user_id: int | None = None

    KIND = "iprange"


@dataclass
class StaticIP(Record):
    """A ``StaticIPAddress`` row: an address, or an interface link without one (AUTO before deploy, DHCP, LINK_UP)."""

    id: int
    alloc_type: int
    ip: str | None = None
    subnet_id: int | None = None
    user_id: int | None = None
    interface_id: int | None = None
    created: float = 0.0
    updated: float = 0.0

    KIND = "staticip"


@dataclass
class Interface(Record):
    """A network interface; ``system_id`` is None for a MAC-only ``unknown`` interface (``ipaddresses reserve mac=``)."""

    id: int
    system_id: str | None
    name: str
    mac_address: str | None
    vlan_id: int | None = None
    type: str = "physical"
    enabled: bool = True
    tags: list = field(default_factory=list)
    params: str = ""
    link_speed: int = 0
    interface_speed: int = 0

    KIND = "interface"


@dataclass
class Machine(Record):
    """A machine (``node_type`` 0)."""

    system_id: str
    hostname: str
    domain_id: int
    zone_id: int
    pool_id: int | None
    status: int = 4
    owner_id: int | None = None
    architecture: str = "amd64/generic"
    cpu_count: int = 1
    cpu_speed: int = 0
    memory: int = 2048
    disks: list = field(default_factory=list)  # [{"id", "name", "size", "tags", "pool"}]
    power_type: str = "manual"
    power_state: str = "off"
    power_parameters: dict = field(default_factory=dict)
    osystem: str = ""
    distro_series: str = ""
    hwe_kernel: str | None = None
    min_hwe_kernel: str = ""
    user_data: str | None = None
    tags: list = field(default_factory=list)
    pod_id: int | None = None
    parent_id: str | None = None
    dynamic: bool = False
    description: str = ""
    status_message: str = ""
    error_description: str = ""
    locked: bool = False
    agent_name: str = ""
    ephemeral_deploy: bool = False
    netboot: bool = True
    boot_interface_id: int | None = None
    gateway_link_ipv4: int | None = None
    gateway_link_ipv6: int | None = None
    hardware_uuid: str = ""
    swap_size: int | None = None
    owner_data: dict = field(default_factory=dict)
    enable_hw_sync: bool = False
    enable_kernel_crash_dump: bool = False
    previous_status: int | None = None
    created: float = 0.0
    pending: dict | None = None  # {"action", "at", "fail", ...}: a timed transition in progress
    power_error: str = ""  # the power driver's last failure (not in the API; /_sim/state shows it)
    id: int = 0  # MAAS's internal node id: lists are ordered by it

    KIND = "machine"
    KEY = "system_id"


@dataclass
class Pod(Record):
    """A VM host (``/vm-hosts/``, ``/pods/``)."""

    id: int
    name: str
    type: str = "lxd"
    zone_id: int = 1
    pool_id: int = 0
    tags: list = field(default_factory=list)
    cpu_over_commit_ratio: float = 1.0
    memory_over_commit_ratio: float = 1.0
    cores: int = 0
    memory: int = 0  # MiB
    cpu_speed: int = 0
    storage_pools: list = field(default_factory=list)  # [{"id", "name", "type", "path", "total"}]
    default_storage_pool: str | None = None
    host_system_id: str | None = None
    version: str = ""
    architectures: list = field(default_factory=lambda: ["amd64/generic"])
    capabilities: list = field(default_factory=list)
    default_macvlan_mode: str | None = None
    power_parameters: dict = field(default_factory=dict)

    KIND = "pod"


@dataclass
class VirtualMachine(Record):
    """A VM on a VM host; ``machine_id`` is None for VMs MAAS knows only as load on the host."""

    id: int
    pod_id: int
    identifier: str
    project: str = "default"
    cores: int = 1
    memory: int = 2048
    hugepages_backed: bool = False
    machine_id: str | None = None
    disks: list = field(default_factory=list)  # [{"pool", "size"}]

    KIND = "vm"


@dataclass
class DNSResource(Record):
    """A DNS resource (address records only)."""

    id: int
    name: str
    domain_id: int
    address_ttl: int | None = None
    ip_ids: list = field(default_factory=list)

    KIND = "dnsresource"


MODELS = {
    cls.KIND: cls
    for cls in (User, Zone, Pool, Domain, Tag, Fabric, Vlan, Subnet, IPRange, StaticIP, Interface, Machine, Pod, VirtualMachine, DNSResource)
}


def to_record(obj) -> dict:
    """A JSON-safe dict of ``obj``."""
    return dataclasses.asdict(obj)


def from_record(kind: str, record: dict):
    """Rebuild an object of ``kind`` from ``to_record`` output (unknown keys ignored)."""
    cls = MODELS[kind]
    names = {item.name for item in dataclasses.fields(cls)}
    return cls(**{key: value for key, value in record.items() if key in names})
