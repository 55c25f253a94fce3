"""API JSON of each object, with MAAS 3.6's field sets and nesting.

Field lists follow the handlers' ``fields``/``DISPLAYED_*_FIELDS`` in
``maasserver/api/*.py``; nested objects are rendered with their own handler's
fields plus ``resource_uri``.
"""

from __future__ import annotations

import datetime
import json

from . import capacity, lookup, modes
from .enums import IP_TYPE_NAMES, STATUS_NAMES, TEST_STATUS_NAMES, IPType, NodeStatus
from .state import State

API = "/MAAS/api/2.0/"


def dumps(data) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(data, separators=(",", ":")).encode()


def iso(timestamp: float) -> str:
    """Django's JSON datetime form (naive, milliseconds)."""
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")


def _memo(state: State, key: tuple, build):
    """A shared object's JSON dict, built once per state generation (see ``State.memo``)."""
    found = state.memo.get(key)
    if found is None:
        found = state.memo[key] = build()
    return found


def user(obj) -> dict | None:
    """``UserHandler`` fields."""
    if obj is None:
        return None
    return {
        "username": obj.username,
        "email": obj.email,
        "is_local": True,
        "is_superuser": obj.is_superuser,
        "resource_uri": f"{API}users/{obj.username}/",
    }


def zone(obj) -> dict:
    """``ZoneHandler`` fields."""
    return {"id": obj.id, "name": obj.name, "description": obj.description, "resource_uri": f"{API}zones/{obj.name}/"}


def pool(obj) -> dict | None:
    """``ResourcePoolHandler`` fields."""
    if obj is None:
        return None
    return {"id": obj.id, "name": obj.name, "description": obj.description, "resource_uri": f"{API}resourcepool/{obj.id}/"}


def domain(state: State, obj) -> dict:
    """``DomainHandler`` fields."""
    return _memo(state, ("domain", obj.id), lambda: _domain(state, obj))


def _domain(state: State, obj) -> dict:
    default = lookup.default_domain(state)
    count = sum(len(res.ip_ids) for res in state.tables["dnsresource"].values() if res.domain_id == obj.id)
    return {
        "id": obj.id,
        "name": obj.name,
        "ttl": obj.ttl,
        "authoritative": obj.authoritative,
        "resource_record_count": count,
        "is_default": default is not None and default.id == obj.id,
        "resource_uri": f"{API}domains/{obj.id}/",
    }


def tag(obj) -> dict:
    """``TagHandler`` fields."""
    return {
        "name": obj.name,
        "definition": obj.definition,
        "comment": obj.comment,
        "kernel_opts": obj.kernel_opts,
        "resource_uri": f"{API}tags/{obj.name}/",
    }


def vlan(state: State, obj) -> dict | None:
    """``VlanHandler`` fields."""
    if obj is None:
        return None
    return _memo(state, ("vlan", obj.id), lambda: _vlan(state, obj))


def _vlan(state: State, obj) -> dict:
    fabric = state.get("fabric", obj.fabric_id)
    return {
        "vid": obj.vid,
        "mtu": obj.mtu,
        "dhcp_on": obj.dhcp_on,
        "external_dhcp": obj.external_dhcp,
        "relay_vlan": obj.relay_vlan_id,
        "fabric": fabric.name if fabric else None,
        "space": obj.space or "undefined",
        "primary_rack": obj.primary_rack,
        "secondary_rack": obj.secondary_rack,
        "name": obj.name,
        "fabric_id": obj.fabric_id,
        "id": obj.id,
        "resource_uri": f"{API}vlans/{obj.id}/",
    }


def fabric(state: State, obj) -> dict:
    """``FabricHandler`` fields."""
    vlans = [v for v in state.tables["vlan"].values() if v.fabric_id == obj.id]
    return {
        "id": obj.id,
        "name": obj.name,
        "class_type": obj.class_type,
        "vlans": [vlan(state, v) for v in sorted(vlans, key=lambda v: v.vid)],
        "resource_uri": f"{API}fabrics/{obj.id}/",
    }


def subnet(state: State, obj) -> dict | None:
    """``SubnetHandler`` fields."""
    if obj is None:
        return None
    return _memo(state, ("subnet", obj.id), lambda: _subnet(state, obj))


