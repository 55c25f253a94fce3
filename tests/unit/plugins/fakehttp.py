"""A scripted MAAS at the transport level: a requests adapter mounted on the client's session.

Tests register answers per (method, path, op) and read back every request the client sent,
including its decoded form body, query and headers. Nothing here knows MAAS's behaviour; each
test scripts exactly the answers it needs.

    fake = FakeMaas()
    fake.add("GET", "machines/", json=[...])
    fake.add("POST", "vm-hosts/1/", op="compose", status=503, headers={"Retry-After": "2"}, times=2)
    client = fake.client()           # a MaasClient whose session goes through ``fake``
"""

from __future__ import annotations

import datetime
import http.client
import http.server
import io
import ipaddress
import json as jsonlib
import os
import ssl
import threading
import urllib.parse

import requests
import requests.adapters
import urllib3.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lxdcp.maas.plugins.module_utils import module as base
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient

BASE = "http://maas.test:5240/MAAS"
API_PREFIX = "/MAAS/api/2.0/"
API_KEY = "ck-consumer:tk-token:ts-very-secret-value"
SECRET = "ts-very-secret-value"


def dropped():
    """The exception requests raises when the server closes the connection without answering."""
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError(
            "Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection without response")
        )
    )


def refused():
    """The exception requests raises when nothing listens on the port."""
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


class Call(object):
    """One request the client sent."""

    def __init__(self, request):
        parts = urllib.parse.urlsplit(request.url)
        self.method = request.method
        self.url = request.url
        self.path = parts.path[len(API_PREFIX):] if parts.path.startswith(API_PREFIX) else parts.path
        self.query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        self.op = (self.query.get("op") or [None])[0]
        self.body = request.body  # as sent: None when there is no body
        body = request.body or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        self.form = urllib.parse.parse_qs(body, keep_blank_values=True)
        self.headers = dict(request.headers)

    @property
    def write(self):
        """POST/PUT/DELETE, as maas-sim's request log counts writes."""
        return self.method != "GET"

    def __repr__(self):
        return "<%s %s op=%s>" % (self.method, self.path, self.op)


class Route(object):
    """A scripted answer; ``times`` None means forever."""

    def __init__(self, method, path, op, status, json, text, headers, times, exc, handler):
        self.method = method
        self.path = path
        self.op = op
        self.status = status
        self.json = json
        self.text = text
        self.headers = headers or {}
        self.times = times
        self.exc = exc
        self.handler = handler

    def matches(self, call):
        return self.method == call.method and self.path == call.path and self.op == call.op and self.times != 0


class FakeMaas(requests.adapters.BaseAdapter):
    """The adapter; unmatched requests get a 404 that names them, so a test sees what it forgot to script."""

    def __init__(self, fallback=None):
        super(FakeMaas, self).__init__()
        self.routes = []
        self.calls = []
        self.fallback = fallback  # fallback(call) -> (status, json) for requests no route matches

    def add(self, method, path, op=None, status=200, json=None, text=None, headers=None, times=None, exc=None,
            handler=None):
        """Script an answer. ``handler(call)`` may compute ``(status, json)``; ``exc`` is raised instead."""
        self.routes.append(Route(method, path, op, status, json, text, headers, times, exc, handler))
        return self

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # pylint: disable=too-many-arguments
        call = Call(request)
        self.calls.append(call)
        route = next((r for r in self.routes if r.matches(call)), None)
        if route is None and self.fallback is not None:
            status, payload = self.fallback(call)
            return self._response(request, status, payload if not isinstance(payload, str) else None,
                                  payload if isinstance(payload, str) else None, {})
        if route is None:
            return self._response(request, 404, None, "no scripted answer for %r" % call, {})
        if route.times is not None:
            route.times -= 1
        if route.exc is not None:
            raise route.exc() if callable(route.exc) else route.exc
        status, payload, text = route.status, route.json, route.text
        if route.handler is not None:
            status, payload = route.handler(call)
        return self._response(request, status, payload, text, route.headers)

    @staticmethod
    def _response(request, status, payload, text, headers):
        response = requests.Response()
        response.status_code = status
        response.reason = http.client.responses.get(status, "")
        response.url = request.url
        response.request = request
        if payload is not None:
            body = jsonlib.dumps(payload).encode("utf-8")
            response.headers["Content-Type"] = "application/json"
        else:
            body = (text or "").encode("utf-8")
            response.headers["Content-Type"] = "text/plain"
        response.headers.update(headers)
        response.raw = io.BytesIO(body)
        return response

    def close(self):
        pass

    # -- reading back ---------------------------------------------------------------------

    def writes(self):
        """Calls that were writes."""
        return [c for c in self.calls if c.write]

    def find(self, method, path, op=None):
        """Calls to one endpoint."""
        return [c for c in self.calls if c.method == method and c.path == path and c.op == op]

    def client(self, **kwargs):
        """A MaasClient whose session talks to this fake; sleeps are recorded, never slept."""
        sleeps = kwargs.pop("sleeps", [])
        settings = dict(url=BASE, api_key=API_KEY, sleep=sleeps.append, rand=lambda: 0.5, clock=FakeClock(sleeps))
        settings.update(kwargs)
        client = MaasClient(**settings)
        client.session.mount("http://", self)
        client.session.mount("https://", self)
        client.sleeps = sleeps
        return client


