#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a MAAS DNS record (A/AAAA addresses), for example the Kubernetes API endpoint."""

from __future__ import annotations

DOCUMENTATION = r"""
module: maas_dns_record
short_description: Manage a MAAS DNS record with A/AAAA addresses
version_added: 1.0.0
description:
  - Creates, updates and deletes a MAAS DNS resource (C(/dnsresources/)) holding A and AAAA records, typically the name of
    the Kubernetes API endpoint pointing at the control-plane nodes or a virtual IP.
  - The record is found with the C(fqdn) filter of C(GET /dnsresources/); MAAS is never asked for all records.
  - O(state=present) creates the record or updates its address set and TTL (C(PUT)); O(state=absent) deletes it.
    A second run with the same input sends no write; check mode sends none either; diff mode shows the record
    before and after.
  - Addresses the record does not have yet are validated before anything is changed; addresses MAAS already knows (a
    machine's, a reservation) are fine. An address MAAS does not know must not be a network, broadcast or IPv6
    subnet-router anycast address, a subnet's gateway or DNS server, or inside a dynamic (DHCP) range. Addresses inside
    a reserved range or outside every MAAS subnet (an external load balancer) are accepted.
  - "MAAS quirk: an address given to a DNS record that MAAS does not know becomes a C(USER_RESERVED) address of the API
    user (RV(maas_reserved) lists them). MAAS 3.6.1 and later delete such reservations with the record when no other
    record and no interface uses them; older versions leave them behind, and no version releases them when they are
    removed from the record. This module releases the API user's reservations that no DNS record and no interface uses
    any more after it removed them from the record or deleted the record (RV(released)), so every MAAS version ends in
    the same state and no orphan reservation is left."
  - "With O(only_if_addresses_within), O(state=absent) deletes the record only when it is the caller's by its
    addresses: a record holding any other address is kept (RV(kept) names the addresses, with a warning), so a
    teardown never deletes a record that also serves something else."
  - RV(before) is the record as it was before the run, so callers need no diff to know what was there.
author:
  - lxdcp.maas maintainers (@lxdcp)
extends_documentation_fragment:
  - lxdcp.maas.auth
  - ansible.builtin.action_common_attributes.flow
  - lxdcp.maas.attributes.action
options:
  fqdn:
    description:
      - Fully qualified name of the record, V(k8s-api.maas). The first label is the record's name, the rest the DNS domain,
        which must exist in MAAS.
      - Mutually exclusive with O(name) and O(domain).
    type: str
  name:
    description:
      - The record's name (one label) in O(domain); an alternative to O(fqdn).
    type: str
  domain:
    description:
      - The DNS domain (its name) of O(name).
    type: str
  addresses:
    description:
      - The complete set of IPv4 and IPv6 addresses of the record (A and AAAA records). Order does not matter.
      - Required with O(state=present). Addresses the record has and this list lacks are removed from it.
      - With O(state=absent), the addresses to take out of the record, for example those of machines leaving a cluster;
        the record is updated to keep its other addresses, and deleted (as without O(addresses), and subject to
        O(only_if_addresses_within)) only when none would be left.
    type: list
    elements: str
  ttl:
    description:
      - TTL of the addresses in seconds (MAAS's C(address_ttl)), 0 or more. When omitted, a new record uses the domain's
        TTL and an existing record keeps its TTL.
    type: int
  state:
    description:
      - V(present) creates or updates the record, V(absent) deletes it (or takes O(addresses) out of it).
    type: str
    choices: [present, absent]
    default: present
  only_if_addresses_within:
    description:
      - With O(state=absent), delete the record only when every address it holds is in this list, for example the
        addresses of a cluster's machines and static IPs. Otherwise the record is kept, RV(kept) lists the addresses
        that are not in the list, and the task warns and reports no change.
      - A record that holds no address, or holds other data (a CNAME, TXT, MX or SRV record), is kept too, since its
        addresses cannot show whose it is.
      - An empty list keeps every record. Without this option, O(state=absent) deletes the record whatever it holds.
      - Only valid with O(state=absent).
    type: list
    elements: str
notes:
  - Creating, updating and deleting DNS records need a MAAS administrator's API key.
  - A record that also holds a CNAME cannot get addresses; the module fails before writing.
requirements:
  - netaddr
seealso:
  - module: lxdcp.maas.maas_static_ip
  - name: MAAS API, DNS resources
    description: The C(/dnsresources/) endpoints.
    link: https://canonical.com/maas/docs/api#dnsresources
attributes:
  check_mode:
    support: full
    description: Reports the record it would create, update or delete and the reservations it would release; sends no write.
  diff_mode:
    support: full
    description: Shows the FQDN, sorted addresses and TTL before and after.
"""

