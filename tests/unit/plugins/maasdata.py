"""Builders of MAAS API objects for unit tests, shaped after the MAAS 3.x API reference.

Each builder returns a fresh dict with the fields the collection reads; keyword arguments
override them. Only shapes live here; every test states the values it depends on.
"""

from __future__ import annotations

import copy

API = "/MAAS/api/2.0/"


def zone(name, zone_id):
    """A zone object as nested in VM hosts and machines."""
    return {"id": zone_id, "name": name, "description": "", "resource_uri": API + "zones/%s/" % name}


def pool(name="default", pool_id=0):
    """A resource pool object."""
    return {"id": pool_id, "name": name, "description": "", "resource_uri": API + "resourcepool/%d/" % pool_id}


def storage_pool(name="default", total=500 * 10 ** 9, used=0, default=True, kind="zfs"):
    """A VM host storage pool (bytes)."""
    return {"id": name, "name": name, "type": kind, "path": "/var/lib/lxd/storage-pools/" + name,
            "total": total, "used": used, "available": total - used, "default": default}


def vm_host(host_id, name, zone_name="az1", zone_id=1, cores=16, memory=65536, used_cores=0, used_memory=0,
            cpu_ratio=1.0, memory_ratio=1.0, tags=None, kind="lxd", system_id="host%02d" % 0, pools=None,
            pool_name="default", pool_id=0):
    """A VM host (``GET /vm-hosts/``) with totals, used and available."""
    pools = pools if pools is not None else [storage_pool()]
    local_total = sum(p["total"] for p in pools)
    local_used = sum(p["used"] for p in pools)
    return {
        "id": host_id,
        "name": name,
        "type": kind,
        "version": "5.21.1",
        "architectures": ["amd64/generic"],
        "capabilities": ["composable", "dynamic_local_storage", "over_commit", "storage_pools"],
        "tags": list(tags or ["pod-console-logging"]),
        "zone": zone(zone_name, zone_id),
        "pool": pool(pool_name, pool_id),
        "cpu_over_commit_ratio": cpu_ratio,
        "memory_over_commit_ratio": memory_ratio,
        "default_macvlan_mode": None,
        "host": {"system_id": system_id, "__incomplete__": True},
        "total": {"cores": cores, "memory": memory, "local_storage": local_total},
        "used": {"cores": used_cores, "memory": used_memory, "local_storage": local_used},
        "available": {"cores": cores - used_cores, "memory": memory - used_memory, "local_storage": local_total - local_used},
        "storage_pools": pools,
        "resource_uri": API + "vm-hosts/%d/" % host_id,
    }


def subnet(cidr="10.10.0.0/24", subnet_id=1, gateway="10.10.0.1", dns=None):
    """A subnet object."""
    return {"id": subnet_id, "name": cidr, "cidr": cidr, "gateway_ip": gateway, "dns_servers": list(dns or []),
            "vlan": {"id": 5001, "vid": 0, "fabric": "fabric-0"}, "space": "undefined", "managed": True,
            "resource_uri": API + "subnets/%d/" % subnet_id}


def link(link_id, mode, ip=None, sub=None):
    """An interface link."""
    data = {"id": link_id, "mode": mode, "subnet": copy.deepcopy(sub or subnet())}
    if ip:
        data["ip_address"] = ip
    return data


def interface(iface_id, name="eth0", links=None, mac="00:16:3e:00:00:%02x", system_id="vm0001"):
    """A machine interface."""
    return {"id": iface_id, "name": name, "type": "physical", "mac_address": mac % iface_id if "%" in mac else mac,
            "enabled": True, "system_id": system_id, "links": list(links or []), "vlan": {"id": 5001, "vid": 0},
            "resource_uri": API + "nodes/%s/interfaces/%d/" % (system_id, iface_id)}


def machine(system_id, hostname, status="Ready", cores=2, memory=4096, disks=(20 * 1024 ** 3,), host=None,
            zone_name="az1", zone_id=1, tags=(), interfaces=None, owner=None, pool_name="default", pool_id=0, **extra):
    """A machine (``GET /machines/{id}/``); ``host`` is the VM host dict for a VM, None for bare metal."""
    devices = [{"id": 100 + i, "name": "sd" + "abcdefgh"[i], "size": size, "model": "QEMU HARDDISK"}
               for i, size in enumerate(disks)]
    if interfaces is None:
        interfaces = [interface(1, system_id=system_id, links=[link(11, "auto")])]
    data = {
        "system_id": system_id,
        "hostname": hostname,
        "fqdn": hostname + ".maas",
        "domain": {"id": 0, "name": "maas", "is_default": True},
        "status_name": status,
        "status_message": status,
        "error_description": "",
        "owner": owner,
        "cpu_count": cores,
        "memory": memory,
        "zone": zone(zone_name, zone_id),
        "pool": pool(pool_name, pool_id),
        "tag_names": list(tags),
        "osystem": "",
        "distro_series": "",
        "hwe_kernel": None,
        "power_state": "off",
        "power_type": "lxd" if host else "ipmi",
        "pod": {"id": host["id"], "name": host["name"], "resource_uri": API + "pods/%d/" % host["id"]} if host else None,
        "boot_disk": devices[0] if devices else None,
        "physicalblockdevice_set": devices,
        "blockdevice_set": devices,
        "interface_set": interfaces,
        "ip_addresses": [l["ip_address"] for i in interfaces for l in i["links"] if l.get("ip_address")],
        "default_gateways": {"ipv4": {"gateway_ip": None, "link_id": None}, "ipv6": {"gateway_ip": None, "link_id": None}},
        "resource_uri": API + "machines/%s/" % system_id,
    }
    data.update(extra)
    return data
