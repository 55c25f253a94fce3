"""Composing a VM on a VM host (``ComposeMachineForm``, ``Pod.create_machine``, the LXD driver).

Order of checks, as in MAAS: form validation (400 JSON per field), interface
requirements (400 text), the over-commit check (503 ``Unable to compose KVM
instance ...``), then the driver: unreachable host or injected failure (503
``Unable to compose machine because: ...``), storage pools without room (500,
MAAS does not map ``PodInvalidResources``), requested addresses already in use
or inside a dynamic/reserved range (404, from ``allocate_new``). Nothing is
created before every check passed.
"""

from __future__ import annotations

import zlib

from . import builders, capacity, constraints, lifecycle, lookup, netlogic
from .enums import IPType, NodeStatus
from .errors import ApiError, unavailable, validation_error
from .model import VirtualMachine
from .params import FieldErrors, Params, form_bool, hostname_error, int_field, invalid_choice, model_invalid_choice
from .state import State

DEFAULT_CORES = 1
DEFAULT_MEMORY = 2048  # MiB
DEFAULT_STORAGE = "root:8(local)"  # GB


def ifname_for_label(label: str) -> str:
    """``get_ifname_for_label``: numeric labels become ``ethN``, long names are hashed to 15 bytes."""
    if label.isnumeric():
        label = f"eth{int(label)}"
    raw = label.encode()
    if len(raw) > 15:
        digest = (b"%05x" % (zlib.crc32(raw) & 0xFFFFFFFF))[-5:]
        raw = b"eth-%s-%s" % (digest, raw[len(raw) - 5:])
    return raw.decode()


def offline_message(pod) -> str:
    """The driver error MAAS reports when the host's LXD/libvirt API cannot be reached."""
    if pod.type == "lxd":
        return (f"Pod {pod.id}: Failed to connect to the LXD REST API: HTTPSConnectionPool(host='{pod.power_parameters.get('power_address')}'): "
                "Max retries exceeded ([Errno 113] No route to host)")
    return f"Failed to login to virsh console: {pod.power_parameters.get('power_address')}: unable to connect to server"


class Request:
    """A validated compose request."""

    def __init__(self, state: State, pod, params: Params):
        self.state = state
        self.pod = pod
        errors = FieldErrors()
        self.cores = int_field(errors, params, "cores", minimum=1, maximum=pod.cores)
        pinned = []
        for value in params.getlist("pinned_cores"):
            if not value.isdigit() or int(value) >= pod.cores:
                errors.add("pinned_cores", invalid_choice(value))
            else:
                pinned.append(int(value))
        self.pinned_cores = sorted(pinned)
        self.memory = int_field(errors, params, "memory", minimum=1024, maximum=pod.memory)
        self.hugepages_backed = form_bool(params, "hugepages_backed")
        self.architecture = params.get("architecture") or None
        if self.architecture and self.architecture not in pod.architectures:
            errors.add("architecture", invalid_choice(self.architecture))
        self.cpu_speed = int_field(errors, params, "cpu_speed", minimum=300, maximum=pod.cpu_speed or None)
        self.hostname = params.get("hostname") or None
        if self.hostname:
            if lookup.machine_by_hostname(state, self.hostname) is not None:
                errors.add("hostname", f'Node with hostname "{self.hostname}" already exists')
            else:
                problem = hostname_error(self.hostname)
                if problem:
                    errors.add("hostname", problem)
        self.domain = self._model(errors, params, "domain", "domain") or lookup.default_domain(state)
        self.zone = self._model(errors, params, "zone", "zone") or lookup.default_zone(state)
        self.pool = self._model(errors, params, "pool", "pool") or state.get("pool", pod.pool_id)
        self.storage = params.get("storage") or DEFAULT_STORAGE
        constraints.check_storage(errors, "storage", self.storage)
        raw_interfaces = params.get("interfaces")
        self.interfaces = constraints.check_interfaces(errors, "interfaces", raw_interfaces) if raw_interfaces else None
        self.skip_commissioning = form_bool(params, "skip_commissioning")
        errors.raise_if_any()
        self.cores = len(self.pinned_cores) if self.pinned_cores else (self.cores or DEFAULT_CORES)
        self.memory = self.memory or DEFAULT_MEMORY
        self.architecture = self.architecture or (pod.architectures[0] if pod.architectures else "amd64/generic")

    def _model(self, errors: FieldErrors, params: Params, key: str, kind: str):
        """``ModelChoiceField`` by primary key."""
        raw = params.get(key)
        if raw is None or raw == "":
            return None
        obj = lookup.by_id(self.state, kind, raw)
        if obj is None:
            errors.add(key, model_invalid_choice())
        return obj

    def nic_plan(self) -> list[dict]:
        """``[{"name", "vlan_id", "ips", "unconfigured"}]`` for the new VM's NICs."""
        state, pod = self.state, self.pod
        host = state.get("machine", pod.host_system_id) if pod.host_system_id else None
        host_interfaces = state.interfaces_of(host.system_id) if host else []
        if self.interfaces is None:
            vlan_id = host_interfaces[0].vlan_id if host_interfaces else (state.all("vlan")[0].id if state.all("vlan") else None)
            return [{"name": "eth0", "vlan_id": vlan_id, "ips": [], "unconfigured": False}]
        if host is None:
            raise validation_error("Pod must be on a known host if interfaces are specified.")
        plan, bootable = [], False
        for label, wanted in self.interfaces.items():
            filters = {key: values for key, values in wanted.items() if key != "mode"}
            match = next((i for i in host_interfaces if constraints.interface_matches(state, i, filters)), None)
            if match is None:
                raise validation_error("This pod does not match the specified networks.")
            vlan = state.get("vlan", match.vlan_id) if match.vlan_id is not None else None
            bootable = bootable or bool(vlan and vlan.dhcp_on)
            plan.append({"name": ifname_for_label(label), "vlan_id": match.vlan_id, "ips": list(wanted.get("ip", [])),
                         "unconfigured": "unconfigured" in wanted.get("mode", [])})
        if not bootable:
            raise validation_error("MAAS DHCP must be enabled on at least one VLAN attached to the specified interfaces.")
        return plan


