"""Authentication of the scheduler process: API keys and mutual TLS (no LXD needed: the LXD host is unreachable)."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from lxdharness import free_port, make_certificate

KEY = "k-" + "7" * 30


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory, name):
    """A CA certificate and key."""
    cert, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
            "-days", "7", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign")
    return cert, key


def issue(directory, name, ca, server=False):
    """A certificate signed by ``ca`` (for 127.0.0.1 when ``server``)."""
    cert, key, csr = (os.path.join(directory, f"{name}.{ext}") for ext in ("crt", "key", "csr"))
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    ext = os.path.join(directory, f"{name}.ext")
    with open(ext, "w", encoding="ascii") as handle:
        handle.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" if server else "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-out", cert, "-days", "7", "-extfile", ext)
    return cert, key


@pytest.fixture
def unreachable_hosts(tmp_path):
    cert, key = make_certificate(str(tmp_path), "lxd-client")
    return [{"host": f"https://127.0.0.1:{free_port()}", "client_cert": cert, "client_key": key, "name": "offline"}]


def test_api_key_missing_or_wrong_is_refused(unreachable_hosts, start_scheduler):
    scheduler = start_scheduler(unreachable_hosts, {"lxd_timeout": 1}, {"LXD_MULTI_SCHEDULER_API_KEYS": KEY})
    missing = scheduler.schedule(1, 64)
    assert missing.status_code == 401 and "missing API key" in missing.json()["error"]
    wrong = scheduler.request("POST", "/schedule", json={"instance_requirements": {"cpu": 1, "memory": 64}}, headers={"X-API-Key": KEY[:-1] + "8"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid API key"}
    for path in ("/hosts", "/reservations", "/metrics", "/openapi.json"):
        assert scheduler.request("GET", path).status_code == 401, path
    assert scheduler.request("GET", "/healthz").status_code == 200

    scheduler.session.headers["X-API-Key"] = KEY
    allowed = scheduler.schedule(1, 64)
    assert allowed.status_code == 503  # past authentication; the only LXD host is down
    assert allowed.json()["details"][0]["host"] == "offline"
    assert KEY not in scheduler.output()


def test_mutual_tls_refuses_untrusted_client_certificates(unreachable_hosts, start_scheduler, tmp_path):
    directory = str(tmp_path)
    ca = make_ca(directory, "clients-ca")
    server = issue(directory, "scheduler", ca, server=True)
    trusted = issue(directory, "trusted-client", ca)
    stranger = issue(directory, "stranger", make_ca(directory, "other-ca"))
    tls = {"tls": {"cert": server[0], "key": server[1], "client_ca": ca[0]}, "lxd_timeout": 1}
    scheduler = start_scheduler(unreachable_hosts, tls)
    assert scheduler.url.startswith("https://127.0.0.1:")
    url = scheduler.url + "/healthz"

    ok = requests.get(url, cert=trusted, verify=ca[0], timeout=10)
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    for client_cert in (stranger, None):
        # TLS 1.3 checks the client certificate after the client's side of the handshake: the refusal
        # arrives as an alert (SSLError) or a closed connection, both ConnectionError, never an answer.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, cert=client_cert, verify=ca[0], timeout=10)
    with pytest.raises(requests.exceptions.SSLError):  # and the client verifies the scheduler
        requests.get(url, cert=trusted, timeout=10)
