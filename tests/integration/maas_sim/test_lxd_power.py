"""The lxd power driver against real LXD daemons (tests/integration/scheduler/lxdharness.py): commissioning and deployment.

The daemons run empty containers: the driver only reads the instance, the boot is simulated.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from maas_sim import certs

REVERTED = ("Failed to query node's BMC - (lxdcp) - Aborting COMMISSIONING and reverting to {old}. Unable to power control the node. "
            "Please check power credentials.")


def lxd_machine(api, endpoint, instance="vm-1", commission="false", **parameters):
    """Create a machine with lxd power; returns its JSON."""
    data = {"architecture": "amd64/generic", "mac_addresses": "52:54:00:" + os.urandom(3).hex(":"),
            "power_type": "lxd", "power_parameters_power_address": endpoint, "power_parameters_instance_name": instance,
            "commission": commission}
    data.update({f"power_parameters_{key}": value for key, value in parameters.items()})
    return api.ok("POST", "machines/", data=data)


def trust(daemon, tmp_path, api, system_id):
    """Have the daemon trust the certificate MAAS generated for the machine."""
    pem = api.ok("GET", f"machines/{system_id}/", params={"op": "power_parameters"})["certificate"]
    path = tmp_path / f"{system_id}.crt"
    path.write_text(pem)
    daemon.lxc("config", "trust", "add", str(path))


def power_error(sim, system_id) -> str:
    """The driver's last failure for the machine (``GET /_sim/state``)."""
    return next(m for m in sim.state()["objects"]["machine"] if m["system_id"] == system_id)["power_error"]


def wait_reverted(api, system_id, status_name):
    """The commissioning answer shows Commissioning; the next read shows the reverted machine."""
    machine = api.wait_status(system_id, status_name)
    assert machine["power_state"] == "unknown"
    return machine


def test_commission_and_deploy_against_real_lxd(api40, maas_sim40, lxd, tmp_path):
    lxd.create("vm-1", cpu=2, memory="4GiB")
    created = lxd_machine(api40, lxd.url, commission="true")
    system_id = created["system_id"]
    assert created["status_name"] == "Commissioning"
    # The generated certificate is not trusted yet: back to New, as MAAS's _start_bmc_unavailable does.
    machine = wait_reverted(api40, system_id, "New")
    assert machine["status_message"] == REVERTED.format(old="NEW")
    assert power_error(maas_sim40, system_id) == f"{system_id}: Certificate is not trusted and no password was given"
    trust(lxd, tmp_path, api40, system_id)
    assert api40.ok("POST", f"machines/{system_id}/", params={"op": "commission"})["status_name"] == "Commissioning"
    ready = api40.wait_status(system_id, "Ready")
    assert (ready["cpu_count"], ready["memory"], ready["power_state"]) == (2, 4096, "off")
    # Commissioning found the boot interface on the PXE VLAN and linked it.
    boot = ready["interface_set"][0]
    assert (boot["vlan"]["vid"], [link["mode"] for link in boot["links"]]) == (0, ["auto"])
    assert power_error(maas_sim40, system_id) == ""
    deploying = api40.ok("POST", f"machines/{system_id}/", params={"op": "deploy"})
    assert (deploying["status_name"], deploying["power_state"]) == ("Deploying", "on")
    assert api40.wait_status(system_id, "Deployed")["power_state"] == "on"


def test_instance_missing(api40, maas_sim40, lxd, tmp_path):
    created = lxd_machine(api40, lxd.url, instance="absent")
    system_id = created["system_id"]
    trust(lxd, tmp_path, api40, system_id)
    api40.ok("POST", f"machines/{system_id}/", params={"op": "commission"})
    assert wait_reverted(api40, system_id, "New")["status_message"] == REVERTED.format(old="NEW")
    assert power_error(maas_sim40, system_id) == f"{system_id}: LXD VM absent not found."
    lxd.create("absent")
    api40.ok("POST", f"machines/{system_id}/", params={"op": "commission"})
    api40.wait_status(system_id, "Ready")
    # Re-commissioning a Ready machine whose instance is gone: back to Ready.
    lxd.delete("absent")
    api40.ok("POST", f"machines/{system_id}/", params={"op": "commission"})
    assert wait_reverted(api40, system_id, "Ready")["status_message"] == REVERTED.format(old="READY")
    # Deployment fails instead (maas-sim puts the driver's text in error_description).
    api40.ok("POST", f"machines/{system_id}/", params={"op": "deploy"})
    failed = api40.wait_status(system_id, "Failed deployment")
    assert failed["error_description"] == f"{system_id}: LXD VM absent not found."