def check_addresses(state: State, plan: list[dict]) -> None:
    """Every requested address must be allocatable (``allocate_new`` with a requested address)."""
    for nic in plan:
        for address in nic["ips"]:
            subnet = lookup.best_subnet_for_ip(state, address)
            if subnet is None:
                raise ApiError(403, "Could not find an appropriate subnet.")
            netlogic.check_requested_ip(state, subnet, address)


def compose(state: State, pod, user, params: Params, faults, dynamic: bool = False, skip_commissioning: bool | None = None):
    """Validate, check capacity, then create the machine and its VM; returns the machine."""
    if "composable" not in pod.capabilities:
        raise validation_error("VM host does not support composability.")
    request = Request(state, pod, params)
    plan = request.nic_plan()
    used = capacity.usage(state, pod)
    message = capacity.over_commit_message(pod, used, request.cores, request.memory)
    if message:
        raise unavailable(f"Unable to compose KVM instance in '{pod.name}'. {message}")
    if pod.name in faults["vmhost_offline"]:
        raise unavailable(f"Unable to compose machine because: {offline_message(pod)}")
    if pod.name in faults["compose_fail"]:
        raise unavailable(f"Unable to compose machine because: {faults['compose_fail'][pod.name]}")
    claimed: dict = {}
    disks = []
    for _label, size, tags in constraints.parse_storage(request.storage):
        chosen = capacity.pick_storage_pool(pod, used, size, tags, claimed)
        claimed[chosen["name"]] = claimed.get(chosen["name"], 0) + size
        disks.append((size, chosen["name"], tags))
    check_addresses(state, plan)
    skip = request.skip_commissioning if skip_commissioning is None else skip_commissioning
    return _create(state, pod, user, request, plan, disks, dynamic, skip, faults)


def _create(state: State, pod, user, request: Request, plan: list, disks: list, dynamic: bool, skip: bool, faults):
    machine = builders.create_machine(
        state, hostname=request.hostname, status=NodeStatus.READY if skip else NodeStatus.NEW,
        domain_id=request.domain.id, zone_id=request.zone.id, pool_id=request.pool.id if request.pool else None,
        architecture=request.architecture, cpu_count=request.cores, cpu_speed=request.cpu_speed or pod.cpu_speed, memory=request.memory,
        power_type=pod.type, power_state="off", tags=list(pod.tags), pod_id=pod.id, parent_id=pod.host_system_id, dynamic=dynamic,
    )
    machine.power_parameters = {"power_address": pod.power_parameters.get("power_address"), "instance_name": machine.hostname,
                                "project": pod.power_parameters.get("project", "default")}
    for size, pool_name, tags in disks:
        builders.add_disk(state, machine, size, pool=pool_name, tags=tags)
    state.add(VirtualMachine(id=state.next_id("vm"), pod_id=pod.id, identifier=machine.hostname,
                             project=pod.power_parameters.get("project", "default"), cores=request.cores, memory=request.memory,
                             hugepages_backed=request.hugepages_backed, machine_id=machine.system_id,
                             disks=[{"pool": pool_name, "size": size} for size, pool_name, _tags in disks]))
    for nic in plan:
        interface = builders.create_interface(state, machine, nic["name"], nic["vlan_id"])
        for address in nic["ips"]:
            subnet = lookup.best_subnet_for_ip(state, address)
            if interface.vlan_id != subnet.vlan_id:
                interface.vlan_id = subnet.vlan_id
                state.touch(interface)
            builders.create_ip(state, IPType.AUTO, address, subnet.id, None, interface.id)
        if nic["unconfigured"]:
            for sip in state.ips_of(interface.id):
                sip.alloc_type, sip.ip = IPType.STICKY, None
                state.touch(sip)
    if skip:
        netlogic.set_initial_networking(state, machine)
    else:
        lifecycle.start(state, machine, "commissioning", fail=machine.hostname in faults["commission_fail"])
        machine.power_state = "on"
    return machine


def usable_for_allocation(state: State, cleaned: dict, raw: Params, zone: str | None) -> list:
    """VM hosts ``op=allocate`` may compose on, non-over-commit ones first (``get_allocated_composed_machine``).

    Without RBAC every user may compose dynamically on every VM host.
    """
    pods = state.all("pod")
    if zone is not None:
        pods = [p for p in pods if state.get("zone", p.zone_id).name == zone]
    tags = raw.getlist("tags")
    not_tags = raw.getlist("not_tags")
    if tags:
        pods = [p for p in pods if set(tags) <= set(p.tags)]
    if not_tags:
        pods = [p for p in pods if not set(not_tags) <= set(p.tags)]
    for key, keep in (("pod", True), ("not_pod", False)):
        if cleaned.get(key):
            pods = [p for p in pods if (p.name in cleaned[key]) == keep]
    for key, keep in (("pod_type", True), ("not_pod_type", False)):
        if cleaned.get(key):
            pods = [p for p in pods if (p.type in cleaned[key]) == keep]
    return [p for p in pods if "over_commit" not in p.capabilities] + [p for p in pods if "over_commit" in p.capabilities]
