"""maas_lxd_vm: argument checks, drift, host choice, result shape, and whole runs against a scripted MAAS."""

from __future__ import annotations

import base64
import copy
import re

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils import ownership
from ansible_collections.lxdcp.maas.plugins.module_utils.maas import waiters
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import machine_view
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.drift import find_drift
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.spec import Spec, SpecError
from ansible_collections.lxdcp.maas.plugins.modules import maas_lxd_vm as vm
from ansible_collections.lxdcp.maas.tests.unit.plugins import maasdata as data
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import FakeMaas, dropped, run_module

GIB = 1024 ** 3


def params(**overrides):
    """Module params as AnsibleModule would fill them (defaults included)."""
    base = dict(hostname="cp-1", state="present", provisioning_mode="lxd", cluster=None, cores=None, memory=None,
                disks=None, vm_host=None, zones=None, pool=None, host_tags=None, strategy="most-free", project=None,
                interfaces=None, user_data=None, osystem=None, distro_series=None, hwe_kernel=None, tags=None,
                domain=None, wait=True, wait_timeout=1800, recreate=False, delete_bare_metal=False,
                preferred_vm_host=None, max_hosts=3, recover=None)
    base.update(overrides)
    return base


# -- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"cores": 0}, "cores must be at least 1, got 0"),
        ({"cores": -2}, "cores must be at least 1, got -2"),
        ({"memory": "512"}, "memory '512' is 512 MiB, below the minimum of 1024 MiB (MAAS composes VMs with at least 1024 MiB)"),
        ({"memory": "lots"}, "memory 'lots' is not a size"),
        ({"memory": "4GB"}, "is not a whole number of MiB"),
        ({"disks": [{"size": "0"}]}, "disks[0].size '0' must be greater than zero"),
        ({"disks": [{"size": "500M"}]}, "disks[0].size '500M' is below 1 GiB"),
        ({"disks": [{"size": "big"}]}, "disks[0].size 'big' is not a size"),
        ({"disks": []}, "disks must list at least the root disk"),
        ({"hostname": "cp_1"}, "hostname 'cp_1' is not a valid MAAS hostname"),
        ({"hostname": "cp-1.maas"}, "(a short name, use domain for the DNS domain)"),
        ({"hostname": "-cp"}, "not a valid MAAS hostname"),
        ({"cluster": "prod cluster"}, "cluster 'prod cluster' may only contain"),
        ({"tags": ["bad tag"]}, "tag 'bad tag' is not a valid MAAS tag name"),
        ({"wait_timeout": 0}, "wait_timeout must be at least 1 second"),
        ({"interfaces": [{"ip": "10.10.0.300"}]}, "interfaces[0]: address '10.10.0.300' is not a valid IPv4 address"),
        ({"interfaces": [{"subnet": "10.10.0.0/33"}]}, "interfaces[0].subnet '10.10.0.0/33' is not a valid CIDR"),
        ({"interfaces": [{"subnet": "10.10.0.5/24"}]}, "has host bits set; the network is 10.10.0.0/24"),
        ({"interfaces": [{"ip": "10.20.0.5", "subnet": "10.10.0.0/24"}]}, "address 10.20.0.5 is outside subnet 10.10.0.0/24"),
        ({"interfaces": [{"ip": "10.10.0.255", "subnet": "10.10.0.0/24"}]}, "10.10.0.255 is the broadcast address of 10.10.0.0/24"),
        ({"interfaces": [{"name": "eth0"}]}, "interfaces[0] needs a subnet (CIDR) or an ip"),
        ({"interfaces": [{"ip": "10.10.0.5"}, {"name": "eth0", "ip": "10.10.0.6"}]}, "repeated: eth0"),
        ({"interfaces": [{"ip": "10.10.0.5"}, {"ip": "10.10.0.5"}]}, "interfaces[1]: address 10.10.0.5 is requested more than once (also interfaces[0])"),
        ({"interfaces": [{"subnet": "10.10.0.0/24", "gateway": "10.10.0.1"}]}, "interfaces[0].gateway needs interfaces[0].ip"),
        ({"interfaces": [{"subnet": "10.10.0.0/24", "dns_servers": ["10.10.0.2"]}]}, "interfaces[0].dns_servers needs interfaces[0].ip"),
        ({"interfaces": [{"ip": "10.10.0.5", "gateway": "10.10.0.5"}]}, "gateway 10.10.0.5 is the address itself"),
        ({"interfaces": [{"ip": "10.10.0.5", "subnet": "10.10.0.0/24", "gateway": "10.20.0.1"}]}, "gateway 10.20.0.1 is outside subnet"),
        ({"interfaces": [{"ip": "10.10.0.5", "gateway": "gw"}]}, "gateway 'gw' is not a valid"),
        ({"interfaces": [{"ip": "10.10.0.5", "dns_servers": ["10.10.0.2", "ns1"]}]}, "dns_servers[1] 'ns1' is not a valid"),
        ({"interfaces": [{"ip": "10.10.0.5", "gateway": "10.10.0.1"}, {"ip": "10.20.0.5", "gateway": "10.20.0.1"}]},
         "a machine has one default gateway per IP version: give gateway on one interface only (IPv4 on eth0, eth1)"),
        ({"interfaces": [{"name": "a-very-long-interface-name", "ip": "10.10.0.5"}]}, "not a valid interface name"),
        ({"provisioning_mode": "bare-metal", "vm_host": "lxd-a"}, "vm_host only apply to provisioning_mode: lxd"),
        ({"provisioning_mode": "bare-metal", "recreate": True}, "recreate only apply"),
        ({"provisioning_mode": "bare-metal", "disks": [{"size": "20G", "pool": "ssd"}]}, "disks[].pool only apply"),
        ({"delete_bare_metal": True}, "delete_bare_metal only applies to provisioning_mode: bare-metal"),
        ({"osystem": "ubuntu"}, "osystem needs distro_series"),
    ],
)
def test_bad_arguments_fail_before_any_request(overrides, message):
    with pytest.raises(SpecError) as info:
        Spec(params(**overrides))
    assert message in str(info.value)


def test_spec_parses_sizes_and_defaults():
    spec = Spec(params(cores=4, memory="8G", disks=[{"size": "40G"}, {"size": "100GB", "pool": "hdd"}],
                       interfaces=[{"ip": "10.10.0.11"}, {"subnet": "10.20.0.0/24"}], cluster="prod", tags=["k8s"]))
    assert spec.memory == 8192
    assert spec.disks == [{"size": 40 * GIB, "pool": None}, {"size": 100 * 10 ** 9, "pool": "hdd"}]
    assert spec.interfaces == [{"name": "eth0", "subnet": None, "ip": "10.10.0.11", "gateway": None, "dns_servers": []},
                               {"name": "eth1", "subnet": "10.20.0.0/24", "ip": None, "gateway": None, "dns_servers": []}]
    assert spec.wanted_tags == ["lxdcp-cluster-prod", "lxdcp-managed", "k8s"]
    assert spec.summary() == "4 cores, 8192 MiB, 40 GiB + 93.13 GiB"
    assert Spec(params()).summary() == "2 cores, 4096 MiB, 20 GiB"


def test_bare_metal_memory_has_no_vm_minimum():
    assert Spec(params(provisioning_mode="bare-metal", memory="512")).memory == 512


def test_deploy_data_sends_user_data_base64_and_os_series():
    spec = Spec(params(user_data="#cloud-config\npackages: [jq]\n", osystem="ubuntu", distro_series="jammy",
                       hwe_kernel="hwe-22.04"))
    form = spec.deploy_data()
    assert form["distro_series"] == "ubuntu/jammy" and form["hwe_kernel"] == "hwe-22.04"
    assert base64.b64decode(form["user_data"]).decode() == "#cloud-config\npackages: [jq]\n"
    assert Spec(params(distro_series="noble")).deploy_data() == {"distro_series": "noble"}


# -- reading machines --------------------------------------------------------------------------


HOST_A = data.vm_host(1, "lxd-a", system_id="hosta")


def test_drift_compares_only_what_the_task_sets():
    machine = data.machine("vm1", "cp-1", cores=2, memory=4096, disks=(20 * GIB,), host=HOST_A)
    assert find_drift(machine, Spec(params())) == []
    assert find_drift(machine, Spec(params(cores=2, memory="4G", disks=[{"size": "20G"}]))) == []
    drift = find_drift(machine, Spec(params(cores=4, memory="8G", disks=[{"size": "40G"}], vm_host="lxd-b",
                                            zones=["az2"], pool="k8s")))
    assert [d["field"] for d in drift] == ["cores", "memory", "disks", "vm_host", "zone", "pool"]
    assert drift[0] == {"field": "cores", "current": 2, "wanted": 4}


def test_disk_sizes_tolerate_hypervisor_rounding():
    machine = data.machine("vm1", "cp-1", disks=(20 * GIB - 4 * 1024 ** 2,), host=HOST_A)
    assert find_drift(machine, Spec(params(disks=[{"size": "20G"}]))) == []
    machine = data.machine("vm1", "cp-1", disks=(20 * GIB, 10 * GIB), host=HOST_A)
    assert find_drift(machine, Spec(params(disks=[{"size": "20G"}])))[0]["field"] == "disks"


def test_vm_host_matches_by_name_or_id():
    machine = data.machine("vm1", "cp-1", host=HOST_A)
    assert find_drift(machine, Spec(params(vm_host="1"))) == []
    assert find_drift(machine, Spec(params(vm_host="lxd-a"))) == []


def test_bare_metal_cores_and_memory_are_minimums():
    machine = data.machine("bm1", "cp-4", cores=16, memory=65536)
    spec = Spec(params(provisioning_mode="bare-metal", cores=8, memory="32G"))
    assert find_drift(machine, spec) == []
    drift = find_drift(machine, Spec(params(provisioning_mode="bare-metal", cores=32)))
    assert drift == [{"field": "cores", "current": 16, "wanted": ">= 32"}]


def test_a_machine_not_commissioned_yet_has_no_size_or_address_drift():
    # A VM registered in direct mode: MAAS knows its size and links once it has commissioned it.
    machine = data.machine("vm1", "cp-1", status="Commissioning", cores=0, memory=0, disks=(),
                           interfaces=[data.interface(1, links=[])])
    spec = Spec(params(cores=2, memory="4G", disks=[{"size": "20G"}], interfaces=[{"ip": "10.10.0.12"}], zones=["az2"]))
    assert find_drift(machine, spec) == [{"field": "zone", "current": "az1", "wanted": ["az2"]}]
    machine["cpu_count"] = 4
    assert [d["field"] for d in find_drift(machine, spec)] == ["cores", "memory", "disks", "zone", "ip of eth0"]


