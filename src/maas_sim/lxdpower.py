"""The ``lxd`` power driver, talking to a real LXD server as MAAS's does.

What MAAS does (master ``src/provisioningserver/drivers/power/lxd.py``, ``LXDPowerDriver``; 3.6
``src/provisioningserver/drivers/pod/lxd.py``, ``LXDPodDriver``, the same code with other message
prefixes), with pylxd (``pylxd/client.py``, ``pylxd/models/certificate.py``):

1. ``get_url``: ``https://`` is added to a ``power_address`` without scheme and ``:8443`` to one
   without port (only for the connection; the stored parameter is unchanged).
2. ``_get_cert_paths``: the machine's ``certificate`` and ``key`` when both are set (checked by
   ``Certificate.from_pem``, see ``certs.py``; a ``CertificateError`` becomes the driver's error),
   else the controller's own certificate (``get_maas_cert_tuple``); neither: ``No certificates
   available``.
3. ``client_with_certs``: a requests session with that client certificate, ``verify=False`` (the
   server certificate is **not** checked) and ``trust_env = False`` (no proxy from the
   environment); pylxd's ``Client`` asks ``GET /1.0?project=<project>``. A connection error is
   ``Failed to connect to the LXD REST API: <error>``; an error answer is pylxd's
   ``LXDAPIException`` (its text is LXD's ``error``), not wrapped. A project other than
   ``default`` on a server without the ``projects`` extension: ``Remote server doesn't handle
   projects`` (a connection failure).
4. Untrusted (``auth`` is not ``trusted``) with a ``password``: pylxd ``authenticate``, i.e.
   ``POST /1.0/certificates`` with the client certificate and the password (a trust token instead
   when the server has ``explicit_trust_token`` and the secret is a token), then the certificate
   read back from the ``Location`` and ``GET /1.0`` again; an LXD error there is ``Password
   authentication failed: <error>``.
5. Still untrusted: MAAS tries to have the controller certificate add the machine's (``POST
   /1.0/certificates``, errors ignored) and connects again; still untrusted: ``Certificate is not
   trusted and no password was given``.
6. ``client.virtual_machines.get(instance_name)``: ``GET /1.0/instances/<name>?project=<project>``
   (pylxd 2.3.8 and later; older pylxd asked ``/1.0/virtual-machines/<name>``, where LXD answers
   404 for a container). 404: ``LXD VM <name> not found.``
7. ``power_query``: ``status_code`` 101/103 ``on``, 102/110 ``off``, else ``Unknown power status
   code: <code>``.

Messages carry the prefix MAAS gives them: ``<system_id>: `` on master (4.0), ``VM Host
<system_id>: `` (client errors) or ``Pod <system_id>: `` (connection failures, missing VM,
unknown status) on 3.6. The simulator never starts or stops the instance: booting is simulated.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import os
import re
import shutil
import tempfile
import urllib.parse

import requests
import urllib3

from . import certs

# MAAS's driver silences these warnings too: the LXD server's certificate is never verified.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

LXD_VM_POWER_STATE = {101: "on", 102: "off", 103: "on", 110: "off"}
# Bounded here; MAAS (pylxd) waits without a timeout.
TIMEOUT = (5.0, 30.0)


class LxdPowerError(Exception):
    """A failure of the driver, with the text MAAS would report for it."""


class _ApiError(Exception):
    """pylxd ``LXDAPIException``: its text is LXD's ``error`` (or the body)."""

    def __init__(self, response: requests.Response):
        super().__init__()
        self.status = response.status_code
        try:
            self.text = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            self.text = response.content.decode("utf-8", errors="replace")

    def __str__(self):
        return self.text


class _ConnectionFailed(Exception):
    """pylxd ``ClientConnectionFailed``."""


@dataclasses.dataclass
class Instance:
    """What the driver read about the instance."""

    name: str
    power_state: str
    config: dict
    disks: tuple = ()  # sizes in bytes of the disks a booted VM would see: the root disk first


def get_url(power_address: str) -> str:
    """``LXDPowerDriver.get_url``."""
    if "://" not in power_address:
        power_address = f"https://{power_address}"
    url = urllib.parse.urlparse(power_address)
    if not url.port:
        url = url._replace(netloc=f"{url.netloc}:8443")
    return url.geturl()


