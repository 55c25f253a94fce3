"""Typical MAAS clients work against maas-sim unchanged.

Requests are signed here the way MAAS's own CLI does (``oauthlib.oauth1.Client``
with ``SIGNATURE_PLAINTEXT``, ``apiclient/maas_client.py`` ``MAASOAuth``) and the
way gomaasapi does (a hand-built header, entries in map order, values
``url.QueryEscape``d, a ``realm`` entry), independently of any project code.
They call what those clients call first and parse the shapes they parse.
"""

from __future__ import annotations

import io
import random
import time
import urllib.parse
import urllib.request
import uuid
from email.generator import BytesGenerator
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

import requests
from oauthlib import oauth1


def cli_headers(url: str, api_key: str) -> dict:
    """``MAASOAuth.sign_request``: oauthlib PLAINTEXT, empty consumer secret."""
    consumer, token, secret = api_key.split(":")
    client = oauth1.Client(consumer, resource_owner_key=token, resource_owner_secret=secret, signature_method=oauth1.SIGNATURE_PLAINTEXT)
    headers = client.sign(url)[1]
    return headers


def gomaasapi_header(api_key: str) -> str:
    """gomaasapi ``pLAINTEXTOAuthSigner.OAuthSign``."""
    consumer, token, secret = api_key.split(":")
    data = {
        "realm": "MAAS API", "oauth_consumer_key": consumer, "oauth_token": token, "oauth_signature_method": "PLAINTEXT",
        "oauth_signature": "&" + secret, "oauth_timestamp": str(int(time.time())), "oauth_nonce": str(random.randrange(100000000)),
        "oauth_version": "1.0",
    }
    items = list(data.items())
    random.shuffle(items)  # Go map iteration order
    return "OAuth " + ", ".join(f'{key}="{urllib.parse.quote_plus(value)}"' for key, value in items)


def cli_multipart(fields) -> tuple[dict, bytes]:
    """A form body as the MAAS CLI (``apiclient/multipart.py``) builds it: MIME parts, base64 transfer encoding, CRLF lines."""
    message = MIMEMultipart("form-data")
    for name, value in fields:
        part = MIMEApplication(value.encode("utf-8"), charset="utf-8")
        part.add_header("Content-Disposition", "form-data", name=name)
        part.set_type("text/plain")
        message.attach(part)
    buffer = io.BytesIO()
    generator = BytesGenerator(buffer, False)
    generator._write_headers = lambda self: None  # pylint: disable=protected-access
    generator.flatten(message)
    return {"Content-Type": message["Content-Type"]}, buffer.getvalue().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def cli_get(api_url: str, api_key: str, path: str, params=None):
    url = api_url + path + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")
    request = urllib.request.Request(url, headers=cli_headers(url, api_key))
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def test_maas_cli_style_signing_and_first_calls(maas_sim):
    import json  # pylint: disable=import-outside-toplevel

    status, body = cli_get(maas_sim.api_url, maas_sim.api_key, "describe/")
    description = json.loads(body)
    assert status == 200
    # The CLI builds its command table from the handlers: name, uri, params, actions (name, op, method, restful).
    for handler in description["handlers"]:
        assert handler["uri"].startswith(maas_sim.api_url) and isinstance(handler["params"], list)
        for action in handler["actions"]:
            assert set(action) == {"name", "op", "method", "restful", "doc"}
    status, body = cli_get(maas_sim.api_url, maas_sim.api_key, "users/", {"op": "whoami"})
    assert json.loads(body)["username"] == "lxdcp"
    status, body = cli_get(maas_sim.api_url, maas_sim.api_key, "machines/", {"hostname": "db-01"})
    assert json.loads(body)[0]["status_name"] == "Deployed"
    # The CLI sends POST parameters as base64-encoded multipart/form-data parts, op in the query string.
    url = maas_sim.api_url + "vm-hosts/2/?op=compose"
    headers, body = cli_multipart([("cores", "2"), ("memory", "4096"), ("hostname", "cli-vm")])
    headers.update(cli_headers(url, maas_sim.api_key))
    response = requests.post(url, data=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"system_id", "resource_uri"}
    composed = requests.get(maas_sim.api_url + f"machines/{response.json()['system_id']}/", headers=cli_headers(url, maas_sim.api_key), timeout=30)
    assert (composed.json()["hostname"], composed.json()["cpu_count"], composed.json()["memory"]) == ("cli-vm", 2, 4096)
    url = maas_sim.api_url + "tags/?"
    headers, body = cli_multipart([("name", "from-cli"), ("comment", "base64 parts")])
    headers.update(cli_headers(url, maas_sim.api_key))
    assert requests.post(url, data=body, headers=headers, timeout=30).json()["comment"] == "base64 parts"


def test_gomaasapi_style_header(maas_sim):
    session = requests.Session()

    def call(method, path, **kwargs):
        response = session.request(method, maas_sim.api_url + path, headers={"Authorization": gomaasapi_header(maas_sim.api_key)}, timeout=30,
                                   **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    version = requests.get(maas_sim.api_url + "version/", timeout=30).json()
    assert isinstance(version["capabilities"], list) and version["version"].count(".") == 2
    assert call("GET", "users/", params={"op": "whoami"})["is_superuser"] is True
    for machine in call("GET", "machines/"):
        # gomaasclient entity.Machine / gomaasapi machine fields it relies on.
        assert isinstance(machine["system_id"], str) and isinstance(machine["hostname"], str) and isinstance(machine["fqdn"], str)
        assert isinstance(machine["status"], int) and isinstance(machine["status_name"], str)
        assert isinstance(machine["cpu_count"], int) and isinstance(machine["memory"], int) and isinstance(machine["storage"], float)
        assert isinstance(machine["ip_addresses"], list) and isinstance(machine["tag_names"], list)
        assert {"id", "name", "description", "resource_uri"} <= set(machine["zone"])
        assert {"id", "name", "description", "resource_uri"} <= set(machine["pool"])
        assert {"id", "name", "ttl", "authoritative", "is_default", "resource_record_count"} <= set(machine["domain"])
        for interface in machine["interface_set"]:
            assert {"id", "name", "mac_address", "links", "vlan", "type", "enabled"} <= set(interface)
            for link in interface["links"]:
                assert isinstance(link["id"], int) and link["mode"] in ("auto", "dhcp", "static", "link_up")
    for vm_host in call("GET", "vm-hosts/"):
        # gomaasclient entity.VMHost.
        for key in ("total", "used", "available"):
            assert set(vm_host[key]) == {"cores", "memory", "local_storage"}
        assert all({"id", "name", "type", "path", "total", "used", "available", "default"} <= set(p) for p in vm_host["storage_pools"])
        assert isinstance(vm_host["host"]["system_id"], str)
    composed = call("POST", "vm-hosts/1/", params={"op": "compose"}, data={"cores": "1", "hostname": "go-vm"})
    assert composed["resource_uri"].endswith(f"/machines/{composed['system_id']}/")


def test_libmaas_style_realm_oauth_header(maas_sim):
    consumer, token, secret = maas_sim.api_key.split(":")
    header = (f'OAuth realm="OAuth", oauth_nonce="{uuid.uuid4().hex}", oauth_timestamp="{int(time.time())}", '
              f'oauth_consumer_key="{consumer}", oauth_signature_method="PLAINTEXT", oauth_version="1.0", '
              f'oauth_token="{token}", oauth_signature="%26{secret}"')
    response = requests.get(maas_sim.api_url + "pods/", headers={"Authorization": header}, timeout=30)
    assert response.status_code == 200 and response.json()[0]["resource_uri"].startswith("/MAAS/api/2.0/pods/")