def test_ip_drift_only_when_maas_cannot_relink():
    links = [data.link(11, "static", "10.10.0.11")]
    ready = data.machine("vm1", "cp-1", host=HOST_A, interfaces=[data.interface(1, links=links)])
    deployed = copy.deepcopy(ready)
    deployed["status_name"] = "Deployed"
    spec = Spec(params(interfaces=[{"ip": "10.10.0.12"}]))
    assert find_drift(ready, spec) == []  # fixed by re-linking
    assert find_drift(deployed, spec) == [{"field": "ip of eth0", "current": ["10.10.0.11"], "wanted": "10.10.0.12"}]
    missing = find_drift(ready, Spec(params(interfaces=[{"name": "eth1", "ip": "10.10.0.12"}])))
    assert missing == [{"field": "interfaces", "current": ["eth0"], "wanted": "eth1"}]


def test_machine_view_shape_and_provider_ids():
    sub = data.subnet(dns=["10.10.0.2"])
    machine = data.machine("vm1", "cp-1", status="Deployed", host=HOST_A, tags=["lxdcp-managed"],
                           interfaces=[data.interface(1, links=[data.link(11, "static", "10.10.0.11", sub)])])
    view = machine_view(machine)
    assert view["provider_id"] == "maas-lxd:///az1/vm1"
    assert view["vm_host"] == {"id": 1, "name": "lxd-a"}
    assert view["disks"] == [{"name": "sda", "size": 20 * GIB, "size_gb": 21.47}]
    assert view["interfaces"][0]["links"] == [{"id": 11, "mode": "static", "ip_address": "10.10.0.11",
                                               "subnet": "10.10.0.0/24", "gateway": "10.10.0.1"}]
    assert view["gateway"] == "10.10.0.1" and view["dns_servers"] == ["10.10.0.2"]
    assert view["ip_addresses"] == ["10.10.0.11"] and view["status"] == "Deployed"
    bare = machine_view(data.machine("bm1", "cp-4", zone_name="az3"))
    assert bare["provider_id"] == "maas:///az3/bm1" and bare["vm_host"] is None
    assert (view["lxd_vm"], bare["lxd_vm"]) == (True, False)
    # vm_provider_id_scheme maas: a VM's ID as CAPMAAS writes it; bare metal is maas:/// whatever the option.
    assert machine_view(machine, vm_provider_id_scheme="maas")["provider_id"] == "maas:///az1/vm1"
    assert machine_view(data.machine("bm1", "cp-4", zone_name="az3"), vm_provider_id_scheme="maas")["provider_id"] == \
        "maas:///az3/bm1"
    assert set(view) == {"system_id", "hostname", "fqdn", "status", "status_message", "zone", "pool", "domain",
                         "vm_host", "lxd_vm", "cores", "memory", "disks", "interfaces", "ip_addresses", "gateway",
                         "dns_servers", "tags", "osystem", "distro_series", "hwe_kernel", "power_state", "owner",
                         "provider_id"}


# -- a scripted MAAS for whole runs ------------------------------------------------------------


class World(object):
    """Just enough MAAS behaviour for the module's flows; each test inspects the requests sent.

    Machine status changes on later reads follow ``machine["_next"]`` (one step per GET).
    """

    def __init__(self, hosts):
        self.hosts = {h["id"]: h for h in hosts}
        self.machines = {}
        self.tags = set()
        self.subnets = [data.subnet()]
        self.ipranges = [{"id": 1, "type": "dynamic", "start_ip": "10.10.0.200", "end_ip": "10.10.0.250"}]
        self.compose_failures = {}  # host id -> (status, text)
        self.commission_failures = set()  # host ids whose VMs fail commissioning
        self.tag_comments = {}
        self.reservations = []  # {"ip", "dns_records"} reserved by the API user
        self.version = "3.6.1"
        self.counter = 0
        self.fake = FakeMaas(fallback=self.dispatch)

    def add_machine(self, machine):
        self.machines[machine["system_id"]] = machine
        return machine

    # -- dispatch --------------------------------------------------------------------------

    def dispatch(self, call):
        parts = call.path.strip("/").split("/")
        key = (call.method, parts[0], len(parts), call.op)
        handlers = {
            ("GET", "vm-hosts", 1, None): lambda: (200, list(self.hosts.values())),
            ("GET", "vm-hosts", 2, None): lambda: (200, self.hosts[int(parts[1])]),
            ("POST", "vm-hosts", 2, "compose"): lambda: self.compose(int(parts[1]), call.form),
            ("GET", "machines", 1, None): lambda: self.list_machines(call.query),
            ("GET", "machines", 2, None): lambda: self.read(parts[1]),
            ("PUT", "machines", 2, None): lambda: self.update(parts[1], call.form),
            ("DELETE", "machines", 2, None): lambda: self.delete(parts[1]),
            ("POST", "machines", 2, "deploy"): lambda: self.transition(parts[1], "Deploying", "Deployed"),
            ("POST", "machines", 2, "release"): lambda: self.release(parts[1]),
            ("POST", "machines", 1, "allocate"): lambda: self.allocate(call.form),
            ("GET", "tags", 1, None): lambda: (200, [{"name": name} for name in sorted(self.tags)]),
            ("GET", "tags", 2, None): lambda: (200, {"name": parts[1], "comment": self.tag_comments.get(parts[1], "")})
            if parts[1] in self.tags else (404, "No Tag matches"),
            ("POST", "tags", 1, None): lambda: self.create_tag(call.form["name"][0], call.form.get("comment", [""])[0]),
            ("DELETE", "tags", 2, None): lambda: self.delete_tag(parts[1]),
            ("POST", "tags", 2, "update_nodes"): lambda: self.update_nodes(parts[1], call.form),
            ("GET", "zones", 1, None): lambda: (200, [data.zone("az%d" % i, i) for i in (1, 2, 3)]),
            ("GET", "resourcepools", 1, None): lambda: (200, [data.pool("default", 0), data.pool("k8s", 1)]),
            ("GET", "domains", 1, None): lambda: (200, [{"id": 0, "name": "maas"}, {"id": 3, "name": "k8s.example"}]),
            ("GET", "subnets", 1, None): lambda: (200, self.subnets),
            ("GET", "ipranges", 1, None): lambda: (200, self.ipranges),
            ("GET", "ipaddresses", 1, None): lambda: (200, self.addresses(call.query["ip"][0], "all" in call.query)),
            ("GET", "subnets", 2, "ip_addresses"): lambda: (200, self.subnet_addresses()),
            ("GET", "version", 1, None): lambda: (200, {"version": self.version, "capabilities": [], "subversion": ""}),
            ("GET", "users", 1, "whoami"): lambda: (200, {"username": "admin", "is_superuser": True}),
            ("POST", "ipaddresses", 1, "release"): lambda: self.release_reservation(call.form["ip"][0]),
            ("POST", "nodes", 4, "unlink_subnet"): lambda: self.unlink(parts[1], int(parts[3]), int(call.form["id"][0])),
            ("POST", "nodes", 4, "link_subnet"): lambda: self.link(parts[1], int(parts[3]), call.form),
            ("POST", "nodes", 4, "set_default_gateway"): lambda: self.set_gateway(parts[1], int(parts[3]), call.form),
        }
        handler = handlers.get(key)
        if handler is None:
            return 404, "no handler for %r" % call
        return handler()

    def list_machines(self, query):
        found = list(self.machines.values())
        for key, test in (("hostname", lambda m, v: m["hostname"] in v), ("id", lambda m, v: m["system_id"] in v),
                          ("tags", lambda m, v: all(t in m["tag_names"] for t in v)),
                          ("agent_name", lambda m, v: m.get("agent_name") in v),
                          ("status", lambda m, v: m["status_name"].lower() in v)):
            if key in query:
                found = [m for m in found if test(m, query[key])]
        if "tags" in query and not all(t in self.tags for t in query["tags"]):
            return 400, {"tags": ["No such tag(s): %s." % query["tags"]]}
        return 200, [self.public(m) for m in found]

    @staticmethod
    def public(machine):
        return {k: v for k, v in machine.items() if not k.startswith("_")}

    def read(self, system_id):
        machine = self.machines.get(system_id)
        if machine is None:
            return 404, "No Machine matches the given query."
        if machine.get("_next"):
            machine["status_name"] = machine["_next"].pop(0)
        return 200, self.public(machine)

    def compose(self, host_id, form):
        if host_id in self.compose_failures:
            return self.compose_failures[host_id]
        host = self.hosts[host_id]
        self.counter += 1
        system_id = "vm%04d" % self.counter
        cores, memory = int(form["cores"][0]), int(form["memory"][0])
        sizes = [int(round(float(re.match(r"\w+:([\d.]+)", s).group(1)) * 10 ** 9)) for s in form["storage"][0].split(",")]
        links = [data.link(10 + self.counter, "auto")]
        if "interfaces" in form:
            ip = re.search(r"ip=([\d.]+)", form["interfaces"][0])
            if ip:
                links = [data.link(10 + self.counter, "auto", ip.group(1))]
        zone = next(z for z in [data.zone("az%d" % i, i) for i in (1, 2, 3)] if str(z["id"]) == form["zone"][0])
        machine = data.machine(system_id, form["hostname"][0], status="Commissioning", cores=cores, memory=memory,
                               disks=sizes, host=host, zone_name=zone["name"], zone_id=zone["id"],
                               tags=list(host["tags"]),
                               interfaces=[data.interface(self.counter, system_id=system_id, links=links)])
        machine["_next"] = ["Commissioning"] * 4 + ["Failed commissioning" if host_id in self.commission_failures else "Ready"]
        self.add_machine(machine)
        host["used"]["cores"] += cores
        host["used"]["memory"] += memory
        return 200, {"system_id": system_id, "resource_uri": machine["resource_uri"]}

    def transition(self, system_id, now, later):
        machine = self.machines[system_id]
        machine["status_name"] = now
        machine["_next"] = [later]
        return 200, self.public(machine)

    def release(self, system_id):
        machine = self.machines[system_id]
        machine.update(owner=None, agent_name="")  # MAAS's _finalize_release clears both
        return self.transition(system_id, "Releasing", "Ready")

    def delete(self, system_id):
        machine = self.machines.pop(system_id)
        if machine.get("pod"):
            host = self.hosts[machine["pod"]["id"]]
            host["used"]["cores"] -= machine["cpu_count"]
            host["used"]["memory"] -= machine["memory"]
        return 204, None

    def update(self, system_id, form):
        machine = self.machines[system_id]
        machine["hostname"] = form["hostname"][0]
        return 200, self.public(machine)

    def allocate(self, form):
        for machine in self.machines.values():
            if machine["status_name"] != "Ready":
                continue
            # MAAS matches the pod constraints against the machine's BMC: a composed VM's is its VM host.
            if machine["power_type"] in form.get("not_pod_type", []):
                continue
            if set(form.get("not_tags", [])) & set(machine["tag_names"]):
                continue
            if "system_id" in form and machine["system_id"] != form["system_id"][0]:
                continue
            if "zone" in form and machine["zone"]["name"] != form["zone"][0]:
                continue
            if "cpu_count" in form and machine["cpu_count"] < int(form["cpu_count"][0]):
                continue
            machine["status_name"] = "Allocated"
            machine["owner"] = "admin"
            machine["agent_name"] = form.get("agent_name", [""])[0]
            return 200, self.public(machine)
        return 409, "No available machine matches constraints: %r" % sorted(form.items())

    def create_tag(self, name, comment=""):
        self.tags.add(name)
        self.tag_comments[name] = comment
        return 200, {"name": name}

    def delete_tag(self, name):
        self.tags.discard(name)
        for machine in self.machines.values():
            if name in machine["tag_names"]:
                machine["tag_names"].remove(name)
        return 204, None

    def update_nodes(self, name, form):
        for system_id in form.get("add", []):
            self.machines[system_id]["tag_names"].append(name)
        for system_id in form.get("remove", []):
            self.machines[system_id]["tag_names"].remove(name)
        return 200, {"added": len(form.get("add", [])), "removed": len(form.get("remove", []))}

    def addresses(self, ip, all_users=False):
        """``GET /ipaddresses/?ip=``: without ``all`` MAAS lists only the caller's reservations (none here)."""
        if not all_users:
            return []
        found = []
        for machine in self.machines.values():
            for interface in machine["interface_set"]:
                if any(link.get("ip_address") == ip for link in interface["links"]):
                    found.append({"ip": ip, "alloc_type_name": "Sticky", "interface_set": [{"system_id": machine["system_id"]}]})
        return found

    def subnet_addresses(self):
        records = [dict(r, alloc_type=4, user="admin") for r in self.reservations]
        for machine in self.machines.values():
            for interface in machine["interface_set"]:
                for link in interface["links"]:
                    if link.get("ip_address"):
                        records.append({"ip": link["ip_address"], "alloc_type": 1 if link["mode"] == "static" else 0,
                                        "user": "admin", "node_summary": {"system_id": machine["system_id"],
                                                                          "hostname": machine["hostname"], "node_type": 0}})
        return records

    def release_reservation(self, ip):
        self.reservations = [r for r in self.reservations if r["ip"] != ip]
        return 204, None

    def unlink(self, system_id, interface_id, link_id):
        interface = next(i for i in self.machines[system_id]["interface_set"] if i["id"] == interface_id)
        interface["links"] = [link for link in interface["links"] if link["id"] != link_id]
        return 200, interface

    def link(self, system_id, interface_id, form):
        interface = next(i for i in self.machines[system_id]["interface_set"] if i["id"] == interface_id)
        interface["links"].append(data.link(99, form["mode"][0].lower(), form["ip_address"][0]))
        self.machines[system_id]["ip_addresses"] = [form["ip_address"][0]]
        if form.get("default_gateway") == ["true"]:
            self.machines[system_id]["default_gateways"] = {"ipv4": {"gateway_ip": "10.10.0.1", "link_id": 99},
                                                            "ipv6": {"gateway_ip": None, "link_id": None}}
        return 200, interface

    def set_gateway(self, system_id, interface_id, form):
        """``op=set_default_gateway``: the link's subnet gives the machine its default gateway."""
        interface = next(i for i in self.machines[system_id]["interface_set"] if i["id"] == interface_id)
        link = next(link for link in interface["links"] if str(link["id"]) == form["link_id"][0])
        self.machines[system_id]["default_gateways"] = {"ipv4": {"gateway_ip": link["subnet"]["gateway_ip"], "link_id": link["id"]},
                                                        "ipv6": {"gateway_ip": None, "link_id": None}}
        return 200, interface