def _subnet(state: State, obj) -> dict:
    vlan_obj = state.get("vlan", obj.vlan_id)
    return {
        "name": obj.name,
        "description": obj.description,
        "vlan": vlan(state, vlan_obj),
        "cidr": obj.cidr,
        "rdns_mode": obj.rdns_mode,
        "gateway_ip": obj.gateway_ip,
        "dns_servers": list(obj.dns_servers),
        "allow_dns": obj.allow_dns,
        "allow_proxy": obj.allow_proxy,
        "active_discovery": obj.active_discovery,
        "managed": obj.managed,
        "disabled_boot_architectures": list(obj.disabled_boot_architectures),
        "space": (vlan_obj.space if vlan_obj else None) or "undefined",
        "id": obj.id,
        "resource_uri": f"{API}subnets/{obj.id}/",
    }


def iprange(state: State, obj) -> dict:
    """``IPRangeHandler`` fields."""
    return {
        "id": obj.id,
        "type": obj.type,
        "start_ip": obj.start_ip,
        "end_ip": obj.end_ip,
        "comment": obj.comment,
        "user": user(state.get("user", obj.user_id)) if obj.user_id is not None else None,
        "subnet": subnet(state, state.get("subnet", obj.subnet_id)),
        "resource_uri": f"{API}ipranges/{obj.id}/",
    }


def link_mode(sip) -> str:
    """``StaticIPAddress.get_interface_link_type``."""
    if sip.alloc_type == IPType.AUTO:
        return "auto"
    if sip.alloc_type in (IPType.DHCP, IPType.DISCOVERED):
        return "dhcp"
    if sip.alloc_type == IPType.USER_RESERVED:
        return "static"
    return "static" if sip.ip else "link_up"


def links(state: State, interface) -> list:
    """``Interface.get_links``."""
    result = []
    for sip in state.ips_of(interface.id):
        if sip.alloc_type == IPType.DISCOVERED:
            continue
        item = {"id": sip.id, "mode": link_mode(sip)}
        if sip.ip:
            item["ip_address"] = sip.ip
        if sip.subnet_id is not None:
            item["subnet"] = subnet(state, state.get("subnet", sip.subnet_id))
        result.append(item)
    return result


def interface(state: State, obj) -> dict:
    """``InterfaceHandler`` fields (``DISPLAYED_INTERFACE_FIELDS``)."""
    system_id = obj.system_id
    return {
        "system_id": system_id,
        "id": obj.id,
        "name": obj.name,
        "type": obj.type,
        "vlan": vlan(state, state.get("vlan", obj.vlan_id)) if obj.vlan_id is not None else None,
        "mac_address": obj.mac_address,
        "parents": [],
        "children": [],
        "tags": list(obj.tags),
        "enabled": obj.enabled,
        "links": links(state, obj),
        "params": obj.params,
        "discovered": None,
        "effective_mtu": (state.get("vlan", obj.vlan_id).mtu if obj.vlan_id is not None else 1500),
        "vendor": None,
        "product": None,
        "firmware_version": None,
        "link_connected": True,
        "interface_speed": obj.interface_speed,
        "link_speed": obj.link_speed,
        "numa_node": 0,
        "sriov_max_vf": 0,
        "resource_uri": f"{API}nodes/{system_id}/interfaces/{obj.id}/",
    }


def static_ip(state: State, sip) -> dict:
    """``IPAddressesHandler`` fields."""
    iface = state.get("interface", sip.interface_id) if sip.interface_id is not None else None
    return {
        "alloc_type": sip.alloc_type,
        "alloc_type_name": IP_TYPE_NAMES.get(sip.alloc_type, ""),
        "created": iso(sip.created),
        "ip": sip.ip,
        "owner": user(state.get("user", sip.user_id)) if sip.user_id is not None else None,
        "interface_set": [interface(state, iface)] if iface is not None else [],
        "subnet": subnet(state, state.get("subnet", sip.subnet_id)) if sip.subnet_id is not None else None,
        "resource_uri": f"{API}ipaddresses/",
    }