class FakeClock(object):
    """A monotonic clock that advances by the recorded sleeps (plus a tick per reading)."""

    def __init__(self, sleeps, tick=0.001):
        self.sleeps = sleeps
        self.tick = tick
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return sum(self.sleeps) + self.reads * self.tick


# -- a real TLS endpoint with a self-signed certificate ---------------------------------------


def self_signed_cert(directory, hostname="127.0.0.1"):
    """Write a self-signed certificate and key for ``hostname`` into ``directory``; return both paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(hostname))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(str(directory), "cert.pem")
    key_path = os.path.join(str(directory), "key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path


class TLSServer(object):
    """A stdlib HTTPS server on 127.0.0.1 answering every GET with ``answer`` (default MAAS's ``/version/``).

    Use as a context manager; ``url`` is its MAAS root (``base`` its address), ``cert`` the PEM to
    trust it with, ``requests`` the number of requests it answered.
    """

    def __init__(self, directory, answer=None):
        self.cert, self.key = self_signed_cert(directory)
        self.answer = answer if answer is not None else {"version": "3.6.1", "capabilities": [], "subversion": ""}
        self.url = self.base = None
        self.requests = 0
        self._server = None
        self._thread = None

    def __enter__(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                owner.requests += 1
                body = jsonlib.dumps(owner.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base = "https://127.0.0.1:%d" % self._server.server_address[1]
        self.url = self.base + "/MAAS"
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# -- running a module's main() against the fake ----------------------------------------------


class ModuleExit(Exception):
    """Raised instead of exit_json/fail_json; ``result`` holds what the module returned."""

    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


def client_factory(fake):
    """A ``client_class`` stand-in: the MaasClient of the given settings, talking to ``fake``.

    Sleeps are recorded in ``fake.sleeps``, never slept.
    """
    sleeps = fake.sleeps = []

    def factory(**settings):
        settings.update(sleep=sleeps.append, clock=FakeClock(sleeps), rand=lambda: 0.5)
        client = MaasClient(**settings)
        client.session.mount("http://", fake)
        client.session.mount("https://", fake)
        return client

    return factory


def run_module(main, args, fake, monkeypatch, check_mode=False, diff=False, verbosity=0):
    """Run ``main()`` of a module with ``args`` (auth added) against ``fake``; return its result dict.

    The result has ``failed`` set when the module failed. Sleeps are recorded in ``fake.sleeps``,
    never slept.
    """
    factory = client_factory(fake)

    def exit_json(self, **result):
        result.setdefault("changed", False)
        raise ModuleExit(result, failed=False)

    def fail_json(self, msg, **result):
        result.update(msg=msg, failed=True)
        raise ModuleExit(result, failed=True)

    monkeypatch.setattr(base.MaasModule, "client_class", staticmethod(factory))
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    full = dict(url=BASE, api_key=API_KEY)
    full.update(args)
    full.update(_ansible_check_mode=check_mode, _ansible_diff=diff, _ansible_verbosity=verbosity)
    with patch_module_args(full):
        try:
            main()
        except ModuleExit as done:
            return done.result
    raise AssertionError("the module returned without exit_json or fail_json")
