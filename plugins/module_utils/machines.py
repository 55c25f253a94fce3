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


def _address_links(machine):
    """``[{ip_address, mode, subnet}]`` of the machine's links that have an address, interface by interface: of a MAAS
    machine object (``interface_set``) or of the machine as the modules return it (``interfaces``, see ``machine_view``).
    """
    if "interface_set" in machine:
        links = [link for interface in machine.get("interface_set") or [] for link in interface_links(interface)]
    else:
        links = [link for interface in machine.get("interfaces") or [] for link in interface.get("links") or []]
    return [link for link in links if link.get("ip_address")]


def preferred_address(machine, preferred_subnets=(), planned=None):
    """The address a machine is reached at, or None without any. The one rule of the collection: the inventory's
    ``ansible_host`` and the deploy role's address of each control-plane machine for the API endpoint (through the
    filter ``lxdcp.maas.preferred_address``).

    ``machine``: a MAAS machine object, or the machine as the modules return it (``machine_view``); None or empty when
    there is no machine yet. In order:

    1. its address on the first of ``preferred_subnets`` (CIDR strings, as MAAS names subnets) it has one on;
    2. ``planned`` (the static IP it is given, as the deploy role's ``deploy_ip``), when the machine has that address,
       or when there is no machine yet (check mode predicting a machine still to be created gets what the real run
       will give it);
    3. its static (sticky) address (the one ``maas_lxd_vm`` made sticky);
    4. its first address.
    """
    machine = machine or {}
    links = _address_links(machine)
    for cidr in preferred_subnets or ():
        found = next((link["ip_address"] for link in links if link.get("subnet") == cidr), None)
        if found:
            return found
    addresses = list(machine.get("ip_addresses") or []) or [link["ip_address"] for link in links]
    if planned and (not machine or planned in addresses or any(link["ip_address"] == planned for link in links)):
        return planned
    found = next((link["ip_address"] for link in links if link.get("mode") == "static"), None)
    if found:
        return found
    return addresses[0] if addresses else None


def is_vm(machine):
    """Whether the machine is an LXD VM: composed on a MAAS VM host (``pod``), or powered by LXD (``power_type: lxd``,
    as a VM created on LXD directly is, and a composed one once MAAS 4.0 dropped its VM host)."""
    return bool(machine.get("pod")) or machine.get("power_type") == "lxd"


def vm_host_name(machine):
    """The name of the MAAS VM host a composed VM runs on; None for other machines."""
    return (machine.get("pod") or {}).get("name")


# Provider IDs (docs/design.md). cluster-api-provider-maas (pkg/maas/scope/machine.go, SetProviderID) writes
# "maas:///<zone>/<system_id>": scheme "maas", an empty authority, then the zone and the system id. Bare metal gets
# exactly that; an LXD VM the same shape under its own scheme, or "maas" too when asked (vm_scheme).
PROVIDER_ID_SCHEMES = ("maas", "maas-lxd")
# vm_provider_id_scheme: how an LXD VM's provider ID starts; bare metal is always "maas".
VM_PROVIDER_ID_SCHEMES = ("maas-lxd", "maas")
DEFAULT_VM_PROVIDER_ID_SCHEME = "maas-lxd"
# The option of the modules that return machines (doc fragment lxdcp.maas.provider_ids).
PROVIDER_ID_ARGUMENT_SPEC = dict(
    vm_provider_id_scheme=dict(type="str", choices=list(VM_PROVIDER_ID_SCHEMES), default=DEFAULT_VM_PROVIDER_ID_SCHEME),
)


def provider_id(machine, vm_scheme=DEFAULT_VM_PROVIDER_ID_SCHEME):
    """``maas-lxd:///<zone>/<system_id>`` for LXD VMs (``vm_scheme`` ``maas``: ``maas:///...``, as CAPMAAS writes for
    every machine), ``maas:///<zone>/<system_id>`` for bare metal."""
    if vm_scheme not in VM_PROVIDER_ID_SCHEMES:
        raise ValueError("vm_scheme must be one of %s, not %r" % (", ".join(VM_PROVIDER_ID_SCHEMES), vm_scheme))
    scheme = vm_scheme if is_vm(machine) else "maas"
    return "%s:///%s/%s" % (scheme, (machine.get("zone") or {}).get("name", "default"), machine["system_id"])


def parse_provider_id(text):
    """``{scheme, zone, system_id, legacy}`` of a provider ID in any form the collection has written: the current
    ``maas:///<zone>/<system_id>`` and ``maas-lxd:///<zone>/<system_id>``, and the forms before 1.0.0 without the empty
    authority, ``maas://<zone>/<system_id>`` and ``maas-lxd://<zone>/<system_id>`` (``legacy`` true). ``scheme``
    ``maas-lxd`` means an LXD VM; ``maas`` may be either (bare metal, or a VM written with ``vm_provider_id_scheme``
    ``maas``). Raises ``ValueError`` saying what is wrong for anything else."""
    if not isinstance(text, str):
        raise ValueError("provider ID %r is not a string" % (text,))
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in PROVIDER_ID_SCHEMES:
        raise ValueError("provider ID %r must start with maas:// or maas-lxd://" % text)
    legacy = not rest.startswith("/")
    parts = (rest if legacy else rest[1:]).split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError("provider ID %r must be %s:///<zone>/<system_id> (or %s://<zone>/<system_id>)"
                         % (text, scheme, scheme))
    return dict(scheme=scheme, zone=parts[0], system_id=parts[1], legacy=legacy)


def machine_view(machine, vm_host=None, vm_provider_id_scheme=DEFAULT_VM_PROVIDER_ID_SCHEME):
    """The machine as the modules return it (None stays None). ``vm_host`` (``{id, name}``): the host that holds it, when
    MAAS does not say (an LXD VM of direct mode: MAAS only knows its power parameters); else its VM host in MAAS.
    ``vm_provider_id_scheme``: as for ``provider_id``."""
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
        provider_id=provider_id(machine, vm_provider_id_scheme),
    )