def dnsresource(state: State, obj) -> dict:
    """``DNSResourceHandler`` fields."""
    domain_obj = state.get("domain", obj.domain_id)
    name = obj.name
    fqdn = domain_obj.name if name == "@" else f"{name}.{domain_obj.name}"
    ips = [state.get("staticip", ip_id) for ip_id in obj.ip_ids]
    return {
        "id": obj.id,
        "fqdn": fqdn,
        "address_ttl": obj.address_ttl,
        "ip_addresses": [static_ip(state, sip) for sip in ips if sip is not None],
        "resource_records": [],
        "resource_uri": f"{API}dnsresources/{obj.id}/",
    }


def machine_ip_addresses(state: State, interfaces: list) -> list[str]:
    """``Node.ip_addresses``: assigned addresses of the machine's interfaces (in ``ordered_interfaces`` order)."""
    addresses = []
    for iface in interfaces:
        for sip in state.ips_of(iface.id):
            if sip.ip and sip.alloc_type in (IPType.AUTO, IPType.STICKY, IPType.USER_RESERVED, IPType.DHCP):
                addresses.append(sip.ip)
    return addresses


def ordered_interfaces(state: State, machine) -> list:
    """Interfaces of a machine, boot interface first."""
    interfaces = state.interfaces_of(machine.system_id)
    return sorted(interfaces, key=lambda i: (i.id != machine.boot_interface_id, i.id))


def default_gateways(state: State, machine, interfaces: list) -> dict:
    """``Node.get_default_gateways`` as the machine handler renders it (``interfaces`` from ``ordered_interfaces``)."""
    result = {"ipv4": {"gateway_ip": None, "link_id": machine.gateway_link_ipv4}, "ipv6": {"gateway_ip": None, "link_id": machine.gateway_link_ipv6}}
    chosen = {}
    for family, link_id in (("ipv4", machine.gateway_link_ipv4), ("ipv6", machine.gateway_link_ipv6)):
        sip = state.get("staticip", link_id) if link_id is not None else None
        if sip is not None and sip.subnet_id is not None:
            chosen[family] = state.get("subnet", sip.subnet_id)
    for iface in interfaces:
        for sip in state.ips_of(iface.id):
            if sip.subnet_id is None or sip.alloc_type not in (IPType.AUTO, IPType.STICKY, IPType.DHCP, IPType.USER_RESERVED):
                continue
            if link_mode(sip) == "link_up":
                continue
            sub = state.get("subnet", sip.subnet_id)
            if sub is None or not sub.gateway_ip:
                continue
            family = "ipv6" if ":" in sub.cidr else "ipv4"
            chosen.setdefault(family, sub)
    for family, sub in chosen.items():
        result[family]["gateway_ip"] = sub.gateway_ip
    return result


def block_device(machine, disk: dict) -> dict:
    """``BlockDeviceHandler`` fields of a physical disk."""
    return {
        "id": disk["id"],
        "name": disk["name"],
        "type": "physical",
        "path": f"/dev/disk/by-dname/{disk['name']}",
        "id_path": f"/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_lxd_{disk['name']}",
        "size": disk["size"],
        "block_size": 512,
        "available_size": 0,
        "used_size": disk["size"],
        "used_for": "GPT partitioned with 1 partition" if disk is machine.disks[0] else "Unused",
        "tags": list(disk.get("tags") or []),
        "model": "QEMU HARDDISK",
        "serial": f"lxd_{disk['name']}",
        "firmware_version": "2.5+",
        "uuid": None,
        "filesystem": None,
        "partitions": [],
        "partition_table_type": "GPT" if disk is machine.disks[0] else None,
        "storage_pool": disk.get("pool"),
        "numa_node": 0,
        "system_id": machine.system_id,
        "resource_uri": f"{API}nodes/{machine.system_id}/blockdevices/{disk['id']}/",
    }


def _result_status(machine) -> int:
    """Commissioning/testing result status code for a machine's state."""
    if machine.status == NodeStatus.NEW:
        return -1
    if machine.status == NodeStatus.COMMISSIONING:
        return 1
    if machine.status == NodeStatus.FAILED_COMMISSIONING:
        return 3
    return 2


