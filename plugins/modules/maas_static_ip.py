#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate, reserve and release static IP addresses in MAAS."""

from __future__ import annotations

DOCUMENTATION = r"""
module: maas_static_ip
short_description: Validate, reserve and release static IP addresses in MAAS
version_added: 1.0.0
description:
  - Checks a plan of static IP addresses against what MAAS knows (O(state=validated)), reserves them for use outside
    MAAS (O(state=present), C(POST /ipaddresses/?op=reserve)) or releases reservations (O(state=absent),
    C(POST /ipaddresses/?op=release)).
  - "Every address is validated before anything is changed: syntax, the subnet (given or found by MAAS), network,
    broadcast and IPv6 subnet-router anycast addresses, the subnet's gateway and DNS servers, MAAS's dynamic (DHCP) and
    reserved IP ranges, addresses already used by a machine, device, controller, BMC or another user's reservation (the
    message names who holds it), and duplicates within the request. One problem or many, the module fails listing all of
    them and MAAS is left unchanged."
  - "An address is already I(ours) when it is held by the machine or device named by its O(addresses[].hostname), or
    reserved by the API user without a DNS name or with that host name. Such addresses are not conflicts: re-runs change
    nothing."
  - "A reservation is never sent twice: when MAAS's answer is lost, the module looks the address up before retrying."
  - The validation reads C(GET /subnets/), C(GET /ipranges/), one C(GET /subnets/{id}/?op=ip_addresses) per subnet the
    addresses are in, and C(GET /users/?op=whoami) only when an address is a user reservation.
  - "O(state=absent) with a host name releases a reservation only when the API user made it for that host name, so a
    teardown never frees an address that merely happens to be listed: who holds each address is read from its subnet
    (C(GET /subnets/ip:<address>/?op=ip_addresses) for one address, C(GET /subnets/) and one read per subnet for more)."
author:
  - lxdcp.maas maintainers (@lxdcp)
extends_documentation_fragment:
  - lxdcp.maas.auth
  - ansible.builtin.action_common_attributes.flow
  - lxdcp.maas.attributes.action
options:
  state:
    description:
      - V(validated) checks the addresses and returns them with their subnet, gateway and DNS servers; MAAS is not
        changed. Use it to check a control-plane plan before creating anything.
      - V(present) reserves each address for the API user (with its O(addresses[].hostname) as DNS name and its
        O(addresses[].mac) when given). An address already reserved by the API user, or held by the machine named by
        its host name, is left as it is. A reservation of the API user without the requested host name or MAC is
        released and made again with them.
      - V(absent) releases the API user's reservations of the addresses; addresses not reserved by the API user are
        left alone (they are reported with C(state=absent)). Only O(addresses[].address) and O(addresses[].hostname)
        are used.
      - With O(addresses[].hostname) (or O(hostname)), V(absent) releases a reservation only when the API user made it
        for that host name (every DNS name of the reservation is that host name); any other holder keeps the address,
        which is reported with C(state=kept) and the reason, and does not fail the task.
    type: str
    choices: [validated, present, absent]
    default: present
  addresses:
    description:
      - The addresses, each with its own optional subnet, gateway, DNS servers and host name.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description:
          - The IPv4 or IPv6 address, without prefix length (V(10.10.0.20), V(2001:db8:42::20)).
        type: str
        required: true
      subnet:
        description:
          - The MAAS subnet the address must belong to, as a CIDR (V(10.10.0.0/24)), a MAAS subnet id or a subnet name.
          - Defaults to O(subnet); without either, the subnet MAAS has for the address is used.
        type: str
      gateway:
        description:
          - Gateway to use with this address (returned in RV(addresses[].gateway)). It must be a usable address of the
            subnet. Defaults to O(gateway), then to the subnet's gateway in MAAS.
          - It must be the subnet's gateway in MAAS (C(gateway_ip)), else the module fails before any change (rule
            C(gateway-not-subnets)), since MAAS configures a machine's gateway only from its subnets.
        type: str
      dns_servers:
        description:
          - DNS servers to use with this address (returned in RV(addresses[].dns_servers)). Defaults to
            O(dns_servers), then to the subnet's DNS servers in MAAS.
          - Each must be one of the subnet's DNS servers in MAAS, else the module fails before any change (rule
            C(dns-server-not-subnets)), as MAAS has no per-machine DNS servers.
        type: list
        elements: str
      hostname:
        description:
          - The host the address is for, as a short name (V(cp-1)) or with a DNS domain MAAS knows (V(cp-1.maas)).
          - With O(state=present) it becomes the DNS name of the reservation (MAAS creates or extends a DNS record of
            that name, in the default domain unless one is given).
          - An address held by the machine or device of this name, or reserved by the API user for it, is not a conflict.
          - With O(state=absent), the reservation is released only when the API user made it for this host name; a
            reservation without a DNS name or for another name, another user's, or an address held by a machine is
            kept (RV(addresses[].state=kept), with RV(addresses[].reason)). Defaults to O(hostname).
        type: str
      mac:
        description:
          - With O(state=present), the MAC address MAAS links the reservation to (an interface of unknown type is
            created for it). It must not belong to a machine's interface.
        type: str
  subnet:
    description:
      - Default for O(addresses[].subnet).
    type: str
  gateway:
    description:
      - Default for O(addresses[].gateway).
    type: str
  dns_servers:
    description:
      - Default for O(addresses[].dns_servers).
    type: list
    elements: str
  hostname:
    description:
      - Default for O(addresses[].hostname), for example the one host all the addresses are for.
    type: str
notes:
  - MAAS refuses to reserve an address inside a dynamic range without a MAC and any address inside a reserved range; this
    module refuses both, and also the subnet's gateway and DNS server addresses, which MAAS would accept.
  - A reserved address is I(in use) for MAAS. To give it to a machine or VM (for example with M(lxdcp.maas.maas_lxd_vm)),
    the reservation must be released first.
  - Releasing the last address of a DNS record makes MAAS delete that record.
  - Static routes' gateways and addresses MAAS merely observed in neighbour discovery are not checked.
requirements:
  - netaddr
seealso:
  - module: lxdcp.maas.maas_dns_record
  - name: MAAS API, IP addresses
    description: The reserve and release operations.
    link: https://canonical.com/maas/docs/api#ip-addresses
attributes:
  check_mode:
    support: full
    description: Reports what would be reserved or released; sends no write.
  diff_mode:
    support: full
    description: Shows each address before and after (free, reserved and for which name, or held by a machine).
"""

