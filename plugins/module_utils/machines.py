# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machines as the modules return them, read from MAAS's machine objects (no requests here)."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.units import to_gb


def machine_disks(machine):
    """Physical disks of a machine, root disk first: ``[{name, size}]``."""
    disks = machine.get("physicalblockdevice_set") or machine.get("blockdevice_set") or []
    boot = (machine.get("boot_disk") or {}).get("id")
    ordered = sorted(disks, key=lambda d: (d.get("id") != boot, d.get("id") or 0))
    return [dict(name=d.get("name"), size=int(d.get("size") or 0)) for d in ordered]


def interface_links(interface):
    """Links of an interface as ``{mode, ip_address, subnet, subnet_id, gateway}``."""
    links = []
    for link in interface.get("links") or []:
        subnet = link.get("subnet") or {}
        links.append(dict(
            id=link.get("id"),
            mode=link.get("mode"),
            ip_address=link.get("ip_address"),
            subnet=subnet.get("cidr"),
            subnet_id=subnet.get("id"),
            gateway=subnet.get("gateway_ip"),
            dns_servers=list(subnet.get("dns_servers") or []),
        ))
    return links


def machine_ips(machine):
    """``{interface name: [ip, ...]}`` of the addresses on the machine's links."""
    ips = {}
    for interface in machine.get("interface_set") or []:
        ips[interface.get("name")] = [link["ip_address"] for link in interface_links(interface) if link["ip_address"]]
    return ips


def machine_addresses(machine):
    """``[{ip, mode, subnet, interface}]``: the addresses on the machine's interface links."""
    found = []
    for interface in machine.get("interface_set") or []:
        for link in interface_links(interface):
            if link["ip_address"]:
                found.append(dict(ip=link["ip_address"], mode=link["mode"], subnet=link["subnet"],
                                  interface=interface.get("name")))
    return found


def is_vm(machine):
    """Whether the machine is an LXD VM: composed on a MAAS VM host (``pod``), or powered by LXD (``power_type: lxd``,
    as a VM created on LXD directly is, and a composed one once MAAS 4.0 dropped its VM host)."""
    return bool(machine.get("pod")) or machine.get("power_type") == "lxd"


def vm_host_name(machine):
    """The name of the MAAS VM host a composed VM runs on; None for other machines."""
    return (machine.get("pod") or {}).get("name")


def provider_id(machine):
    """``maas-lxd://<zone>/<system_id>`` for VMs, ``maas://<zone>/<system_id>`` for bare metal."""
    scheme = "maas-lxd" if is_vm(machine) else "maas"
    return "%s://%s/%s" % (scheme, (machine.get("zone") or {}).get("name", "default"), machine["system_id"])


def machine_view(machine, vm_host=None):
    """The machine as the modules return it (None stays None). ``vm_host`` (``{id, name}``): the host that holds it, when
    MAAS does not say (an LXD VM of direct mode: MAAS only knows its power parameters); else its VM host in MAAS."""
    if machine is None:
        return None
    interfaces = []
    dns = []
    for interface in machine.get("interface_set") or []:
        links = interface_links(interface)
        for link in links:
            dns.extend(s for s in link.pop("dns_servers") if s not in dns)
            link.pop("subnet_id")
        interfaces.append(dict(name=interface.get("name"), mac_address=interface.get("mac_address"),
                               type=interface.get("type"), links=links))
    pod = machine.get("pod")
    gateway = ((machine.get("default_gateways") or {}).get("ipv4") or {}).get("gateway_ip")
    if gateway is None:
        gateway = next((link["gateway"] for i in interfaces for link in i["links"] if link["gateway"]), None)
    return dict(
        system_id=machine.get("system_id"),
        hostname=machine.get("hostname"),
        fqdn=machine.get("fqdn"),
        status=machine.get("status_name"),
        status_message=machine.get("status_message"),
        zone=(machine.get("zone") or {}).get("name"),
        pool=(machine.get("pool") or {}).get("name"),
        domain=(machine.get("domain") or {}).get("name"),
        vm_host=vm_host or (dict(id=pod.get("id"), name=pod.get("name")) if pod else None),
        lxd_vm=is_vm(machine),
        cores=machine.get("cpu_count"),
        memory=machine.get("memory"),
        disks=[dict(d, size_gb=to_gb(d["size"])) for d in machine_disks(machine)],
        interfaces=interfaces,
        ip_addresses=list(machine.get("ip_addresses") or []),
        gateway=gateway,
        dns_servers=dns,
        tags=list(machine.get("tag_names") or []),
        osystem=machine.get("osystem"),
        distro_series=machine.get("distro_series"),
        hwe_kernel=machine.get("hwe_kernel"),
        power_state=machine.get("power_state"),
        owner=machine.get("owner"),
        provider_id=provider_id(machine),
    )