def machine(state: State, obj) -> dict:
    """``MachineHandler`` fields (``DISPLAYED_MACHINE_FIELDS``, 3.6)."""
    domain_obj = state.get("domain", obj.domain_id)
    owner = state.get("user", obj.owner_id) if obj.owner_id is not None else None
    interfaces = ordered_interfaces(state, obj)
    rendered = {i.id: interface(state, i) for i in interfaces}
    pod_obj = state.get("pod", obj.pod_id) if obj.pod_id is not None else None
    vm = state.vm_of_machine(obj.system_id) if pod_obj else None
    vm = vm if vm is not None and vm.pod_id == pod_obj.id else None
    disks = [block_device(obj, disk) for disk in obj.disks]
    result_status = _result_status(obj)
    result_name = TEST_STATUS_NAMES[result_status]
    tested = result_status if result_status != 1 else 0
    data = {
        "system_id": obj.system_id,
        "hostname": obj.hostname,
        "description": obj.description,
        "hardware_uuid": obj.hardware_uuid,
        "domain": domain(state, domain_obj),
        "fqdn": f"{obj.hostname}.{domain_obj.name}",
        "owner": owner.username if owner else None,
        "owner_data": dict(obj.owner_data),
        "locked": obj.locked,
        "cache_sets": [],
        "bcaches": [],
        "bios_boot_method": "uefi" if obj.pod_id is not None else "pxe",
        "boot_interface": rendered.get(obj.boot_interface_id),
        "architecture": obj.architecture,
        "min_hwe_kernel": obj.min_hwe_kernel,
        "hwe_kernel": obj.hwe_kernel,
        "cpu_count": obj.cpu_count,
        "cpu_speed": obj.cpu_speed,
        "memory": obj.memory,
        "swap_size": obj.swap_size,
        "storage": sum(disk["size"] for disk in obj.disks) / 1000**2,
        "status": obj.status,
        "osystem": obj.osystem,
        "distro_series": obj.distro_series,
        "ephemeral_deploy": obj.ephemeral_deploy,
        "error_description": obj.error_description,
        "netboot": obj.netboot,
        "power_type": obj.power_type,
        "power_state": obj.power_state,
        "tag_names": list(obj.tags),
        "address_ttl": None,
        "ip_addresses": machine_ip_addresses(state, interfaces),
        "interface_set": [rendered[i.id] for i in interfaces],
        "zone": zone(state.get("zone", obj.zone_id)),
        "pool": pool(state.get("pool", obj.pool_id)) if obj.pool_id is not None else None,
        "disable_ipv4": False,
        "boot_disk": disks[0] if disks else None,
        "blockdevice_set": disks,
        "physicalblockdevice_set": disks,
        "virtualblockdevice_set": [],
        "volume_groups": [],
        "raids": [],
        "status_action": "",
        "status_message": obj.status_message,
        "status_name": STATUS_NAMES[obj.status],
        "node_type": 0,
        "node_type_name": "Machine",
        "special_filesystems": [],
        "parent": (
            {"system_id": obj.parent_id, "resource_uri": f"{API}machines/{obj.parent_id}/", "__incomplete__": True} if obj.parent_id else None
        ),
        "pod": {"id": pod_obj.id, "name": pod_obj.name, "resource_uri": f"{API}pods/{pod_obj.id}/"} if pod_obj else None,
        "default_gateways": default_gateways(state, obj, interfaces),
        "current_commissioning_result_id": obj.id * 3 if result_status >= 0 else None,
        "current_testing_result_id": obj.id * 3 + 1 if result_status >= 0 else None,
        "current_installation_result_id": obj.id * 3 + 2 if obj.status in (NodeStatus.DEPLOYING, NodeStatus.DEPLOYED) else None,
        "commissioning_status": result_status,
        "commissioning_status_name": result_name,
        "testing_status": tested,
        "testing_status_name": TEST_STATUS_NAMES[tested],
        "cpu_test_status": tested,
        "cpu_test_status_name": TEST_STATUS_NAMES[tested],
        "memory_test_status": tested,
        "memory_test_status_name": TEST_STATUS_NAMES[tested],
        "network_test_status": -1,
        "network_test_status_name": "Unknown",
        "storage_test_status": tested,
        "storage_test_status_name": TEST_STATUS_NAMES[tested],
        "other_test_status": -1,
        "other_test_status_name": "Unknown",
        "hardware_info": _hardware_info(obj),
        "interface_test_status": -1,
        "interface_test_status_name": "Unknown",
        "numanode_set": [{"index": 0, "cores": list(range(obj.cpu_count)), "memory": obj.memory, "hugepages_set": []}],
        "virtualmachine_id": vm.id if vm else None,
        "workload_annotations": dict(obj.owner_data),
        "last_sync": None,
        "sync_interval": None,
        "next_sync": None,
        "enable_hw_sync": obj.enable_hw_sync,
        "enable_kernel_crash_dump": obj.enable_kernel_crash_dump,
        "resource_uri": f"{API}machines/{obj.system_id}/",
    }
    if modes.without_vm_hosts(state):
        # DISPLAYED_MACHINE_FIELDS lost both in MAAS 4.0 (commit 08f65b9c1).
        del data["pod"], data["virtualmachine_id"]
    return data


