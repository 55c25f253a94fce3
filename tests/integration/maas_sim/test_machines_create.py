"""``POST /machines/`` validated as MAAS's create form does it, in 3.6 and 4.0 mode (forms/__init__.py, api/machines.py)."""

from __future__ import annotations

import itertools

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simapi import Api

MAC = "52:54:00:12:34:56"
BASE = {"architecture": "amd64/generic"}
LXD = {"power_type": "lxd", "power_parameters_power_address": "10.10.0.11", "power_parameters_instance_name": "vm-1"}


_MACS = itertools.count(0x100)


def new_mac() -> str:
    """A MAC address no other machine of these tests has."""
    value = next(_MACS)
    return f"52:54:00:ab:{value >> 8:02x}:{value & 0xff:02x}"


@pytest.fixture(params=["3.6", "4.0"])
def apis(request):
    """``(admin, non-admin, server)`` of a freshly reset 3.6-mode and 4.0-mode server."""
    server = request.getfixturevalue("maas_sim" if request.param == "3.6" else "maas_sim40")
    server.reset()
    return Api(server.url, server.api_key), Api(server.url, server.user_api_key), server


def create(api, **data):
    """POST /machines/ (not commissioned) with a fresh MAC unless one is given."""
    return api.post("machines/", data={**BASE, "mac_addresses": new_mac(), "commission": "false", **data})


def errors(response) -> dict:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json()


def test_required_fields(apis):
    admin, _user, _sim = apis
    assert errors(admin.post("machines/", data={"power_type": "manual"})) == {
        "architecture": ["This field is required."],
        "mac_addresses": ["This field is required."],
        "power_type": ["Can't set power type to manual without network interfaces"],
    }
    # ipmi needs neither (MAAS finds the machine again by its BMC when it enlists).
    ipmi = admin.ok("POST", "machines/", data={"power_type": "ipmi", "power_parameters_power_address": "10.0.0.9", "commission": "0"})
    assert (ipmi["architecture"], ipmi["interface_set"], ipmi["status_name"]) == ("", [], "New")


def test_architecture_and_kernel_texts(apis):
    admin, _user, _sim = apis
    assert errors(create(admin, architecture="sparc")) == {
        "architecture": ["'sparc/generic' is not a valid architecture.  It should be one of: 'amd64/generic', 'arm64/generic'."]}
    assert create(admin, architecture="arm64", commission="no").json()["architecture"] == "arm64/generic"
    twice = create(admin, architecture="amd64/generic", subarchitecture="hwe-22.04")
    assert (twice.status_code, twice.text) == (400, "Subarchitecture cannot be specified twice.")
    hwe = create(admin, architecture="amd64", subarchitecture="hwe-22.04")
    assert hwe.text == "hwe kernel must be specified using the min_hwe_kernel argument."
    assert create(admin, min_hwe_kernel="22.04").text == 'min_hwe_kernel must start with "hwe-" or "ga-"'
    assert errors(create(admin, min_hwe_kernel="hwe-99.04")) == {"min_hwe_kernel": ['No kernel matches ">=hwe-99.04" requirement.']}
    assert create(admin, min_hwe_kernel="ga-22.04").json()["min_hwe_kernel"] == "ga-22.04"


def test_mac_address_texts(apis):
    admin, _user, _sim = apis
    assert errors(create(admin, mac_addresses="zz")) == {"mac_addresses": ["'zz' is not a valid MAC address."]}
    several = admin.post("machines/", data=[("architecture", "amd64/generic"), ("mac_addresses", "zz"), ("mac_addresses", "yy"),
                                            ("commission", "false")])
    assert errors(several) == {"mac_addresses": ["One or more MAC addresses is invalid. ('zz' is not a valid MAC address. \u2014 "
                                                 "'yy' is not a valid MAC address.)"]}
    first = create(admin, hostname="first", mac_addresses="52-54-00-12-34-56").json()
    assert [(i["name"], i["mac_address"], i["vlan"]) for i in first["interface_set"]] == [("eth0", MAC, None)]
    assert errors(create(admin, mac_addresses=MAC.upper())) == {"mac_addresses": [f"MAC address {MAC} already in use on first."]}


def test_names_domain_zone_pool_numbers(apis):
    admin, user, _sim = apis
    assert errors(create(admin, hostname="bad_name")) == {"hostname": ["Host label cannot contain underscore: 'bad_name'."]}
    assert errors(create(admin, hostname="web.nowhere")) == {"hostname": ["Nonexistant domain."]}
    assert errors(create(admin, domain="nowhere")) == {"domain": ["Unable to find domain nowhere"]}
    missing_id = create(admin, domain="4242")
    assert (missing_id.status_code, missing_id.text) == (500, "Domain matching query does not exist.")
    assert errors(create(admin, zone="nowhere", pool="nopool", cpu_count="x", memory="1.5", swap_size="lots")) == {
        "zone": ["Select a valid choice. That choice is not one of the available choices."],
        "pool": ["Select a valid choice. That choice is not one of the available choices."],
        "cpu_count": ["Enter a whole number."],
        "memory": ["Enter a whole number."],
        "swap_size": ["Invalid size for swap: lots"],
    }
    made = create(admin, hostname="web.maas", zone="az1", pool="control-plane", cpu_count="4", memory="8192", swap_size="2G",
                  description="rack 4").json()
    assert (made["hostname"], made["fqdn"], made["zone"]["name"], made["pool"]["name"]) == ("web", "web.maas", "az1", "control-plane")
    assert (made["cpu_count"], made["memory"], made["swap_size"], made["description"]) == (4, 8192, 2 * 10**9, "rack 4")
    assert errors(create(admin, hostname="web")) == {"hostname": ["Node with this Hostname already exists."]}
    # A non-admin's form has no zone, pool, cpu_count, memory or description: they are ignored.
    mine = user.ok("POST", "machines/", data={**BASE, "mac_addresses": new_mac(), "zone": "nowhere", "cpu_count": "x"})
    assert (mine["zone"]["name"], mine["cpu_count"], mine["status_name"], mine["owner"]) == ("default", 0, "New", None)
    assert mine["hostname"] and mine["power_state"] == "unknown"


