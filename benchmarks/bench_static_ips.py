# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static IPs against DHCP: `playbooks/control_plane.yml` for 3 VMs that MAAS gives an address (cluster `dhcp`) and for
3 VMs with static IPs, their gateway and DNS servers (cluster `static`, `lxdcp_ip`, `lxdcp_gateway`, `lxdcp_dns_servers`).

One maas-sim (default scenario and timings: commissioning 2 s, deploying 3 s), both clusters side by side in pool
`default` over az1-az3, VMs of 2 cores, 4 GiB and 20 GiB, measured in one run: the first run of each, then each again
(idempotent: no write), then each teardown. The ratio rows divide the static cluster's figure by the DHCP cluster's.
What static IPs cost: the static IP plan (`maas_static_ip state=validated`: subnets, IP ranges, the subnet's addresses),
the same checks again in `maas_lxd_vm`, and per VM the swap of the AUTO link for a STATIC one carrying the default
gateway (`unlink_subnet`, `link_subnet`) once the VM is Ready; on a re-run, the same checks of the gateway and DNS
servers (reads) before `maas_lxd_vm` changes anything; on teardown, one read per static IP to free its reservation.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.lxdcp.maas.tests.integration.roles.runner import ClusterRunner  # noqa: E402
from simharness import SimServer  # noqa: E402  pylint: disable=import-error


def inventory(cluster, static):
    """Three LXD VMs of ``cluster``; with ``static`` each has a static IP, the subnet's gateway and DNS server."""
    hosts = {}
    for number in (1, 2, 3):
        hosts["%s-cp-%d" % (cluster, number)] = (
            {"lxdcp_ip": "10.10.0.%d" % (140 + number), "lxdcp_gateway": "10.10.0.1", "lxdcp_dns_servers": ["10.10.0.2"]}
            if static else {})
    settings = {"lxdcp_provisioning_mode": "lxd", "provision_cores": 2, "provision_memory": "4G", "provision_disk_size": "20G",
                "provision_zones": ["az1", "az2", "az3"], "provision_pool": "default"}
    return {"all": {"vars": {"lxdcp_cluster": cluster},
                    "children": {"control_plane": {"vars": settings, "hosts": hosts}, "workers": {"hosts": {}}}}}


def measure(action, inventory_dict, idempotent):
    """(seconds, requests, writes) of one playbook run."""
    start = time.perf_counter()
    result = action(inventory_dict)
    seconds = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError("run failed: %s" % (result.failures(),))
    if idempotent and result.writes:
        raise RuntimeError("not idempotent: %s" % result.write_summary())
    return seconds, len(result.requests), len(result.writes)


def run():
    """Benchmark rows (see the module docstring)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-static-ips-") as workdir, SimServer() as sim:
        cluster = ClusterRunner(sim, workdir)
        dhcp, static = inventory("dhcp", False), inventory("static", True)
        steps = (("control_plane.yml, 3 VMs", cluster.up, False), ("control_plane.yml again", cluster.up, True),
                 ("teardown.yml, 3 VMs", cluster.down, False))
        for label, action, idempotent in steps:
            figures = {}
            for name, inv in (("DHCP", dhcp), ("static + gateway/DNS", static)):
                seconds, requests, writes = figures[name] = measure(action, inv, idempotent)
                rows.append(dict(benchmark="%s, %s" % (label, name), metric="wall time", value=round(seconds, 2), unit="s",
                                 notes="%d requests, %d writes" % (requests, writes)))
            (d_s, d_r, d_w), (s_s, s_r, s_w) = figures["DHCP"], figures["static + gateway/DNS"]
            rows.append(dict(benchmark="%s, static / DHCP" % label, metric="wall time ratio", value=round(s_s / d_s, 2),
                             unit="x", notes="requests %d / %d, writes %d / %d" % (s_r, d_r, s_w, d_w)))
    return rows


if __name__ == "__main__":
    for row in run():
        print("%-55s %-16s %8s %-2s %s" % (row["benchmark"], row["metric"], row["value"], row["unit"], row["notes"]))