def is_trust_token(secret: str) -> bool:
    """pylxd ``_is_a_token``: base64 of a JSON object with a ``secret`` key."""
    try:
        token = json.loads(base64.b64decode(secret.strip(), validate=True).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(token, dict) and "secret" in token


class _Client:
    """The part of pylxd's ``Client`` the driver uses, on one client certificate."""

    def __init__(self, endpoint: str, project: str, cert_paths: tuple[str, str]):
        self.endpoint = endpoint
        self.project = project
        self.cert_paths = cert_paths
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = False
        self.session.cert = cert_paths
        try:
            self.host_info = self._get("/1.0").json()["metadata"]
        except (requests.exceptions.ConnectionError, requests.exceptions.InvalidURL) as exc:
            raise _ConnectionFailed(str(exc)) from None
        if project not in (None, "default") and "projects" not in self.host_info.get("api_extensions", []):
            raise _ConnectionFailed("Remote server doesn't handle projects")

    @property
    def trusted(self) -> bool:
        """``host_info["auth"] == "trusted"``."""
        return self.host_info.get("auth") == "trusted"

    def _request(self, method: str, path: str, allowed=(200,), **kwargs) -> requests.Response:
        params = dict(kwargs.pop("params", None) or {}, project=self.project)
        response = self.session.request(method, self.endpoint + path, params=params, timeout=TIMEOUT, **kwargs)
        if response.status_code not in allowed:
            raise _ApiError(response)
        return response

    def _get(self, path: str) -> requests.Response:
        return self._request("GET", path)

    def add_certificate(self, cert_pem: str, password: str = "", secret: str = "") -> None:
        """pylxd ``Certificate.create``: ``POST /1.0/certificates``, then the new certificate is read."""
        body = "\n".join(cert_pem.strip().split("\n")[1:-1])
        data = {"type": "client", "certificate": body, "password": password, "name": "", "restricted": False}
        if secret and "explicit_trust_token" in self.host_info.get("api_extensions", []):
            data["trust_token"] = secret
            del data["password"]
        response = self._request("POST", "/1.0/certificates", allowed=(200, 201, 202), json=data)
        fingerprint = response.headers.get("Location", "").split("/")[-1]
        self._get(f"/1.0/certificates/{fingerprint}")

    def authenticate(self, secret: str) -> None:
        """pylxd ``Client.authenticate``."""
        if self.trusted:
            return
        with open(self.cert_paths[0], encoding="utf-8") as handle:
            cert_pem = handle.read()
        if "explicit_trust_token" in self.host_info.get("api_extensions", []) and is_trust_token(secret):
            self.add_certificate(cert_pem, secret=secret)
        else:
            self.add_certificate(cert_pem, password=secret)
        self.host_info = self._get("/1.0").json()["metadata"]

    def instance(self, name: str) -> dict:
        """``GET /1.0/instances/<name>`` metadata (``_ApiError`` with status 404 when missing)."""
        return self._get("/1.0/instances/" + urllib.parse.quote(name, safe="")).json()["metadata"]

    def volume_size(self, pool: str, name: str) -> str:
        """The ``size`` of a custom storage volume (empty when it has none)."""
        path = "/1.0/storage-pools/%s/volumes/custom/%s" % (urllib.parse.quote(pool, safe=""), urllib.parse.quote(name, safe=""))
        return str((self._get(path).json()["metadata"].get("config") or {}).get("size", ""))


class Driver:
    """One power action's worth of driver state: its messages and temporary certificate files."""

    def __init__(self, system_id: str, without_vm_hosts: bool, controller_cert: tuple[str, str]):
        self.system_id = system_id
        self.without_vm_hosts = without_vm_hosts
        self.controller_cert = controller_cert
        self._tmp = tempfile.mkdtemp(prefix="maas-sim-lxd-")

    def _message(self, text: str, pod_prefix: bool = False) -> LxdPowerError:
        if self.without_vm_hosts:
            return LxdPowerError(f"{self.system_id}: {text}")
        return LxdPowerError(f"{'Pod' if pod_prefix else 'VM Host'} {self.system_id}: {text}")

    def _write(self, name: str, pem: str) -> str:
        path = os.path.join(self._tmp, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(pem)
        return path

    def _cert_paths(self, params: dict) -> tuple:
        certificate, key = params.get("certificate"), params.get("key")
        if not certificate or not key:
            return ()
        try:
            certs.check_pair(certificate, key)
        except certs.CertificateError as exc:
            raise self._message(str(exc)) from None
        return self._write("machine.crt", certificate), self._write("machine.key", key)

    def _client(self, endpoint: str, project: str, cert_paths: tuple, password: str) -> _Client:
        client = _Client(endpoint, project, cert_paths)
        if not client.trusted and password:
            try:
                client.authenticate(password)
            except _ApiError as exc:
                raise self._message(f"Password authentication failed: {exc}") from None
        return client

    def connect(self, params: dict) -> _Client:
        """``_get_client``: a trusted client, or the error MAAS raises."""
        endpoint = get_url(params.get("power_address", ""))
        project = params.get("project") or "default"
        password = params.get("password")
        cert_paths = self._cert_paths(params)
        controller = (self._write("maas.crt", self.controller_cert[0]), self._write("maas.key", self.controller_cert[1]))
        try:
            if cert_paths:
                client = self._client(endpoint, project, cert_paths, password)
                if not client.trusted:
                    with contextlib.suppress(_ApiError):
                        with open(cert_paths[0], encoding="utf-8") as handle:
                            self._client(endpoint, project, controller, password).add_certificate(handle.read())
                        client = self._client(endpoint, project, cert_paths, password)
            else:
                client = self._client(endpoint, project, controller, password)
            if not client.trusted:
                raise self._message("Certificate is not trusted and no password was given")
        except _ConnectionFailed as exc:
            raise self._message(f"Failed to connect to the LXD REST API: {exc}", pod_prefix=True) from None
        return client

    def query(self, params: dict) -> Instance:
        """``power_query`` (through ``_get_machine``): the instance and its power state."""
        name = params.get("instance_name", "")
        try:
            client = self.connect(params)
            try:
                metadata = client.instance(name)
            except _ApiError as exc:
                if exc.status == 404:
                    raise self._message(f"LXD VM {name} not found.", pod_prefix=True) from None
                raise
            disks = _disks(client, metadata)
        except (_ApiError, requests.exceptions.RequestException, ValueError, TypeError) as exc:
            raise LxdPowerError(str(exc)) from None
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        code = metadata.get("status_code")
        if code not in LXD_VM_POWER_STATE:
            raise self._message(f"Unknown power status code: {code}", pod_prefix=True)
        return Instance(name=name, power_state=LXD_VM_POWER_STATE[code], config=metadata.get("config") or {}, disks=disks)


# LXD's size of a VM's root disk when its device gives none.
DEFAULT_ROOT_SIZE = 10 * 1024**3


def _disks(client: _Client, metadata: dict) -> tuple:
    """The block devices a booted VM would report to commissioning (sizes in bytes): its root disk, then its other
    disk devices backed by custom block volumes, by device name (the simulated part of commissioning)."""
    devices = metadata.get("expanded_devices") or metadata.get("devices") or {}
    sizes = []
    for name, device in sorted(devices.items(), key=lambda item: (item[1].get("path") != "/", item[0])):
        if device.get("type") != "disk":
            continue
        if device.get("path") == "/":
            sizes.append(_bytes(device.get("size")) or DEFAULT_ROOT_SIZE)
        elif device.get("pool") and device.get("source") and not device.get("path"):
            size = _bytes(client.volume_size(device["pool"], device["source"]))
            if size:
                sizes.append(size)
    return tuple(sizes)


def _bytes(value) -> int:
    """An LXD size (``21474836480B``, ``20GiB``, ``20GB``) in bytes; 0 when there is none."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", str(value or ""))
    if not match or match.group(2).lower() not in _LXD_UNITS:
        return 0
    return int(float(match.group(1)) * _LXD_UNITS[match.group(2).lower()])


_LXD_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4, "kib": 1024, "mib": 1024**2,
              "gib": 1024**3, "tib": 1024**4}


def hardware(config: dict, disks: tuple = ()) -> dict:
    """What commissioning would find in the instance: ``cpu_count`` and ``memory`` (MiB) from its limits, its disks."""
    found = {"disks": list(disks)} if disks else {}
    cpu = str(config.get("limits.cpu", "")).strip()
    if cpu.isdigit() and int(cpu) > 0:
        found["cpu_count"] = int(cpu)
    memory = _bytes(config.get("limits.memory"))
    if memory:
        found["memory"] = memory // 1024**2
    return found