def hosts():
    return [
        data.vm_host(1, "lxd-a", zone_name="az1", zone_id=1, cores=16, memory=65536, used_cores=12, used_memory=49152,
                     system_id="hosta"),
        data.vm_host(2, "lxd-b", zone_name="az2", zone_id=2, cores=16, memory=65536, used_cores=2, used_memory=4096,
                     system_id="hostb"),
        data.vm_host(3, "lxd-c", zone_name="az3", zone_id=3, cores=16, memory=65536, used_cores=8, used_memory=16384,
                     system_id="hostc"),
    ]


@pytest.fixture
def world():
    maas = World(hosts())
    for host_id, name in ((1, "hosta"), (2, "hostb"), (3, "hostc")):
        maas.add_machine(data.machine(name, "lxd-" + "abc"[host_id - 1], status="Deployed", power_state="on"))
    return maas


def run(world, monkeypatch, check_mode=False, diff=False, verbosity=0, **args):
    return run_module(vm.main, args, world.fake, monkeypatch, check_mode=check_mode, diff=diff, verbosity=verbosity)


def writes(world):
    return [(c.method, c.path, c.op) for c in world.fake.writes()]


SPEC = dict(hostname="cp-1", cluster="prod", cores=2, memory="4G", disks=[{"size": "20G"}])


def spec(**overrides):
    """SPEC with some arguments changed."""
    args = dict(SPEC)
    args.update(overrides)
    return args


def test_compose_places_on_the_most_free_host_tags_and_waits(world, monkeypatch):
    result = run(world, monkeypatch, **SPEC)
    assert result["changed"] is True, result.get("msg")
    machine = result["machine"]
    assert machine["vm_host"]["name"] == "lxd-b" and machine["status"] == "Ready" and machine["zone"] == "az2"
    assert result["provider_id"] == machine["provider_id"] == "maas-lxd:///az2/%s" % machine["system_id"]
    assert "lxdcp-managed" in machine["tags"] and "lxdcp-cluster-prod" in machine["tags"]
    compose = world.fake.find("POST", "vm-hosts/2/", "compose")[0]
    assert compose.form == {"hostname": ["cp-1"], "cores": ["2"], "memory": ["4096"], "storage": ["root:21.47483648(default)"],
                            "zone": ["2"], "pool": ["0"]}
    assert result["placement"]["placements"][0]["host"] == "lxd-b"
    assert result["placement"]["attempts"] == [{"host": "lxd-b", "ok": True, "error": None}]
    assert result["actions"][0] == "compose cp-1 on lxd-b (2 cores, 4096 MiB, 20 GiB)"
    # Polled while MAAS commissioned it (one status step per read): every start seconds, the wait being shorter than
    # start / lag (the pause is then lag times the time waited).
    assert world.fake.sleeps == [waiters.MACHINE_POLL_START] * 3


