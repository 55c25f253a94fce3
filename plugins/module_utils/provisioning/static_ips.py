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
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import LINKABLE


class StaticIps(object):
    """The static addresses of one machine (``spec.interfaces`` with an ``ip``)."""

    def __init__(self, journal, spec, client):
        self.journal = journal
        self.spec = spec
        self.client = client
        self.reservations = []  # the API user's reservations of our addresses, released right before the VM takes them
        self.subnet_ids = {}  # address -> MAAS subnet id

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
                self.journal.act("make %s %s a static address" % (interface["name"], interface["ip"]))

    def ensure(self, machine):
        """Turn each interface IP into a STATIC (sticky) link; only possible while the machine is linkable."""
        wanted = [i for i in self.spec.interfaces if i["ip"]]
        if not wanted:
            return machine
        journal = self.journal
        pending = [i for i in wanted if not has_static(machine, i)]
        if machine.get("status_name") not in LINKABLE:
            if pending and not journal.check:
                journal.warn("%s is %s: static IP(s) %s are set once MAAS has commissioned it (run again)"
                             % (self.spec.hostname, machine.get("status_name"), ", ".join(i["ip"] for i in pending)))
            return machine
        if not pending:
            return machine
        held = set(ip for ips in machine_ips(machine).values() for ip in ips)
        if any(i["ip"] not in held for i in pending):
            self.check(system_id=machine["system_id"])
            self.adopt_reservations()
        changed = False
        interfaces = dict((i.get("name"), i) for i in machine.get("interface_set") or [])
        for item in pending:
            interface = interfaces.get(item["name"])
            if interface is None:
                raise LxdcpError("%s has no interface %s (it has %s)" % (self.spec.hostname, item["name"], ", ".join(sorted(interfaces))))
            links = interface_links(interface)
            subnet_id = next((link["subnet_id"] for link in links if link["ip_address"] == item["ip"]), None)
            if subnet_id is None:
                subnet_id = self.subnet_ids.get(item["ip"])
            journal.act("make %s %s a static address" % (item["name"], item["ip"]))
            if journal.check:
                continue
            for link in links:
                if link["mode"] != "link_up":
                    self.client.unlink_subnet(machine["system_id"], interface["id"], link["id"])
            self.client.link_subnet(machine["system_id"], interface["id"],
                                    dict(mode="STATIC", subnet=subnet_id, ip_address=item["ip"]))
            changed = True
        return self.client.get_machine(machine["system_id"]) if changed else machine


def has_static(machine, item):
    """Whether the interface of ``item`` already has a STATIC link with its IP."""
    for interface in machine.get("interface_set") or []:
        if interface.get("name") == item["name"]:
            return any(link["mode"] == "static" and link["ip_address"] == item["ip"] for link in interface_links(interface))
    return False
