# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lxdcp.maas.lxd_hosts documentation fragment: how the LXD VMs are made, and the LXD hosts of direct mode."""

from __future__ import annotations


class ModuleDocFragment(object):
    """Options of direct mode (LXD VMs created on LXD and registered in MAAS): ``maas_lxd_vm``, the lookup, ``maas_vmhost_info``."""

    DOCUMENTATION = r"""
options:
  lxd_via:
    description:
      - How LXD VMs come to exist. V(vm-host) - MAAS composes them on its VM hosts (MAAS 3.0 to 3.8).
        V(direct) - the collection creates them on LXD hosts and registers them in MAAS as C(lxd)-powered machines
        (MAAS 4.0 has no VM hosts; works with 3.x too). V(auto) - VM hosts where MAAS has them, direct where
        C(/vm-hosts/) answers 410 Gone; an existing VM is managed the way it was made.
    type: str
    choices: [auto, vm-host, direct]
    default: auto
  lxd_hosts:
    description:
      - The LXD servers of direct mode, in the format of C(LXD_MULTI_HOSTS) (the one lxd-multi-scheduler reads). Each
        has C(host) (the LXD API URL, C(https://10.0.0.1:8443)), C(client_cert) and C(client_key) (PEM files of a client
        certificate LXD trusts), and optionally C(name), C(server_cert) (pin LXD's own certificate) or C(ca_cert),
        C(cpu_over_commit), C(memory_over_commit), C(zone), C(pool), C(tags), C(bridge) (the NIC's parent) and
        C(project).
      - An entry whose C(name) is the hostname of a MAAS machine tagged O(lxd_host_tag) gives that machine's endpoint
        and credentials (its zone, pool and tags come from MAAS); such a machine without an entry uses its workload
        annotation C(lxd_endpoint), else C(https://<its first address>:8443), and the O(lxd_client_cert) pair.
      - Not set, the JSON of the environment variable E(LXD_MULTI_HOSTS).
      - Requests to the LXD hosts take the task's O(timeout) and O(retries), as requests to MAAS do.
    type: list
    elements: dict
  lxd_host_tag:
    description:
      - MAAS machines carrying this tag run LXD and are direct mode's LXD hosts.
    type: str
    default: lxd-host
  lxd_client_cert:
    description:
      - Client certificate (PEM file) for the LXD hosts whose O(lxd_hosts) entry gives none.
    type: path
  lxd_client_key:
    description:
      - Its key (PEM file).
    type: path
  lxd_ca_path:
    description:
      - CA bundle that signed the LXD hosts' certificates, for those whose entry pins none (C(server_cert)).
    type: path
  lxd_validate_certs:
    description:
      - Verify the LXD hosts' certificates (pinned C(server_cert), or O(lxd_ca_path)). V(false) is loudly warned about.
    type: bool
    default: true
  lxd_bridge:
    description:
      - The bridge a direct-mode VM's NIC is attached to on its LXD host, unless its entry says C(bridge).
    type: str
    default: br0
"""