def test_second_run_sends_no_write(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    before = len(world.fake.writes())
    result = run(world, monkeypatch, **SPEC)
    assert result["changed"] is False and result["actions"] == [] and result["drift"] == []
    assert len(world.fake.writes()) == before


def test_check_mode_predicts_the_host_and_sends_no_write(world, monkeypatch):
    result = run(world, monkeypatch, check_mode=True, diff=True, state="deployed", distro_series="jammy", **SPEC)
    assert result["changed"] is True and result["machine"] is None
    assert writes(world) == []
    assert result["actions"][0] == "would compose cp-1 on lxd-b (2 cores, 4096 MiB, 20 GiB)"
    assert "would deploy cp-1 jammy" in result["actions"]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["vm_host"] == "lxd-b" and result["diff"]["after"]["status"] == "Deployed"


def test_anti_affinity_uses_the_cluster_replicas(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    second = run(world, monkeypatch, **spec(hostname="cp-2"))
    assert second["machine"]["zone"] != "az2"
    tag_query = [c for c in world.fake.find("GET", "machines/") if "tags" in c.query]
    assert tag_query and tag_query[-1].query["tags"] == ["lxdcp-cluster-prod"]


def test_next_host_is_tried_when_compose_fails(world, monkeypatch):
    world.compose_failures[2] = (503, "Unable to compose machine because: lxd-b is offline")
    result = run(world, monkeypatch, **SPEC)
    assert result["changed"] is True, result.get("msg")
    attempts = result["placement"]["attempts"]
    assert [a["host"] for a in attempts] == ["lxd-b", "lxd-c"] and attempts[0]["ok"] is False
    assert "lxd-b is offline" in attempts[0]["error"]
    assert result["machine"]["vm_host"]["name"] == "lxd-c"
    assert len(world.fake.find("POST", "vm-hosts/2/", "compose")) == 1  # a host-side failure is not retried


def test_full_storage_pool_500_moves_to_the_next_host(world, monkeypatch):
    world.compose_failures[2] = (500, "Not enough storage space on storage pools: default")
    result = run(world, monkeypatch, **SPEC)
    assert result["machine"]["vm_host"]["name"] == "lxd-c", result.get("msg")
    assert "Not enough storage space" in result["placement"]["attempts"][0]["error"]


def test_compose_names_the_storage_pool_placement_checked(world, monkeypatch):
    # No default pool on the host: placement counts the pool with the most room, and compose must use that one.
    world.hosts[2]["storage_pools"] = [data.storage_pool("small", total=50 * 10 ** 9, default=False),
                                       data.storage_pool("big", total=900 * 10 ** 9, default=False)]
    result = run(world, monkeypatch, **SPEC)
    assert result["machine"]["vm_host"]["name"] == "lxd-b", result.get("msg")
    (compose,) = world.fake.find("POST", "vm-hosts/2/", "compose")
    assert compose.form["storage"] == ["root:21.47483648(big)"]


def test_compose_uses_the_host_default_storage_pool(world, monkeypatch):
    world.hosts[2]["storage_pools"] = [data.storage_pool("big", total=900 * 10 ** 9, default=False),
                                       data.storage_pool("fast", total=100 * 10 ** 9, default=True)]
    run(world, monkeypatch, **SPEC)
    (compose,) = world.fake.find("POST", "vm-hosts/2/", "compose")
    assert compose.form["storage"] == ["root:21.47483648(fast)"]


def test_compose_error_that_still_created_the_vm_uses_it(world, monkeypatch):
    original = world.compose

    def compose_then_fail(host_id, form):
        original(host_id, form)
        return 503, "Unable to compose machine because: timed out after creating it"

    world.compose = compose_then_fail
    result = run(world, monkeypatch, **SPEC)
    assert result["changed"] is True, result.get("msg")
    assert result["placement"]["attempts"] == [{"host": "lxd-b", "ok": True, "error": None}]
    assert len([m for m in world.machines.values() if m["hostname"] == "cp-1"]) == 1


def test_spent_retry_budget_is_not_blamed_on_the_host(world, monkeypatch):
    world.compose_failures[2] = (503, "busy")
    world.fake.add("POST", "vm-hosts/2/", op="compose", status=503, text="busy", headers={"Retry-After": "1"})
    result = run(world, monkeypatch, **spec(retries=1))
    assert result["failed"] and "Gave up on POST /vm-hosts/2/?op=compose after 2 attempt(s)" in result["msg"]
    assert not world.fake.find("POST", "vm-hosts/3/", "compose")


def test_all_hosts_failing_reports_every_attempt(world, monkeypatch):
    for host_id in (1, 2, 3):
        world.compose_failures[host_id] = (503, "Unable to compose machine because: boom %d" % host_id)
    result = run(world, monkeypatch, **SPEC)
    assert result["failed"] and "cp-1 could not be composed on 3 VM host(s) (max_hosts)" in result["msg"]
    assert "lxd-b: compose refused (503): Unable to compose machine because: boom 2" in result["msg"]
    assert [item["host"] for item in result["failover"]] == ["lxd-b", "lxd-c", "lxd-a"]
    assert [a["ok"] for a in result["placement"]["attempts"]] == [False, False, False] and result["created"] is False
    assert not [m for m in world.machines.values() if m["hostname"] == "cp-1"]


def test_dropped_compose_answer_does_not_duplicate(world, monkeypatch):
    original = world.compose

    def compose_then_drop(host_id, form):
        original(host_id, form)
        raise dropped()

    world.compose = compose_then_drop
    result = run(world, monkeypatch, **SPEC)
    assert result["changed"] is True, result.get("msg")
    assert len([m for m in world.machines.values() if m["hostname"] == "cp-1"]) == 1
    assert len(world.fake.find("POST", "vm-hosts/2/", "compose")) == 1


def test_no_capacity_fails_with_the_tightest_constraint(world, monkeypatch):
    result = run(world, monkeypatch, **spec(cores=64))
    assert result["failed"] and "No LXD VM host can take cp-1" in result["msg"] and "cpu" in result["msg"]
    assert writes(world) == []
    assert {r["code"] for r in result["placement"]["rejected"]} == {"cpu"}


@pytest.mark.parametrize(
    "args, message",
    [
        ({"zone": ["az9"]}, "unknown zone(s): az9 (MAAS has: az1, az2, az3)"),
        ({"pool": "nope"}, "unknown resource pool 'nope' (MAAS has: default, k8s)"),
        ({"pool": "k8s"}, "pool"),
        ({"domain": "nope"}, "unknown domain 'nope' (MAAS has: k8s.example, maas)"),
        ({"vm_host": "lxd-z"}, "no LXD VM host named 'lxd-z' (LXD VM hosts: lxd-a, lxd-b, lxd-c)"),
        ({"host_tags": ["gpu"]}, "tags"),
        ({"vm_host": "lxd-a", "zone": ["az2"]}, "vm_host lxd-a conflicts with the other options: it is in zone az1, not in az2"),
        ({"vm_host": "lxd-a", "host_tags": ["gpu"], "pool": "k8s"}, "it is in pool default, not k8s; it lacks tag(s) gpu"),
        ({"interfaces": [{"ip": "10.99.0.5"}]}, "address 10.99.0.5 is in no subnet MAAS knows"),
        ({"interfaces": [{"ip": "10.10.0.1"}]}, "address 10.10.0.1 is the gateway of subnet 10.10.0.0/24"),
        ({"interfaces": [{"ip": "10.10.0.210"}]}, "inside the dynamic (DHCP) range 10.10.0.200-10.10.0.250"),
        ({"interfaces": [{"subnet": "10.30.0.0/24"}]}, "no MAAS subnet 10.30.0.0/24 for interface eth0"),
    ],
)
def test_unknown_places_and_bad_ips_fail_without_writes(world, monkeypatch, args, message):
    result = run(world, monkeypatch, **spec(**args))
    assert result["failed"] and message in result["msg"], result["msg"]
    assert writes(world) == []


def test_ip_in_use_fails_without_writes(world, monkeypatch):
    other = data.machine("vm9", "other", host=world.hosts[1],
                         interfaces=[data.interface(9, system_id="vm9", links=[data.link(1, "static", "10.10.0.50")])])
    world.add_machine(other)
    result = run(world, monkeypatch, **spec(interfaces=[{"ip": "10.10.0.50"}]))
    assert result["failed"] and "address 10.10.0.50 is already in use by machine other (system_id vm9" in result["msg"]
    assert writes(world) == []


def test_static_and_subnet_interfaces_read_the_subnets_once(world, monkeypatch):
    result = run(world, monkeypatch, check_mode=True, **spec(interfaces=[{"ip": "10.10.0.50"}, {"subnet": "10.10.0.0/24"}]))
    assert result["changed"] is True, result.get("msg")
    assert len(world.fake.find("GET", "subnets/")) == 1


def test_a_reservation_of_the_user_for_this_host_is_taken_over(world, monkeypatch):
    world.reservations.append({"ip": "10.10.0.50", "dns_records": [{"name": "cp-1", "domain": "maas"}]})
    result = run(world, monkeypatch, **spec(interfaces=[{"ip": "10.10.0.50"}]))
    assert result["changed"] is True, result.get("msg")
    assert result["actions"][0] == "release the reservation of 10.10.0.50 so that cp-1 takes it"
    assert [c.path for c in world.fake.writes()][:2] == ["ipaddresses/", "vm-hosts/2/"]
    assert world.reservations == []


def test_a_reservation_for_another_name_blocks(world, monkeypatch):
    world.reservations.append({"ip": "10.10.0.50", "dns_records": [{"name": "api", "domain": "maas"}]})
    result = run(world, monkeypatch, **spec(interfaces=[{"ip": "10.10.0.50"}]))
    assert result["failed"] and "already in use by a reservation of user admin for DNS name api.maas" in result["msg"]
    assert writes(world) == []


def test_static_ip_becomes_a_sticky_link(world, monkeypatch):
    result = run(world, monkeypatch, **spec(interfaces=[{"ip": "10.10.0.50"}]))
    assert result["changed"] is True, result.get("msg")
    compose = world.fake.find("POST", "vm-hosts/2/", "compose")[0]
    assert compose.form["interfaces"] == ["eth0:ip=10.10.0.50"]
    system_id = result["machine"]["system_id"]
    unlink = world.fake.find("POST", "nodes/%s/interfaces/1/" % system_id, "unlink_subnet")
    link = world.fake.find("POST", "nodes/%s/interfaces/1/" % system_id, "link_subnet")
    assert len(unlink) == 1 and len(link) == 1
    assert link[0].form == {"mode": ["STATIC"], "subnet": ["1"], "ip_address": ["10.10.0.50"]}
    assert result["machine"]["interfaces"][0]["links"][0]["mode"] == "static"
    again = run(world, monkeypatch, **spec(interfaces=[{"ip": "10.10.0.50"}]))
    assert again["changed"] is False and again["actions"] == []


def test_gateway_goes_with_the_static_link_or_is_chosen_for_an_existing_one(world, monkeypatch):
    interfaces = [{"ip": "10.10.0.50", "gateway": "10.10.0.1"}]
    result = run(world, monkeypatch, **spec(interfaces=interfaces))
    assert result["changed"] is True, result.get("msg")
    system_id = result["machine"]["system_id"]
    link = world.fake.find("POST", "nodes/%s/interfaces/1/" % system_id, "link_subnet")[0]
    assert link.form == {"mode": ["STATIC"], "subnet": ["1"], "ip_address": ["10.10.0.50"], "default_gateway": ["true"]}
    assert "make eth0 10.10.0.50 a static address with default gateway 10.10.0.1" in result["actions"]
    assert run(world, monkeypatch, **spec(interfaces=interfaces))["changed"] is False
    assert world.fake.find("POST", "nodes/%s/interfaces/1/" % system_id, "set_default_gateway") == []

    # MAAS gives the machine another link's gateway (say an interface added by hand): the static link is chosen again.
    world.machines[system_id]["default_gateways"] = {"ipv4": {"gateway_ip": "10.20.0.1", "link_id": 7}, "ipv6": {}}
    checked = run(world, monkeypatch, check_mode=True, diff=True, **spec(interfaces=interfaces))
    assert checked["changed"] is True and world.fake.find("POST", "nodes/%s/interfaces/1/" % system_id, "set_default_gateway") == []
    assert checked["actions"] == ["would make 10.10.0.1 (eth0) the default gateway of cp-1"]
    assert checked["diff"]["before"]["default_gateways"] == {"ipv4": "10.20.0.1", "ipv6": None}
    assert checked["diff"]["after"]["default_gateways"] == {"ipv4": "10.10.0.1", "ipv6": None}
    fixed = run(world, monkeypatch, **spec(interfaces=interfaces))
    assert fixed["changed"] is True
    chosen = world.fake.find("POST", "nodes/%s/interfaces/1/" % system_id, "set_default_gateway")
    assert [call.form for call in chosen] == [{"link_id": ["99"]}]
    assert run(world, monkeypatch, **spec(interfaces=interfaces))["changed"] is False

    # Deployed, MAAS refuses the change: the task fails saying so, before any write.
    world.machines[system_id]["status_name"] = "Deployed"
    world.machines[system_id]["default_gateways"] = {"ipv4": {"gateway_ip": "10.20.0.1", "link_id": 7}, "ipv6": {}}
    before = len(world.fake.writes())
    failed = run(world, monkeypatch, **spec(interfaces=interfaces))
    assert failed["failed"] and len(world.fake.writes()) == before
    assert failed["msg"].startswith("cp-1 is Deployed with default gateway 10.20.0.1, not 10.10.0.1 (eth0): MAAS changes a "
                                    "machine's default gateway only while it is not deployed")


def test_deployed_sends_base64_user_data_and_waits(world, monkeypatch):
    result = run(world, monkeypatch, state="deployed", distro_series="jammy", osystem="ubuntu",
                 user_data="#cloud-config\n", **SPEC)
    assert result["machine"]["status"] == "Deployed", result.get("msg")
    deploy = world.fake.find("POST", "machines/%s/" % result["machine"]["system_id"], "deploy")[0]
    assert deploy.form["distro_series"] == ["ubuntu/jammy"]
    assert base64.b64decode(deploy.form["user_data"][0]) == b"#cloud-config\n"
    again = run(world, monkeypatch, state="deployed", distro_series="jammy", osystem="ubuntu", **SPEC)
    assert again["changed"] is False


def test_released_releases_a_deployed_vm(world, monkeypatch):
    run(world, monkeypatch, state="deployed", **SPEC)
    result = run(world, monkeypatch, state="released", **SPEC)
    assert result["changed"] is True and result["machine"]["status"] == "Ready"
    assert result["actions"] == ["release cp-1 (Deployed)"]


def test_drift_fails_without_recreate_and_shows_a_diff(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    before = len(world.fake.writes())
    result = run(world, monkeypatch, diff=True, **spec(cores=4))
    assert result["failed"] and "cp-1 differs from the task: cores is 2, wanted 4" in result["msg"]
    assert "recreate: true" in result["msg"]
    assert result["drift"] == [{"field": "cores", "current": 2, "wanted": 4}]
    assert result["diff"]["before"]["cores"] == 2
    assert len(world.fake.writes()) == before


def test_recreate_deletes_and_composes_again(world, monkeypatch):
    first = run(world, monkeypatch, **SPEC)
    result = run(world, monkeypatch, recreate=True, **spec(cores=4))
    assert result["changed"] is True, result.get("msg")
    assert result["machine"]["cores"] == 4 and result["machine"]["system_id"] != first["machine"]["system_id"]
    assert any(a.startswith("delete cp-1") and "recreate (cores is 2, wanted 4)" in a for a in result["actions"])


def test_refuses_a_machine_it_did_not_create(world, monkeypatch):
    world.add_machine(data.machine("vm7", "cp-1", status="Deployed", owner="alice", host=world.hosts[1],
                                   tags=["pod-console-logging"]))
    for state in ("present", "absent", "deployed"):
        result = run(world, monkeypatch, state=state, **SPEC)
        assert result["failed"] and "Refusing to manage cp-1 (vm7)" in result["msg"]
        assert "lxdcp-managed, lxdcp-cluster-prod" in result["msg"]
    assert writes(world) == []


def test_refuses_a_vm_of_another_cluster(world, monkeypatch):
    world.add_machine(data.machine("vm7", "cp-1", host=world.hosts[1], tags=["lxdcp-managed", "lxdcp-cluster-dev"]))
    result = run(world, monkeypatch, state="absent", **SPEC)
    assert result["failed"] and "it belongs to cluster dev" in result["msg"]


def test_absent_releases_deletes_and_checks_capacity(world, monkeypatch):
    created = run(world, monkeypatch, state="deployed", interfaces=[{"ip": "10.10.0.50"}], **SPEC)
    host = world.hosts[2]
    used = host["used"]["cores"]
    result = run(world, monkeypatch, diff=True, state="absent", **SPEC)
    assert result["changed"] is True and result["machine"] is None, result.get("msg")
    assert result["actions"][0] == "release cp-1 (Deployed)"
    assert result["actions"][1].startswith("delete cp-1 (%s) from VM host lxd-b" % created["machine"]["system_id"])
    assert result["capacity_restored"] is True and result["released_ips"] == []
    assert host["used"]["cores"] == used - 2
    assert result["diff"]["before"]["hostname"] == "cp-1" and result["diff"]["after"] == {}
    again = run(world, monkeypatch, state="absent", **SPEC)
    assert again["changed"] is False
    assert again["capacity_restored"] is None and again["released_ips"] == []


def test_absent_in_check_mode_sends_no_write(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    before = len(world.fake.writes())
    result = run(world, monkeypatch, check_mode=True, state="absent", **SPEC)
    assert result["changed"] is True and result["actions"][0].startswith("would delete cp-1")
    assert len(world.fake.writes()) == before


def test_lxd_mode_refuses_a_bare_metal_machine(world, monkeypatch):
    world.add_machine(data.machine("bm1", "cp-1", tags=["lxdcp-managed", "lxdcp-cluster-prod"]))
    result = run(world, monkeypatch, **SPEC)
    assert result["failed"] and "cp-1 is a bare-metal machine, not an LXD VM" in result["msg"]


def test_vm_hosts_gone_fails_clearly(world, monkeypatch):
    world.fake.add("GET", "vm-hosts/", status=410, text="VM host (KVM) support has been removed from MAAS.")
    result = run(world, monkeypatch, lxd_via="vm-host", **SPEC)
    assert result["failed"] and "no longer supports VM hosts" in result["msg"] and "bare-metal" in result["msg"]
    assert result["msg"].startswith("lxd_via is vm-host, but this MAAS has no VM hosts to compose cp-1 on: set lxd_via: "
                                    "direct (or auto)"), result["msg"]
    assert result["error"]["status"] == 410
    assert writes(world) == []


def test_vm_hosts_gone_means_direct_mode_with_auto(world, monkeypatch):
    world.fake.add("GET", "vm-hosts/", status=410, text="VM host (KVM) support has been removed from MAAS.")
    result = run(world, monkeypatch, **SPEC)
    assert result["failed"] and "no LXD host" in result["msg"] and "lxd-host" in result["msg"]
    assert writes(world) == []


def test_vm_host_project_must_match(world, monkeypatch):
    for host_id, project in ((1, "k8s"), (2, "default"), (3, "default")):
        world.fake.add("GET", "vm-hosts/%d/" % host_id, op="parameters", json={"project": project, "password": "pw"})
    result = run(world, monkeypatch, project="k8s", **SPEC)
    assert result["machine"]["vm_host"]["name"] == "lxd-a", result.get("msg")
    excluded = {e["host"]: e["reason"] for e in result["placement"]["excluded"]}
    assert excluded == {"lxd-b": "LXD project is 'default', not 'k8s'", "lxd-c": "LXD project is 'default', not 'k8s'"}
    missing = run(world, monkeypatch, project="other", **spec(hostname="cp-2"))
    assert missing["failed"] and "no LXD VM host uses LXD project 'other'" in missing["msg"]


def test_drift_diff_shows_the_wanted_values_after(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    result = run(world, monkeypatch, diff=True, **spec(cores=4, memory="8G", zone=["az3"]))
    assert result["failed"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert (before["cores"], before["memory"], before["zone"]) == (2, 4096, "az2")
    assert (after["cores"], after["memory"], after["zone"]) == (4, 8192, "az3")
    assert after["hostname"] == "cp-1" and after["vm_host"] == "lxd-b" and after["disks"] == before["disks"]


def test_refusal_diff_shows_no_change(world, monkeypatch):
    world.add_machine(data.machine("vm7", "cp-1", status="Deployed", owner="alice", host=world.hosts[1]))
    result = run(world, monkeypatch, diff=True, state="absent", **SPEC)
    assert result["failed"] and result["diff"]["after"] == result["diff"]["before"] != {}


def untagged_vm(world, status="Ready", **extra):
    """What a run that died between compose and tagging leaves: a VM with only its host's tags, owned by nobody."""
    return world.add_machine(data.machine("vm7", "cp-1", status=status, host=world.hosts[2], zone_name="az2", zone_id=2,
                                          tags=["pod-console-logging"], **extra))


@pytest.mark.parametrize("status", ["New", "Commissioning", "Ready"])
def test_a_vm_left_untagged_by_a_failed_run_is_adopted(world, monkeypatch, status):
    machine = untagged_vm(world, status=status)
    machine["_next"] = ["Ready"]
    result = run(world, monkeypatch, verbosity=3, **SPEC)
    assert result["changed"] is True and result["machine"]["system_id"] == "vm7", result.get("msg")
    assert {"lxdcp-managed", "lxdcp-cluster-prod"} <= set(result["machine"]["tags"])
    assert result["actions"] == ["tag cp-1 lxdcp-cluster-prod", "tag cp-1 lxdcp-managed"]
    assert any("warning: cp-1 (vm7) lacks the ownership tags, but it is what a run of this task leaves when it fails "
               "between compose and tagging; adopting it" in line for line in result["maas_log"])
    assert not world.fake.find("POST", "vm-hosts/2/", "compose")
    assert run(world, monkeypatch, **SPEC)["changed"] is False


@pytest.mark.parametrize(
    "change",
    [
        {"owner": "alice", "status_name": "Allocated"},
        {"status_name": "Deployed", "owner": "alice"},
        {"tag_names": ["pod-console-logging", "lxdcp-cluster-dev"]},
        {"tag_names": ["lxdcp-managed"]},
        {"pod": None, "power_type": "ipmi"},  # bare metal (an LXD-powered machine is an LXD VM)
    ],
)
def test_only_exactly_that_leftover_is_adopted(world, monkeypatch, change):
    untagged_vm(world).update(change)
    result = run(world, monkeypatch, **SPEC)
    assert result["failed"], result
    assert ("Refusing to manage cp-1 (vm7)" in result["msg"]) or ("is a bare-metal machine" in result["msg"])
    assert writes(world) == []


def test_absent_refuses_a_vm_left_untagged_and_says_to_adopt_it_first(world, monkeypatch):
    untagged_vm(world)
    result = run(world, monkeypatch, state="absent", **SPEC)
    assert result["failed"] and "Refusing to manage cp-1 (vm7)" in result["msg"]
    assert "run the task with state: present first to adopt it, then with state: absent" in result["msg"]
    assert writes(world) == []


def test_tagging_failure_after_compose_deletes_the_vm_again(world, monkeypatch):
    world.fake.add("POST", "tags/lxdcp-managed/", op="update_nodes", status=503, text="busy", headers={"Retry-After": "1"})
    result = run(world, monkeypatch, retries=0, **SPEC)
    assert result["failed"] and result["changed"] is True
    assert result["msg"].startswith("Composed cp-1 (vm0001) but could not tag it: Gave up on POST /tags/lxdcp-managed/"
                                    "?op=update_nodes after 1 attempt(s)")
    assert result["msg"].endswith("It was deleted again; run the task again.")
    # The MAAS error ends with a period: the message goes on after exactly one.
    assert ".." not in result["msg"] and "says why. It was deleted again" in result["msg"]
    assert result["error"]["type"] == "MaasRetriesExhausted"
    assert world.fake.find("DELETE", "machines/vm0001/") and "vm0001" not in world.machines
    assert result["actions"][-1] == "delete cp-1 (vm0001) again: composed by this run, not tagged"


def test_failed_rollback_names_the_vm_and_the_next_run_adopts_it(world, monkeypatch):
    world.fake.add("POST", "tags/", status=503, text="busy", headers={"Retry-After": "1"}, times=1)
    world.fake.add("DELETE", "machines/vm0001/", status=503, text="busy", headers={"Retry-After": "1"}, times=1)
    result = run(world, monkeypatch, retries=0, **SPEC)
    assert result["failed"] and "Composed cp-1 (vm0001) but could not tag it: Gave up on POST /tags/" in result["msg"]
    assert ("Rolling back failed too (Gave up on DELETE /machines/vm0001/ after 1 attempt(s)" in result["msg"]
            and "machine vm0001 is still in MAAS without ownership tags: delete it in MAAS, or run the task again "
                "with state: present, which adopts it." in result["msg"])
    assert ".." not in result["msg"]
    assert world.machines["vm0001"]["tag_names"] == ["pod-console-logging"]
    again = run(world, monkeypatch, **SPEC)
    assert again["changed"] is True and again["machine"]["system_id"] == "vm0001", again.get("msg")
    assert "lxdcp-cluster-prod" in again["machine"]["tags"]
    assert len(world.fake.find("POST", "vm-hosts/2/", "compose")) == 1


def test_absent_without_vm_hosts_still_deletes_the_vm(world, monkeypatch):
    created = run(world, monkeypatch, **SPEC)
    world.fake.add("GET", "vm-hosts/2/", status=410, text="VM host (KVM) support has been removed from MAAS.")
    result = run(world, monkeypatch, verbosity=3, state="absent", **SPEC)
    assert result["changed"] is True and result["machine"] is None, result.get("msg")
    assert created["machine"]["system_id"] not in world.machines
    assert result["capacity_restored"] is None and result["released_ips"] == []
    assert any("warning: MAAS answers 410 Gone for VM host lxd-b (VM hosts were removed after MAAS 3.8): cp-1 is deleted "
               "without checking that the host gets its capacity back" in line for line in result["maas_log"])


def test_capacity_not_coming_back_is_reported(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    original = world.delete

    def delete_but_keep_the_load(system_id):  # the host keeps counting the VM's cores and memory
        host = world.hosts[world.machines[system_id]["pod"]["id"]]
        used = dict(host["used"])
        answer = original(system_id)
        host["used"].update(used)
        return answer

    world.delete = delete_but_keep_the_load
    result = run(world, monkeypatch, verbosity=3, state="absent", **SPEC)
    assert result["changed"] is True and result["capacity_restored"] is False, result.get("msg")
    assert any("warning: VM host lxd-b did not get its capacity back: Timed out" in line for line in result["maas_log"])


def test_addresses_left_behind_by_the_deleted_vm_are_released(world, monkeypatch):
    created = run(world, monkeypatch, interfaces=[{"ip": "10.10.0.50"}], **SPEC)
    system_id = created["machine"]["system_id"]
    world.machines[system_id]["interface_set"][0]["links"].append(data.link(98, "auto", "10.10.0.51"))
    world.machines[system_id]["interface_set"][0]["links"].append(data.link(99, "auto", "10.10.0.52"))
    leftovers = {
        # The API user's reservation that outlived the VM's interfaces: no interface holds it.
        "10.10.0.50": [{"ip": "10.10.0.50", "alloc_type": 4, "alloc_type_name": "User reserved", "interface_set": []}],
        # The API user's reservation taken meanwhile by another machine: not ours to release.
        "10.10.0.51": [{"ip": "10.10.0.51", "alloc_type": 4, "alloc_type_name": "User reserved",
                        "interface_set": [{"system_id": "other"}]}],
    }
    # Another user's reservation of a former address: MAAS lists it only with all=true, which the module never asks for.
    others = {"10.10.0.52": [{"ip": "10.10.0.52", "alloc_type": 4, "alloc_type_name": "User reserved", "interface_set": []}]}
    world.addresses = lambda ip, all_users=False: leftovers.get(ip, []) + (others.get(ip, []) if all_users else [])

    def release(ip):
        leftovers.pop(ip, None)
        return 204, None

    world.release_reservation = release
    result = run(world, monkeypatch, state="absent", **SPEC)
    assert result["changed"] is True and result["released_ips"] == ["10.10.0.50"], result.get("msg")
    assert "release 10.10.0.50 left behind by cp-1 (User reserved)" in result["actions"]
    releases = [c.form for c in world.fake.find("POST", "ipaddresses/", "release")]
    assert releases == [{"ip": ["10.10.0.50"]}]
    assert system_id not in world.machines and "10.10.0.51" in leftovers
    assert all("all" not in c.query for c in world.fake.find("GET", "ipaddresses/"))


# -- bare metal --------------------------------------------------------------------------------


BARE = dict(hostname="cp-4", provisioning_mode="bare-metal", cluster="prod", cores=4, memory="8G")


@pytest.fixture
def bare_world(world):
    world.add_machine(data.machine("bm1", "node-17", cores=8, memory=16384, zone_name="az1", zone_id=1))
    world.add_machine(data.machine("bm2", "node-18", cores=8, memory=16384, zone_name="az2", zone_id=2))
    return world


def test_bare_metal_allocates_renames_and_tags(bare_world, monkeypatch):
    result = run(bare_world, monkeypatch, zone=["az2"], **BARE)
    assert result["changed"] is True, result.get("msg")
    machine = result["machine"]
    assert machine["system_id"] == "bm2" and machine["hostname"] == "cp-4" and machine["status"] == "Allocated"
    assert result["provider_id"] == "maas:///az2/bm2"
    allocate = bare_world.fake.find("POST", "machines/", "allocate")[0]
    assert allocate.form["cpu_count"] == ["4"] and allocate.form["mem"] == ["8192"] and allocate.form["zone"] == ["az2"]
    assert allocate.form["agent_name"] == ["lxdcp:cp-4"]
    assert "lxdcp-managed" in machine["tags"]
    again = run(bare_world, monkeypatch, zone=["az2"], **BARE)
    assert again["changed"] is False


def test_bare_metal_check_mode_predicts_without_writes(bare_world, monkeypatch):
    result = run(bare_world, monkeypatch, check_mode=True, zone=["az1"], **BARE)
    assert result["actions"][:2] == ["would allocate node-17 (bm1) in az1", "would rename node-17 to cp-4"]
    assert writes(bare_world) == []


@pytest.mark.parametrize("state", ["present", "deployed"])
def test_bare_metal_check_mode_diff_shows_the_machine_it_would_allocate(bare_world, monkeypatch, state):
    """--check --diff names the machine MAAS would allocate and shows it (size, zone, pool, addresses) as the real run does."""
    checked = run(bare_world, monkeypatch, check_mode=True, diff=True, zone=["az1"], state=state, **BARE)
    assert writes(bare_world) == [] and not checked.get("failed"), checked.get("msg")
    real = run(bare_world, monkeypatch, diff=True, zone=["az1"], state=state, **BARE)
    assert real["machine"]["system_id"] == "bm1"
    assert checked["actions"] == ["would " + action for action in real["actions"]]
    assert checked["diff"] == real["diff"]
    assert checked["diff"]["after"]["cores"] == 8 and checked["diff"]["after"]["memory"] == 16384


def test_bare_metal_absent_releases_and_untags_but_keeps_the_record(bare_world, monkeypatch):
    run(bare_world, monkeypatch, zone=["az2"], state="deployed", **BARE)
    result = run(bare_world, monkeypatch, state="absent", **BARE)
    assert result["changed"] is True
    assert "bm2" in bare_world.machines and bare_world.machines["bm2"]["status_name"] == "Ready"
    assert "lxdcp-managed" not in bare_world.machines["bm2"]["tag_names"]
    assert not bare_world.fake.find("DELETE", "machines/bm2/")
    before = len(bare_world.fake.writes())
    for delete in (False, True):
        again = run(bare_world, monkeypatch, state="absent", delete_bare_metal=delete, **BARE)
        assert not again.get("failed") and again["changed"] is False, again.get("msg")
        assert again["machine"]["system_id"] == "bm2" and again["actions"] == []
    assert len(bare_world.fake.writes()) == before and "bm2" in bare_world.machines


def test_bare_metal_absent_finishes_an_interrupted_untagging(bare_world, monkeypatch):
    run(bare_world, monkeypatch, zone=["az2"], **BARE)
    bare_world.fake.add("POST", "tags/lxdcp-cluster-prod/", op="update_nodes", status=503, text="busy",
                        headers={"Retry-After": "1"}, times=1)
    failed = run(bare_world, monkeypatch, state="absent", retries=0, **BARE)
    assert failed["failed"] and bare_world.machines["bm2"]["tag_names"] == ["lxdcp-cluster-prod"]
    result = run(bare_world, monkeypatch, state="absent", **BARE)
    assert result["changed"] is True and result["actions"] == [
        "untag cp-4 lxdcp-cluster-prod", "delete tag lxdcp-cluster-prod with the cluster's last machine"], result.get("msg")
    assert bare_world.machines["bm2"]["tag_names"] == []


@pytest.mark.parametrize(
    "change",
    [
        {"status_name": "Allocated", "owner": "alice"},
        {"status_name": "Deployed", "owner": "alice"},
        {"tag_names": ["lxdcp-managed", "lxdcp-cluster-dev"]},
        {"tag_names": ["lxdcp-cluster-dev"]},
        {"tag_names": ["lxdcp-managed"]},
    ],
)
def test_bare_metal_absent_still_refuses_what_is_not_free_or_another_clusters(bare_world, monkeypatch, change):
    bare_world.machines["bm1"].update(hostname="cp-4", **change)
    result = run(bare_world, monkeypatch, state="absent", **BARE)
    assert result["failed"] and "Refusing to manage cp-4 (bm1)" in result["msg"], result
    assert writes(bare_world) == []


def test_bare_metal_tagging_failure_releases_the_machine_again(bare_world, monkeypatch):
    bare_world.fake.add("POST", "tags/lxdcp-managed/", op="update_nodes", status=503, text="busy",
                        headers={"Retry-After": "1"}, times=1)
    result = run(bare_world, monkeypatch, zone=["az2"], retries=0, **BARE)
    assert result["failed"] and result["msg"].startswith("Allocated cp-4 (bm2) but could not tag it: Gave up on POST")
    assert result["msg"].endswith("It was released again; run the task again.")
    assert bare_world.fake.find("POST", "machines/bm2/", "release")
    assert bare_world.machines["bm2"]["owner"] is None
    again = run(bare_world, monkeypatch, zone=["az2"], **BARE)  # the renamed, free machine is taken
    assert again["changed"] is True and again["machine"]["system_id"] == "bm2", again.get("msg")
    assert again["actions"][0] == "allocate cp-4 (bm2, free and Ready)"


def test_bare_metal_left_allocated_and_untagged_is_adopted(bare_world, monkeypatch):
    bare_world.fake.add("POST", "tags/", status=503, text="busy", headers={"Retry-After": "1"}, times=1)
    bare_world.fake.add("POST", "machines/bm2/", op="release", status=503, text="busy", headers={"Retry-After": "1"}, times=1)
    result = run(bare_world, monkeypatch, zone=["az2"], retries=0, **BARE)
    assert result["failed"] and "Rolling back failed too" in result["msg"]
    assert "release it in MAAS, or run the task again with state: present, which adopts it" in result["msg"]
    machine = bare_world.machines["bm2"]
    assert machine["status_name"] == "Allocated" and machine["hostname"] == "cp-4" and machine["tag_names"] == []
    refused = run(bare_world, monkeypatch, state="absent", **BARE)
    assert refused["failed"] and "run the task with state: present first to adopt it" in refused["msg"]
    adopted = run(bare_world, monkeypatch, zone=["az2"], verbosity=3, **BARE)
    assert adopted["changed"] is True and adopted["machine"]["system_id"] == "bm2", adopted.get("msg")
    assert adopted["actions"] == ["tag cp-4 lxdcp-cluster-prod", "tag cp-4 lxdcp-managed"]
    assert any("between allocation and tagging; adopting it" in line for line in adopted["maas_log"])
    assert len(bare_world.fake.find("POST", "machines/", "allocate")) == 1


def test_bare_metal_left_allocated_under_its_old_name_is_adopted(bare_world, monkeypatch):
    bare_world.fake.add("PUT", "machines/bm2/", status=503, text="busy", headers={"Retry-After": "1"}, times=1)
    bare_world.fake.add("POST", "machines/bm2/", op="release", status=503, text="busy", headers={"Retry-After": "1"}, times=1)
    result = run(bare_world, monkeypatch, zone=["az2"], retries=0, **BARE)
    assert result["failed"] and "Allocated cp-4 (bm2) but could not tag it: Gave up on PUT /machines/bm2/" in result["msg"]
    assert bare_world.machines["bm2"]["hostname"] == "node-18"
    again = run(bare_world, monkeypatch, zone=["az2"], **BARE)
    assert again["changed"] is True and again["machine"]["system_id"] == "bm2", again.get("msg")
    assert again["machine"]["hostname"] == "cp-4" and "lxdcp-managed" in again["machine"]["tags"]
    assert len(bare_world.fake.find("POST", "machines/", "allocate")) == 1
    assert run(bare_world, monkeypatch, zone=["az2"], **BARE)["changed"] is False


def test_bare_metal_record_deleted_only_when_asked(bare_world, monkeypatch):
    run(bare_world, monkeypatch, zone=["az2"], **BARE)
    run(bare_world, monkeypatch, state="absent", delete_bare_metal=True, **BARE)
    assert "bm2" not in bare_world.machines


def test_bare_metal_no_match_reports_maas_answer(bare_world, monkeypatch):
    result = run(bare_world, monkeypatch, zone=["az3"], **BARE)
    assert result["failed"] and "No bare-metal machine can be allocated for cp-4: az3: MAAS refused" in result["msg"]


def test_allocation_exclusions_name_every_ownership_tag_and_the_vm_pod_types():
    tags = ["lxdcp-cluster-prod", "ssd", "lxdcp-managed", "lxdcp-cluster-dev", "lxdcp-worker"]
    assert ownership.allocation_exclusions(tags) == {
        "not_tags": ["lxdcp-managed", "lxdcp-cluster-dev", "lxdcp-cluster-prod"], "not_pod_type": ["lxd", "virsh"]}
    assert ownership.allocation_exclusions([]) == {"not_tags": ["lxdcp-managed"], "not_pod_type": ["lxd", "virsh"]}
    assert ownership.allocation_exclusions(tags, pod_constraints=False) == {
        "not_tags": ["lxdcp-managed", "lxdcp-cluster-dev", "lxdcp-cluster-prod"]}


def test_bare_metal_allocation_excludes_lxdcp_machines_and_vms(bare_world, monkeypatch):
    bare_world.tags.update({"lxdcp-cluster-dev", "ssd"})
    result = run(bare_world, monkeypatch, zone=["az2"], **BARE)
    assert result["changed"] is True, result.get("msg")
    allocate = bare_world.fake.find("POST", "machines/", "allocate")[0]
    assert allocate.form["not_tags"] == ["lxdcp-managed", "lxdcp-cluster-dev"]
    assert allocate.form["not_pod_type"] == ["lxd", "virsh"]


def test_bare_metal_skips_a_ready_vm_and_a_released_machine_of_another_cluster(bare_world, monkeypatch):
    hosts_ = list(bare_world.hosts.values())
    bare_world.add_machine(data.machine("vm9", "cp-1", cores=8, memory=16384, host=hosts_[0], zone_name="az1", zone_id=1))
    bare_world.machines["bm1"]["tag_names"] = ["lxdcp-managed", "lxdcp-cluster-dev"]
    bare_world.tags.update({"lxdcp-managed", "lxdcp-cluster-dev"})
    result = run(bare_world, monkeypatch, zone=["az1"], **BARE)
    assert result["failed"] and "No bare-metal machine can be allocated for cp-4: az1: MAAS refused" in result["msg"]
    assert bare_world.machines["vm9"]["status_name"] == "Ready" and bare_world.machines["bm1"]["status_name"] == "Ready"


def test_bare_metal_on_maas_40_sends_no_pod_constraint_and_releases_an_lxd_vm(bare_world, monkeypatch):
    bare_world.version = "4.0.0"
    del bare_world.machines["bm1"]
    bare_world.add_machine(data.machine("lx1", "lxd-vm", cores=8, memory=16384, zone_name="az2", zone_id=2))
    bare_world.machines["lx1"]["power_type"] = "lxd"
    bare_world.machines["bm2"]["zone"] = {"name": "az3", "id": 3}
    result = run(bare_world, monkeypatch, zone=["az2"], **BARE)
    allocate = bare_world.fake.find("POST", "machines/", "allocate")[0]
    assert "not_pod_type" not in allocate.form and allocate.form["not_tags"] == ["lxdcp-managed"]
    assert result["failed"] and result["msg"].startswith(
        "MAAS allocated lxd-vm (lx1) for cp-4, but it is an LXD VM (power type lxd), not bare metal; it was released again.")
    assert bare_world.fake.find("POST", "machines/lx1/", "release")
    assert not [w for w in writes(bare_world) if w[1].startswith("tags/")]


@pytest.mark.parametrize("tags", [["lxdcp-cluster-dev"], ["lxdcp-managed"], ["lxdcp-managed", "lxdcp-cluster-dev"]])
def test_bare_metal_does_not_take_a_free_machine_of_another_owner(bare_world, monkeypatch, tags):
    bare_world.machines["bm1"].update(hostname="cp-4", tag_names=tags)
    result = run(bare_world, monkeypatch, **BARE)
    assert result["failed"] and "Refusing to manage cp-4 (bm1)" in result["msg"], result
    assert writes(bare_world) == []


def test_bare_metal_adopts_a_free_ready_machine_of_that_name(bare_world, monkeypatch):
    bare_world.machines["bm1"]["hostname"] = "cp-4"
    result = run(bare_world, monkeypatch, **BARE)
    assert result["machine"]["system_id"] == "bm1" and result["machine"]["status"] == "Allocated"
    assert result["actions"][0] == "allocate cp-4 (bm1, free and Ready)"
    assert bare_world.fake.find("POST", "machines/", "allocate")[0].form["system_id"] == ["bm1"]


# -- failover, recovery, all-or-nothing support -------------------------------------------------------


def test_preferred_host_is_used_when_it_can_take_the_vm(world, monkeypatch):
    result = run(world, monkeypatch, preferred_vm_host="lxd-c", **SPEC)
    assert result["changed"] and result["machine"]["vm_host"]["name"] == "lxd-c"
    assert result["created"] is True and "failover" not in result
    assert [a["host"] for a in result["placement"]["attempts"]] == ["lxd-c"]


def test_preferred_host_refusing_fails_over_to_a_fresh_plan(world, monkeypatch):
    world.compose_failures[3] = (503, "Unable to compose machine because: lxd-c refused")
    result = run(world, monkeypatch, verbosity=3, preferred_vm_host="lxd-c", **SPEC)
    assert result["changed"] and result["machine"]["vm_host"]["name"] == "lxd-b" and result["created"] is True
    assert [(f["host"], f["new_host"]) for f in result["failover"]] == [("lxd-c", "lxd-b")]
    assert "compose refused (503)" in result["failover"][0]["reason"] and "lxd-c refused" in result["failover"][0]["reason"]
    assert [(a["host"], a["ok"]) for a in result["placement"]["attempts"]] == [("lxd-c", False), ("lxd-b", True)]
    assert any("warning: cp-1: VM host lxd-c given up" in line and "placing it on lxd-b" in line for line in result["maas_log"])
    # Placed again against MAAS's figures of now: the VM hosts and the cluster are read again.
    assert len(world.fake.find("GET", "vm-hosts/")) == 2


def test_a_preferred_host_that_went_offline_is_given_up_without_composing_there(world, monkeypatch):
    world.machines["hostc"]["power_state"] = "off"
    result = run(world, monkeypatch, preferred_vm_host="lxd-c", **SPEC)
    assert result["machine"]["vm_host"]["name"] == "lxd-b"
    assert result["failover"][0]["host"] == "lxd-c" and "powered off" in result["failover"][0]["reason"]
    assert not world.fake.find("POST", "vm-hosts/3/", "compose")


def test_failover_is_bounded_by_max_hosts_and_names_each_host(world, monkeypatch):
    world.compose_failures[3] = (503, "Unable to compose machine because: c is broken")
    world.compose_failures[2] = (503, "Unable to compose machine because: b is broken")
    result = run(world, monkeypatch, preferred_vm_host="lxd-c", max_hosts=2, **SPEC)
    assert result["failed"] and "could not be composed on 2 VM host(s) (max_hosts)" in result["msg"]
    assert "lxd-c: compose refused (503)" in result["msg"] and "lxd-b: compose refused (503)" in result["msg"]
    assert not world.fake.find("POST", "vm-hosts/1/", "compose") and result["created"] is False


def test_a_failure_that_is_not_the_hosts_does_not_fail_over(world, monkeypatch):
    world.compose_failures[3] = (403, "This method is reserved for admin users.")
    result = run(world, monkeypatch, preferred_vm_host="lxd-c", **SPEC)
    assert result["failed"] and "403" in result["msg"] and "failover" not in result
    assert [(c.path, c.op) for c in world.fake.writes()] == [("vm-hosts/3/", "compose")]


def test_commissioning_failing_on_a_host_deletes_the_vm_and_composes_it_elsewhere(world, monkeypatch):
    world.commission_failures.add(3)
    result = run(world, monkeypatch, preferred_vm_host="lxd-c", **SPEC)
    assert result["machine"]["vm_host"]["name"] == "lxd-b" and result["machine"]["status"] == "Ready"
    assert result["failover"][0]["host"] == "lxd-c" and "commissioning failed" in result["failover"][0]["reason"]
    assert [m["hostname"] for m in world.machines.values()].count("cp-1") == 1
    assert any(action.startswith("delete cp-1") and "commissioning failed on lxd-c" in action for action in result["actions"])


def test_a_lost_zone_is_left_out_of_the_spread(world, monkeypatch):
    world.compose_failures[1] = (503, "Unable to compose machine because: az1 is down")
    result = run(world, monkeypatch, verbosity=3, preferred_vm_host="lxd-a", zones=["az1", "az2", "az3"], **SPEC)
    assert result["machine"]["zone"] in ("az2", "az3")
    assert any("zone(s) az1: every VM host was given up in this run" in line for line in result["maas_log"])
    assert not [line for line in result["maas_log"] if "zone spread" in line]


def test_preferred_vm_host_is_no_pin_and_no_drift(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    again = run(world, monkeypatch, preferred_vm_host="lxd-c", **SPEC)
    assert not again["changed"] and again["drift"] == [] and again["machine"]["vm_host"]["name"] == "lxd-b"
    assert not writes(world)[len(writes(world)):]


def test_recover_recreate_composes_a_failed_vm_again(world, monkeypatch):
    host = world.hosts[2]
    broken = data.machine("vm0099", "cp-1", status="Failed commissioning", host=host, zone_name="az2", zone_id=2,
                          tags=["lxdcp-managed", "lxdcp-cluster-prod"])
    world.add_machine(broken)
    world.tags.update(["lxdcp-managed", "lxdcp-cluster-prod"])
    refused = run(world, monkeypatch, **SPEC)
    assert refused["failed"] and "recover: recreate" in refused["msg"] and not writes(world)
    result = run(world, monkeypatch, recover="recreate", **SPEC)
    assert result["changed"] and result["machine"]["status"] == "Ready" and result["machine"]["system_id"] != "vm0099"
    assert "vm0099" not in world.machines and result["created"] is True


def test_recover_redeploy_releases_a_failed_deployment(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    machine = next(m for m in world.machines.values() if m["hostname"] == "cp-1")
    machine["status_name"] = "Failed deployment"
    refused = run(world, monkeypatch, **SPEC)
    assert refused["failed"] and "recover: redeploy" in refused["msg"]
    result = run(world, monkeypatch, recover="redeploy", **SPEC)
    assert result["changed"] and result["machine"]["status"] == "Ready" and result["created"] is False
    assert ("POST", "machines/%s/" % machine["system_id"], "release") in writes(world)


def test_state_deployed_deploys_a_failed_deployment_again_unless_recover_is_none(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    machine = next(m for m in world.machines.values() if m["hostname"] == "cp-1")
    machine["status_name"] = "Failed deployment"
    before = len(writes(world))
    # recover: none said explicitly (the provision role does) fails on it, in check mode too, and writes nothing.
    for check_mode in (True, False):
        refused = run(world, monkeypatch, check_mode=check_mode, state="deployed", recover="none", **SPEC)
        assert refused["failed"] and "is in state 'Failed deployment'" in refused["msg"] and "recover: redeploy" in refused["msg"]
    assert len(writes(world)) == before
    # Not set: state deployed is what is asked, so it is released and deployed again.
    result = run(world, monkeypatch, state="deployed", **SPEC)
    assert result["changed"] and result["actions"][0].startswith("release cp-1 after its failed deployment")
    assert ("POST", "machines/%s/" % machine["system_id"], "deploy") in writes(world)


def test_the_cluster_tag_goes_with_the_clusters_last_machine(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    run(world, monkeypatch, **spec(hostname="cp-2"))
    first = run(world, monkeypatch, hostname="cp-1", cluster="prod", state="absent")
    assert first["changed"] and "lxdcp-cluster-prod" in world.tags
    check = run(world, monkeypatch, check_mode=True, hostname="cp-2", cluster="prod", state="absent")
    assert "would delete tag lxdcp-cluster-prod with the cluster's last machine" in check["actions"]
    last = run(world, monkeypatch, hostname="cp-2", cluster="prod", state="absent")
    assert "delete tag lxdcp-cluster-prod with the cluster's last machine" in last["actions"]
    assert "lxdcp-cluster-prod" not in world.tags and "lxdcp-managed" in world.tags
    again = run(world, monkeypatch, hostname="cp-2", cluster="prod", state="absent")
    assert not again["changed"] and len(world.fake.find("DELETE", "tags/lxdcp-cluster-prod/")) == 1


def test_check_mode_predicts_the_cluster_tag_deletion_once_for_machines_removed_together(world, monkeypatch):
    for name in ("cp-1", "cp-2", "cp-3"):
        run(world, monkeypatch, **spec(hostname=name))
    before = len(world.fake.writes())

    def check(hostname, removed_with):
        result = run(world, monkeypatch, check_mode=True, hostname=hostname, cluster="prod", state="absent",
                     removed_with=removed_with)
        assert result["changed"] and not result.get("failed"), result.get("msg")
        return [a for a in result["actions"] if "tag lxdcp-cluster-prod with" in a]

    deletion = ["would delete tag lxdcp-cluster-prod with the cluster's last machine"]
    # All three removed together: only cp-3 (sorting last) predicts it, as the real run deletes it once.
    assert [check(name, [n for n in ("cp-1", "cp-2", "cp-3") if n != name]) for name in ("cp-1", "cp-2", "cp-3")] == [
        [], [], deletion]
    # cp-3 stays: no machine predicts it. Without removed_with, each still sees the others.
    assert check("cp-2", ["cp-1"]) == [] and check("cp-1", ["cp-2"]) == []
    assert check("cp-3", []) == []
    assert len(world.fake.writes()) == before  # check mode: no write

    # The real runs, one after the other: the last one deletes it, with the action predicted.
    results = [run(world, monkeypatch, hostname=name, cluster="prod", state="absent",
                   removed_with=[n for n in ("cp-1", "cp-2", "cp-3") if n != name]) for name in ("cp-2", "cp-3", "cp-1")]
    assert [[a for a in r["actions"] if "tag lxdcp-cluster-prod with" in a] for r in results] == [
        [], [], ["delete tag lxdcp-cluster-prod with the cluster's last machine"]]
    assert "lxdcp-cluster-prod" not in world.tags


@pytest.mark.parametrize("option", [dict(removed_with=["cp-2"]), dict(keep_cluster_tag=True)])
@pytest.mark.parametrize("args", [dict(state="present", cluster="prod"), dict(state="absent")])
def test_the_cluster_tag_options_need_a_removal_of_a_clusters_machine(world, monkeypatch, option, args):
    result = run(world, monkeypatch, hostname="cp-1", **dict(args, **option))
    name = next(iter(option))
    assert result["failed"] and result["msg"].startswith(
        "%s is about the cluster's tag when its machines are removed: it needs state: absent and cluster" % name), result
    assert world.fake.calls == []  # refused before any request


def tag_predictions(world, monkeypatch, removals, check_mode=True, **args):
    """{hostname: the actions about the cluster tag} of each task in ``removals`` ({hostname: removed_with})."""
    predicted = {}
    for hostname, removed_with in removals.items():
        result = run(world, monkeypatch, check_mode=check_mode, hostname=hostname, cluster="prod", state="absent",
                     removed_with=removed_with, **args)
        assert not result.get("failed"), result.get("msg")
        predicted[hostname] = [a for a in result.get("actions", []) if "tag lxdcp-cluster-prod with" in a]
    return predicted


def test_a_machine_that_is_not_the_clusters_leaves_the_prediction_to_its_machines(world, monkeypatch):
    # wk-1: a bare-metal machine an interrupted teardown released and untagged (its task runs and removes nothing).
    for name in ("cp-1", "cp-2"):
        run(world, monkeypatch, **spec(hostname=name))
    world.add_machine(data.machine("wk1", "wk-1", cores=8, memory=16384, zone_name="az1", zone_id=1))
    removals = {"cp-1": ["cp-2", "wk-1"], "cp-2": ["cp-1", "wk-1"], "wk-1": ["cp-1", "cp-2"]}
    deletion = ["would delete tag lxdcp-cluster-prod with the cluster's last machine"]
    assert tag_predictions(world, monkeypatch, {"cp-1": removals["cp-1"], "cp-2": removals["cp-2"]}) == {
        "cp-1": [], "cp-2": deletion}
    result = run(world, monkeypatch, check_mode=True, hostname="wk-1", cluster="prod", state="absent",
                 provisioning_mode="bare-metal", removed_with=removals["wk-1"])
    assert not result.get("failed") and not [a for a in result.get("actions", []) if "lxdcp-cluster-prod with" in a], result


def test_with_no_machine_of_the_cluster_left_the_task_sorting_last_predicts_the_tag_deletion(world, monkeypatch):
    # The tag an interrupted teardown left behind, and no machine of the cluster at all (lxd_via direct runs every
    # task of the play): one prediction, as the real run deletes it once.
    run(world, monkeypatch, **SPEC)
    run(world, monkeypatch, hostname="cp-1", cluster="prod", state="absent", keep_cluster_tag=True)
    assert "lxdcp-cluster-prod" in world.tags
    removals = {"cp-1": ["cp-2", "cp-3"], "cp-2": ["cp-1", "cp-3"], "cp-3": ["cp-1", "cp-2"]}
    assert tag_predictions(world, monkeypatch, removals) == {
        "cp-1": [], "cp-2": [], "cp-3": ["would delete tag lxdcp-cluster-prod with the cluster's last machine"]}
    done = tag_predictions(world, monkeypatch, removals, check_mode=False)
    assert sum(done.values(), []) == ["delete tag lxdcp-cluster-prod with the cluster's last machine"]
    assert "lxdcp-cluster-prod" not in world.tags


def test_keep_cluster_tag_keeps_it_with_the_last_machine_in_check_mode_and_the_real_run(world, monkeypatch):
    run(world, monkeypatch, **SPEC)
    assert tag_predictions(world, monkeypatch, {"cp-1": []}, keep_cluster_tag=True) == {"cp-1": []}
    assert tag_predictions(world, monkeypatch, {"cp-1": []}) == {
        "cp-1": ["would delete tag lxdcp-cluster-prod with the cluster's last machine"]}
    result = run(world, monkeypatch, hostname="cp-1", cluster="prod", state="absent", keep_cluster_tag=True)
    assert result["changed"] and "lxdcp-cluster-prod" in world.tags
    assert not world.fake.find("DELETE", "tags/lxdcp-cluster-prod/")


def test_removed_with_refuses_a_name_that_is_no_hostname(world, monkeypatch):
    result = run(world, monkeypatch, hostname="cp-1", cluster="prod", state="absent", removed_with=["cp_2"])
    assert result["failed"] and result["msg"].startswith("removed_with: "), result
    assert world.fake.calls == []  # refused before any request


def test_of_two_last_machines_removed_at_once_only_the_one_whose_delete_finds_the_tag_reports_it(world, monkeypatch):
    from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient

    run(world, monkeypatch, **SPEC)
    # Another machine of the cluster, removed in parallel, saw no other machine either and deleted the tag first:
    # this delete answers 404 (MaasClient.delete_tag gives False).
    monkeypatch.setattr(MaasClient, "delete_tag", lambda client, name: False)
    result = run(world, monkeypatch, hostname="cp-1", cluster="prod", state="absent")
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert not [action for action in result["actions"] if action.startswith("delete tag")], result["actions"]


def test_a_cluster_tag_lxdcp_did_not_create_is_kept(world, monkeypatch):
    world.tags.add("lxdcp-cluster-prod")  # made by hand, no ownership comment
    run(world, monkeypatch, **SPEC)
    result = run(world, monkeypatch, hostname="cp-1", cluster="prod", state="absent")
    assert result["changed"] and "lxdcp-cluster-prod" in world.tags


# -- role: the worker mark ----------------------------------------------------------------------


def test_role_worker_marks_the_machine_and_control_plane_takes_the_mark_away(world, monkeypatch):
    result = run(world, monkeypatch, role="worker", **SPEC)
    assert result["changed"] is True, result.get("msg")
    system_id = result["machine"]["system_id"]
    assert "lxdcp-worker" in world.machines[system_id]["tag_names"]
    assert run(world, monkeypatch, role="worker", **SPEC)["changed"] is False
    assert run(world, monkeypatch, **SPEC)["changed"] is False  # no role: the mark is left as it is

    before = len(world.fake.writes())
    predicted = run(world, monkeypatch, check_mode=True, role="control-plane", **SPEC)
    assert predicted["changed"] is True and predicted["actions"] == ["would untag cp-1 lxdcp-worker (role control-plane)"]
    assert len(world.fake.writes()) == before  # check mode: no write
    result = run(world, monkeypatch, role="control-plane", **SPEC)
    assert result["changed"] is True and "lxdcp-worker" not in world.machines[system_id]["tag_names"]
    assert writes(world)[before:] == [("POST", "tags/lxdcp-worker/", "update_nodes")]
    assert run(world, monkeypatch, role="control-plane", **SPEC)["changed"] is False


def test_role_control_plane_with_the_worker_tag_is_refused():
    with pytest.raises(SpecError, match="tags holds lxdcp-worker, the mark of a worker, but role is control-plane"):
        Spec(params(role="control-plane", tags=["lxdcp-worker"]))
    assert Spec(params(role="worker", cluster="prod")).wanted_tags == ["lxdcp-cluster-prod", "lxdcp-managed", "lxdcp-worker"]


def test_bare_metal_release_takes_the_worker_mark_away(bare_world, monkeypatch):
    run(bare_world, monkeypatch, zone=["az2"], role="worker", **BARE)
    assert "lxdcp-worker" in bare_world.machines["bm2"]["tag_names"]
    result = run(bare_world, monkeypatch, state="absent", **BARE)
    assert result["changed"] is True
    assert not set(bare_world.machines["bm2"]["tag_names"]) & {"lxdcp-worker", "lxdcp-managed", "lxdcp-cluster-prod"}