EXAMPLES = r"""
- name: Check the control-plane plan before creating anything
  lxdcp.maas.maas_static_ip:
    state: validated
    subnet: 10.10.0.0/24
    addresses:
      - {address: 10.10.0.21, hostname: cp-1}
      - {address: 10.10.0.22, hostname: cp-2}
      - {address: 10.10.0.23, hostname: cp-3}
  register: plan

- name: Reserve the Kubernetes API virtual IP with a DNS name
  lxdcp.maas.maas_static_ip:
    url: http://maas.example.com:5240/MAAS
    api_key: "{{ maas_api_key }}"
    addresses:
      - address: 10.10.0.20
        hostname: k8s-vip.maas

- name: Reserve an address for a host outside MAAS, tied to its MAC
  lxdcp.maas.maas_static_ip:
    addresses:
      - {address: 10.10.0.40, hostname: lb-1, mac: "52:54:00:12:34:56"}

- name: IPv6, checking that the subnet has this gateway and DNS server in MAAS
  lxdcp.maas.maas_static_ip:
    state: validated
    addresses:
      - address: 2001:db8:42::21
        subnet: 2001:db8:42::/64
        gateway: 2001:db8:42::1
        dns_servers: [2001:db8:42::53]

- name: Release the reservations
  lxdcp.maas.maas_static_ip:
    state: absent
    addresses:
      - {address: 10.10.0.20}
      - {address: 10.10.0.40}

- name: Release cp-1's reservation only if it was made for cp-1 (a teardown)
  lxdcp.maas.maas_static_ip:
    state: absent
    hostname: cp-1
    addresses:
      - {address: 10.10.0.21}
  register: cp1_ip

- name: Say why an address was kept
  ansible.builtin.debug:
    msg: "{{ item.address }} kept: {{ item.reason }}"
  loop: "{{ cp1_ip.addresses | selectattr('state', 'equalto', 'kept') }}"
"""