def _hardware_info(obj) -> dict:
    """``hardware_info``: what commissioning found (QEMU for VMs)."""
    virtual = obj.pod_id is not None
    unknown = "Unknown"
    return {
        "system_vendor": "QEMU" if virtual else unknown,
        "system_product": "Standard PC (Q35 + ICH9, 2009)" if virtual else unknown,
        "system_family": unknown,
        "system_version": "pc-q35-8.2" if virtual else unknown,
        "system_sku": unknown,
        "system_serial": unknown,
        "cpu_model": "Intel Core Processor (Skylake, IBRS)" if virtual else unknown,
        "mainboard_vendor": unknown,
        "mainboard_product": unknown,
        "mainboard_serial": unknown,
        "mainboard_version": unknown,
        "mainboard_firmware_vendor": "EFI Development Kit II / OVMF" if virtual else unknown,
        "mainboard_firmware_date": unknown,
        "mainboard_firmware_version": unknown,
        "chassis_vendor": unknown,
        "chassis_type": "Other" if virtual else unknown,
        "chassis_serial": unknown,
        "chassis_version": unknown,
    }


def machine_json(state: State, obj) -> bytes:
    """The machine's JSON bytes, from the cache when nothing it shows changed."""
    cached = state.cached_json(obj.system_id)
    if cached is None:
        cached = dumps(machine(state, obj))
        state.cache_json(obj.system_id, cached)
    return cached


def pod(state: State, obj, base: str = "vm-hosts") -> dict:
    """``VmHostHandler`` fields (``DISPLAYED_POD_FIELDS``); ``base`` is ``vm-hosts`` or ``pods``."""
    used = capacity.usage(state, obj)
    total = {"cores": obj.cores, "memory": obj.memory, "local_storage": capacity.local_storage(obj)}
    used_dict = {"cores": used.cores, "memory": used.memory, "local_storage": used.storage}
    pools = []
    for item in obj.storage_pools:
        pool_used = used.pools.get(item["name"], 0)
        pools.append(
            {
                "id": item.get("id", item["name"]),
                "name": item["name"],
                "type": item.get("type", "dir"),
                "path": item.get("path", ""),
                "total": item["total"],
                "used": pool_used,
                "available": item["total"] - pool_used,
                "default": item["name"] == obj.default_storage_pool,
            }
        )
    return {
        "id": obj.id,
        "name": obj.name,
        "tags": list(obj.tags),
        "type": obj.type,
        "architectures": list(obj.architectures),
        "capabilities": list(obj.capabilities),
        "total": total,
        "used": used_dict,
        "available": {key: total[key] - used_dict[key] for key in total},
        "zone": zone(state.get("zone", obj.zone_id)),
        "cpu_over_commit_ratio": float(obj.cpu_over_commit_ratio),
        "memory_over_commit_ratio": float(obj.memory_over_commit_ratio),
        "storage_pools": pools,
        "pool": pool(state.get("pool", obj.pool_id)),
        "host": {"system_id": obj.host_system_id, "__incomplete__": True},
        "default_macvlan_mode": obj.default_macvlan_mode,
        "version": obj.version,
        "resource_uri": f"{API}{base}/{obj.id}/",
    }