EXAMPLES = r"""
- name: The Kubernetes API endpoint points at the three control-plane nodes
  lxdcp.maas.maas_dns_record:
    url: http://maas.example.com:5240/MAAS
    api_key: "{{ maas_api_key }}"
    fqdn: k8s-api.maas
    addresses: [10.10.0.21, 10.10.0.22, 10.10.0.23]
    ttl: 30

- name: Dual-stack endpoint given as name and domain
  lxdcp.maas.maas_dns_record:
    name: k8s-api
    domain: lab.example.com
    addresses: [10.10.0.20, "2001:db8:42::20"]

- name: Remove the endpoint (and the reservations MAAS made for it)
  lxdcp.maas.maas_dns_record:
    fqdn: k8s-api.maas
    state: absent

- name: Remove the endpoint only if it points at nothing but our nodes
  lxdcp.maas.maas_dns_record:
    fqdn: k8s-api.maas
    state: absent
    only_if_addresses_within: [10.10.0.21, 10.10.0.22, 10.10.0.23]
  register: endpoint

- name: Say why it was kept
  ansible.builtin.debug:
    msg: "k8s-api.maas kept: {{ endpoint.reason }}"
  when: endpoint.reason is defined
"""

RETURN = r"""
record:
  description: The record after the run (as it would be in check mode); null when absent.
  returned: always
  type: dict
  contains:

    id:
      description: MAAS id of the DNS resource (null for a record check mode would create).
      type: int
      sample: 3
    fqdn:
      description: Fully qualified name.
      type: str
      sample: k8s-api.maas
    addresses:
      description: The record's addresses, sorted (IPv4 first).
      type: list
      elements: str
      sample: [10.10.0.21, 10.10.0.22, 10.10.0.23]
    ttl:
      description: The record's C(address_ttl) (null when it uses the domain's TTL).
      type: int
      sample: 30
    resource_uri:
      description: API path of the record.
      type: str
      sample: /MAAS/api/2.0/dnsresources/3/
before:
  description:
    - The record before the run, with the fields of RV(record) (C(id), C(fqdn), C(addresses), C(ttl), C(resource_uri));
      null when there was none.
  returned: always
  type: dict
  sample: {id: 3, fqdn: k8s-api.maas, addresses: [10.10.0.21, 10.10.0.22], ttl: null,
           resource_uri: /MAAS/api/2.0/dnsresources/3/}
action:
  description: What the run did (or would do in check mode).
  returned: always
  type: str
  choices: [none, create, update, delete]
  sample: update
maas_reserved:
  description: Added addresses MAAS did not know, which MAAS turns into reservations of the API user.
  returned: always
  type: list
  elements: str
  sample: [10.10.0.20]
released:
  description: Reservations of the API user released by the run (in check mode, those it would release) because no DNS
    record and no interface uses them any more.
  returned: always
  type: list
  elements: str
  sample: [10.10.0.20]
kept:
  description:
    - The record's addresses that are not in O(only_if_addresses_within), when the record was kept for them (sorted,
      IPv4 first); empty otherwise.
  returned: always
  type: list
  elements: str
  sample: [10.10.0.52]
reason:
  description: Why O(only_if_addresses_within) kept the record.
  returned: when the record was kept by O(only_if_addresses_within)
  type: str
  sample: it holds 10.10.0.52, which is not in only_if_addresses_within
problems:
  description: Every problem found with O(addresses), when the module fails on them.
  returned: on failure caused by the addresses
  type: list
  elements: dict
  sample:
    - {index: 0, address: 10.10.0.150, rule: dynamic-range,
       message: "addresses[0]: address 10.10.0.150 is inside the dynamic (DHCP) range 10.10.0.100-10.10.0.200 (id 1) of
         subnet 10.10.0.0/24, which MAAS's DHCP server hands out; pick an address outside it"}
"""

from ansible_collections.lxdcp.maas.plugins.module_utils.dns_records import dns_record
from ansible_collections.lxdcp.maas.plugins.module_utils.module import ModuleTask

ARGUMENT_SPEC = dict(
    fqdn=dict(type="str"),
    name=dict(type="str"),
    domain=dict(type="str"),
    addresses=dict(type="list", elements="str"),
    ttl=dict(type="int"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    only_if_addresses_within=dict(type="list", elements="str"),
)


# Run by main() here, and by the collection's action plugin in the controller's process when the task runs there.
TASK = ModuleTask(
    dns_record,
    argument_spec=ARGUMENT_SPEC,
    mutually_exclusive=[("fqdn", "name"), ("fqdn", "domain")],
    required_one_of=[("fqdn", "name")],
    required_together=[("name", "domain")],
    supports_check_mode=True,
)


def main():
    """Entry point."""
    TASK.main()


if __name__ == "__main__":
    main()