RETURN = r"""
addresses:
  description: The addresses in request order, with what MAAS knows of them.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The address in canonical form.
      type: str
      sample: 10.10.0.21
    version:
      description: IP version, 4 or 6.
      type: int
      sample: 4
    hostname:
      description: The host name given for the address.
      type: str
      sample: cp-1
    state:
      description:
        - V(free) (O(state=validated) only; nothing holds it), V(reserved) (reserved by the API user, or to be),
          V(assigned) (held by the machine or device of its host name), V(released) (released by this run, or to be in
          check mode) or V(absent) (not reserved by the API user; with a host name, nothing in MAAS holds it).
        - V(kept) (O(state=absent) with a host name only) is an address held by anything but the API user's reservation
          for that host name; RV(addresses[].reason) says by what. Otherwise an address held by anything else is an
          error, never a state.
      type: str
      choices: [free, reserved, assigned, released, absent, kept]
      sample: reserved
    reason:
      description: Why the address was released or left alone (for example C(a reservation of user admin for DNS name
        vip.maas, not for cp-1)).
      type: str
      returned: when O(state=absent)
      sample: a reservation of user admin (no DNS name), so it is not known to be cp-1's
    action:
      description: What this run did (or would do in check mode) to the address.
      type: str
      choices: [none, reserve, re-reserve, release]
      sample: reserve
    address_cidr:
      description: The address with the subnet's prefix length, ready for a network configuration.
      type: str
      returned: unless O(state=absent)
      sample: 10.10.0.21/24
    prefixlen:
      description: The subnet's prefix length.
      type: int
      returned: unless O(state=absent)
      sample: 24
    gateway:
      description: The gateway for the address (given, else the subnet's in MAAS; null when neither has one).
      type: str
      returned: unless O(state=absent)
      sample: 10.10.0.1
    dns_servers:
      description: The DNS servers for the address (given, else the subnet's in MAAS).
      type: list
      elements: str
      returned: unless O(state=absent)
      sample: [10.10.0.2]
    subnet:
      description: The MAAS subnet of the address.
      type: dict
      returned: unless O(state=absent)
      sample: {id: 1, name: 10.10.0.0/24, cidr: 10.10.0.0/24, gateway_ip: 10.10.0.1, dns_servers: [],
               vlan: {id: 5001, vid: 0, name: untagged, fabric: fabric-0}, space: undefined, managed: true}
    holder:
      description: What held the address before this run (null when it was free).
      type: dict
      sample: {ip: 10.10.0.21, alloc_type: 4, alloc_type_name: user reserved, user: admin, system_id: null,
               hostname: null, node_type_name: null, dns_names: [cp-1.maas],
               description: a reservation of user admin for DNS name cp-1.maas}
    reservation:
      description: The IP address object MAAS returned for a reservation made by this run.
      type: dict
      returned: when this run reserved the address (not in check mode)
      sample: {ip: 10.10.0.21, alloc_type: 4, alloc_type_name: User reserved, owner: {username: admin},
               subnet: {id: 1, cidr: 10.10.0.0/24}}
problems:
  description: Every problem found, when the module fails on bad input. O(addresses) index, address, rule and message.
  returned: on failure caused by the addresses
  type: list
  elements: dict
  sample:
    - index: 1
      address: 10.10.0.150
      rule: dynamic-range
      message: "addresses[1]: address 10.10.0.150 is inside the dynamic (DHCP) range 10.10.0.100-10.10.0.200 (id 1) of
        subnet 10.10.0.0/24, which MAAS's DHCP server hands out; pick an address outside it"
"""

from ansible_collections.lxdcp.maas.plugins.module_utils.ip_reservations import static_ip
from ansible_collections.lxdcp.maas.plugins.module_utils.module import ModuleTask

ENTRY_OPTIONS = dict(
    address=dict(type="str", required=True),
    subnet=dict(type="str"),
    gateway=dict(type="str"),
    dns_servers=dict(type="list", elements="str"),
    hostname=dict(type="str"),
    mac=dict(type="str"),
)

ARGUMENT_SPEC = dict(
    state=dict(type="str", default="present", choices=["validated", "present", "absent"]),
    addresses=dict(type="list", elements="dict", required=True, options=ENTRY_OPTIONS),
    subnet=dict(type="str"),
    gateway=dict(type="str"),
    dns_servers=dict(type="list", elements="str"),
    hostname=dict(type="str"),
)


# Run by main() here, and by the collection's action plugin in the controller's process when the task runs there.
TASK = ModuleTask(static_ip, argument_spec=ARGUMENT_SPEC, supports_check_mode=True)


def main():
    """Entry point."""
    TASK.main()


if __name__ == "__main__":
    main()
