# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static IPs of a VM: checked with the shared IP validator, then made STATIC (sticky) links once MAAS allows it.

MAAS offers two ways to give a VM an address (see the module's notes): compose with
``interfaces=eth0:ip=X`` (an AUTO address, released with the machine) and ``link_subnet
mode=STATIC`` (sticky, but only on a commissioned machine). The VM is composed with X, and once it
is Ready the AUTO link is replaced with a STATIC one carrying the same address.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr
from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import interface_links, machine_ips
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import DEPLOYED, DEPLOYING, LINKABLE


class StaticIps(object):
    """The static addresses of one machine (``spec.interfaces`` with an ``ip``)."""

    def __init__(self, journal, spec, client):
        self.journal = journal
        self.spec = spec
        self.client = client
        self.reservations = []  # the API user's reservations of our addresses, released right before the VM takes them
        self.subnet_ids = {}  # address -> MAAS subnet id
        self.checked = False
        self.gateways_after = None  # check mode: the default gateways the run would give the machine (--diff)

    def check(self, system_id=None):
        """Validate the static IPs against MAAS with the shared validator; remember reservations to adopt.

        An address the API user reserved for this hostname (``maas_static_ip``) counts as ours: MAAS
        treats a reservation as "in use", so it is released right before the VM takes the address.
        """
        subnets = None
        for interface in self.spec.interfaces:
            if interface["subnet"] and not interface["ip"]:
                subnets = subnets if subnets is not None else self.client.list_subnets()
                if not any(s.get("cidr") == interface["subnet"] for s in subnets):
                    raise LxdcpError("no MAAS subnet %s for interface %s (subnets: %s)" % (
                        interface["subnet"], interface["name"], ", ".join(sorted(s["cidr"] for s in subnets))))
        entries = self.spec.address_entries(system_id=system_id)
        if not entries:
            return
        self.checked = True
        result = ipaddr.check_with_maas(self.client, entries, ipaddr.RESERVE, what="interfaces", subnets=subnets)
        for warning in result.warnings:
            self.journal.warn(warning)
        if not result.ok:
            raise LxdcpError(result.message(), addresses=result.as_dict())
        for address in result.addresses:
            holder = address.get("holder") or {}
            if address["status"] == ipaddr.OURS and holder.get("alloc_type") == ipaddr.USER_RESERVED and not holder.get("system_id"):
                self.reservations.append(address["address"])
            self.subnet_ids[address["address"]] = (address.get("subnet") or {}).get("id")

    def adopt_reservations(self):
        """Release the API user's reservations of this VM's addresses so that MAAS can give them to it."""
        for ip in self.reservations:
            self.journal.act("release the reservation of %s so that %s takes it" % (ip, self.spec.hostname))
            if not self.journal.check:
                self.client.release_ip(ip)
        self.reservations = []

    def predict(self):
        """Check mode, for a machine still to be created: the steps that would make its addresses static."""
        for interface in self.spec.interfaces:
            if interface["ip"]:
                self.journal.act("make %s %s a static address%s" % (
                    interface["name"], interface["ip"],
                    " with default gateway %s" % interface["gateway"] if interface.get("gateway") else ""))

    def ensure(self, machine):
        """Turn each interface IP into a STATIC (sticky) link and choose the default gateway's link.

        Both are only possible while the machine is linkable (MAAS: New, Ready, Allocated, Broken, Failed testing).
        A gateway or DNS servers given for an existing machine are validated first (the shared IP validator: they must
        be what MAAS configures from the subnet), so a bad value fails before any write.
        """
        wanted = [i for i in self.spec.interfaces if i["ip"]]
        if not wanted:
            return machine
        journal = self.journal
        if not self.checked and any(i["gateway"] or i["dns_servers"] for i in wanted):
            self.check(system_id=machine["system_id"])
        pending = [i for i in wanted if not has_static(machine, i)]
        gateways = [i for i in wanted if i["gateway"] and not has_gateway(machine, i)]
        status = machine.get("status_name")
        if status not in LINKABLE:
            if status in (DEPLOYED, DEPLOYING) and gateways and not pending:
                item = gateways[0]
                raise LxdcpError("%s is %s with default gateway %s, not %s (%s): MAAS changes a machine's default gateway "
                                 "only while it is not deployed (Ready or Allocated); release the machine (state: released) "
                                 "and run again, or leave gateway out" % (
                                     self.spec.hostname, status, current_gateway(machine, item) or "none", item["gateway"],
                                     item["name"]))
            if (pending or gateways) and not journal.check:
                journal.warn("%s is %s: static IP(s) %s are set once MAAS has commissioned it (run again)"
                             % (self.spec.hostname, status, ", ".join(dict.fromkeys(i["ip"] for i in pending + gateways))))
            return machine
        if not pending and not gateways:
            return machine
        held = set(ip for ips in machine_ips(machine).values() for ip in ips)
        if any(i["ip"] not in held for i in pending):
            self.check(system_id=machine["system_id"])
            self.adopt_reservations()
        changed = False
        interfaces = dict((i.get("name"), i) for i in machine.get("interface_set") or [])
        for item in wanted:
            if item not in pending and item not in gateways:
                continue
            interface = interfaces.get(item["name"])
            if interface is None:
                raise LxdcpError("%s has no interface %s (it has %s)" % (self.spec.hostname, item["name"], ", ".join(sorted(interfaces))))
            links = interface_links(interface)
            if item not in pending:
                link = next(link for link in links if link["mode"] == "static" and link["ip_address"] == item["ip"])
                journal.act("make %s (%s) the default gateway of %s" % (item["gateway"], item["name"], self.spec.hostname))
                self._gateway_after(machine, item)
                if not journal.check:
                    self.client.set_default_gateway(machine["system_id"], interface["id"], link["id"])
                    changed = True
                continue
            subnet_id = next((link["subnet_id"] for link in links if link["ip_address"] == item["ip"]), None)
            if subnet_id is None:
                subnet_id = self.subnet_ids.get(item["ip"])
            journal.act("make %s %s a static address%s" % (
                item["name"], item["ip"], " with default gateway %s" % item["gateway"] if item["gateway"] else ""))
            if item["gateway"]:
                self._gateway_after(machine, item)
            if journal.check:
                continue
            for link in links:
                if link["mode"] != "link_up":
                    self.client.unlink_subnet(machine["system_id"], interface["id"], link["id"])
            data = dict(mode="STATIC", subnet=subnet_id, ip_address=item["ip"])
            if item["gateway"]:
                data["default_gateway"] = True
            self.client.link_subnet(machine["system_id"], interface["id"], data)
            changed = True
        return self.client.get_machine(machine["system_id"]) if changed else machine

    def _gateway_after(self, machine, item):
        if self.journal.check:
            self.gateways_after = dict(self.gateways_after or default_gateways(machine))
            self.gateways_after["ipv6" if ":" in item["gateway"] else "ipv4"] = item["gateway"]


def default_gateways(machine):
    """``{"ipv4": "10.10.0.1", "ipv6": None}``: the default gateways MAAS has for the machine (``default_gateways``)."""
    found = machine.get("default_gateways") or {}
    return dict((family, (found.get(family) or {}).get("gateway_ip")) for family in ("ipv4", "ipv6"))


def current_gateway(machine, item):
    """The machine's default gateway of ``item``'s IP version."""
    return default_gateways(machine)["ipv6" if ":" in item["gateway"] else "ipv4"]


def has_gateway(machine, item):
    """Whether MAAS gives the machine ``item``'s gateway as its default gateway of that IP version."""
    return current_gateway(machine, item) == item["gateway"]


def has_static(machine, item):
    """Whether the interface of ``item`` already has a STATIC link with its IP."""
    for interface in machine.get("interface_set") or []:
        if interface.get("name") == item["name"]:
            return any(link["mode"] == "static" and link["ip_address"] == item["ip"] for link in interface_links(interface))
    return False