def test_power_type_texts(apis):
    admin, _user, sim = apis
    assert errors(create(admin, power_type="bogus")) == {"power_type": ["Select a valid choice. bogus is not one of the available choices."]}
    nova = create(admin, power_type="nova")
    if sim.info()["maas_version"].startswith("4."):
        assert errors(nova) == {"power_type": ["Select a valid choice. nova is not one of the available choices."]}
    else:
        assert nova.status_code == 200
    assert errors(create(admin, power_parameters_power_address="x")) == {"power_parameters": ["Unknown parameter(s): power_address."]}
    assert errors(create(admin, power_type="manual", power_parameters_foo="1")) == {
        "power_parameters": ["Unknown parameter(s): foo."]}
    assert errors(create(admin, power_type="lxd")) == {"power_parameters": ["This field is required."]}
    assert errors(create(admin, power_type="lxd", power_parameters_project="p", power_parameters_power_address=" ")) == {
        "power_parameters": ["LXD address: This field is required.", "Instance name: This field is required."]}
    assert errors(create(admin, power_type="lxd", power_parameters_bogus="1")) == {"power_parameters": ["Unknown parameter(s): bogus."]}
    assert errors(admin.post("machines/", data={**BASE, **LXD})) == {
        "mac_addresses": ["This field is required."], "power_type": ["Can't set power type to lxd without network interfaces"]}
    assert create(admin, power_parameters="{not json").text == "Failed to parse JSON power_parameters"
    skipped = create(admin, power_type="lxd", power_parameters_skip_check="true", power_parameters_anything="x").json()
    stored = admin.ok("GET", f"machines/{skipped['system_id']}/", params={"op": "power_parameters"})
    # Stored unchecked; being lxd without certificate and key, it still gets a generated pair.
    assert sorted(stored) == ["anything", "certificate", "key"] and stored["anything"] == "x"


def test_lxd_parameters_and_generated_certificate(apis):
    admin, user, _sim = apis
    made = create(admin, **LXD).json()
    assert (made["power_type"], made["status_name"], made["power_state"]) == ("lxd", "New", "unknown")
    parameters = admin.ok("GET", f"machines/{made['system_id']}/", params={"op": "power_parameters"})
    assert {key: parameters[key] for key in ("power_address", "instance_name", "project", "password")} == {
        "power_address": "10.10.0.11", "instance_name": "vm-1", "project": "default", "password": ""}
    certificate = x509.load_pem_x509_certificate(parameters["certificate"].encode())
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "maas-sim"
    assert certificate.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "MAAS"
    assert isinstance(certificate.public_key(), rsa.RSAPublicKey) and certificate.public_key().key_size == 4096
    assert parameters["key"].startswith("-----BEGIN PRIVATE KEY-----")
    # op=power_parameters is admin_read: a non-admin gets an empty 403.
    refused = user.get(f"machines/{made['system_id']}/", params={"op": "power_parameters"})
    assert (refused.status_code, refused.text) == (403, "")
    # Given a certificate and a key, nothing is generated; JSON power_parameters are the sub-fields' defaults.
    given = create(admin, power_type="lxd", power_parameters='{"power_address": "lxd.example:9443", "instance_name": "vm-2"}',
                   power_parameters_certificate="C", power_parameters_key="K", power_parameters_project="  ").json()
    assert admin.ok("GET", f"machines/{given['system_id']}/", params={"op": "power_parameters"}) == {
        "power_address": "lxd.example:9443", "instance_name": "vm-2", "project": "default", "password": "", "certificate": "C", "key": "K"}


def test_commission_and_deployed(apis):
    admin, _user, _sim = apis
    refused = admin.post("machines/", data={**BASE, "mac_addresses": MAC})
    assert (refused.status_code, refused.text) == (500, "Unconfigured power type. Please configure the power type and try again.")
    assert admin.ok("GET", "machines/", params={"mac_address": MAC}) == []
    commissioning = admin.ok("POST", "machines/", data={**BASE, "mac_addresses": MAC, "power_type": "manual"})
    assert (commissioning["status_name"], commissioning["power_type"]) == ("Commissioning", "manual")
    assert admin.wait_status(commissioning["system_id"], "Ready")["status_name"] == "Ready"
    deployed = admin.ok("POST", "machines/", data={**BASE, "mac_addresses": new_mac(), "deployed": "true"})
    assert (deployed["status_name"], deployed["owner"], deployed["power_type"]) == ("Deployed", "lxdcp", "")
    assert create(admin, commission="maybe").text == "Invalid commission: Value should be 'true' or 'false'"