def test_connection_and_credentials_failures(api40, maas_sim40, lxd, tmp_path):
    def failure(**kwargs):
        machine = lxd_machine(api40, kwargs.pop("endpoint", lxd.url), **kwargs)
        api40.ok("POST", f"machines/{machine['system_id']}/", params={"op": "commission"})
        wait_reverted(api40, machine["system_id"], "New")
        return machine["system_id"], power_error(maas_sim40, machine["system_id"])

    # No port: MAAS adds 8443 (only for the connection); nothing listens there.
    system_id, error = failure(endpoint="127.0.0.1")
    assert error.startswith(f"{system_id}: Failed to connect to the LXD REST API: ") and "port=8443" in error
    assert api40.ok("GET", f"machines/{system_id}/", params={"op": "power_parameters"})["power_address"] == "127.0.0.1"
    system_id, error = failure(password="wrong")
    assert error == f"{system_id}: Password authentication failed: not authorized"
    system_id, error = failure(certificate="C", key="K")
    assert error == f"{system_id}: Invalid PEM material"
    cert_pem, _key = certs.generate("other", "MAAS", "x")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    system_id, error = failure(certificate=cert_pem, key=other_key)
    assert error == f"{system_id}: Private and public keys don't match"
    # The harness's client certificate is trusted but has an EC key: MAAS's key check signs with PKCS#1 v1.5
    # and fails with the TypeError of that call, which the driver does not catch (no system id prefix).
    lxd.create("vm-1")
    with open(lxd_client_files(lxd)[0], encoding="utf-8") as cert, open(lxd_client_files(lxd)[1], encoding="utf-8") as key:
        system_id, error = failure(certificate=cert.read(), key=key.read())
    assert "sign()" in error and not error.startswith(system_id)


def lxd_client_files(daemon):
    """The harness's trusted client certificate and key (next to the daemon's directory)."""
    root = os.path.dirname(daemon.root)
    return os.path.join(root, "client.crt"), os.path.join(root, "client.key")


def test_36_mode_uses_the_pod_driver_texts(api, maas_sim, lxd, tmp_path):
    created = lxd_machine(api, lxd.url, instance="absent")
    system_id = created["system_id"]
    api.ok("POST", f"machines/{system_id}/", params={"op": "commission"})
    wait_reverted(api, system_id, "New")
    assert power_error(maas_sim, system_id) == f"VM Host {system_id}: Certificate is not trusted and no password was given"
    trust(lxd, tmp_path, api, system_id)
    api.ok("POST", f"machines/{system_id}/", params={"op": "commission"})
    wait_reverted(api, system_id, "New")
    assert power_error(maas_sim, system_id) == f"Pod {system_id}: LXD VM absent not found."
    lxd.create("absent", cpu=1, memory="1024MB")
    api.ok("POST", f"machines/{system_id}/", params={"op": "commission"})
    assert (api.wait_status(system_id, "Ready")["memory"]) == 976


def test_36_vm_host_machines_commission_unchanged(api, maas_sim):
    # A VM of a simulated VM host (fake credentials) is powered by the simulation, as before.
    composed = api.compose_ready(host_id=2, cores="2")
    assert composed["power_type"] == "lxd"
    assert api.ok("POST", f"machines/{composed['system_id']}/", params={"op": "commission"})["status_name"] == "Commissioning"
    assert api.wait_status(composed["system_id"], "Ready")["cpu_count"] == 2
    assert power_error(maas_sim, composed["system_id"]) == ""
