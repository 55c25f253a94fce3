"""A scripted LXD at the transport level: the requests adapter of ``fakehttp`` with LXD's answer envelopes.

    fake = FakeMaas()                                   # the adapter: routes by (method, path)
    fake.add("GET", "/1.0", json=sync(SERVER))
    fake.add("POST", "/1.0/instances", status=202, json=async_answer("op1"))
    client = lxd_client(fake, tmp_path)                 # an LxdClient whose session goes through ``fake``

Nothing here knows LXD's behaviour beyond the shape of its answers; each test scripts what it needs.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.api import LxdClient
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import FakeClock, self_signed_cert

URL = "https://lxd.test:8443"
KEY_MARKER = "PRIVATE KEY"


def sync(metadata, status_code=200):
    """A synchronous answer."""
    return {"type": "sync", "status": "Success", "status_code": status_code, "operation": "", "error_code": 0,
            "error": "", "metadata": metadata}


def error(code, text):
    """An error answer (send it with HTTP status ``code``)."""
    return {"type": "error", "status": "", "status_code": 0, "operation": "", "error_code": code, "error": text,
            "metadata": None}


def operation(op_id, status_code=200, err="", description="Creating instance"):
    """An operation object: 103 Running, 200 Success, 400 Failure, 401 Cancelled."""
    status = {100: "Created", 103: "Running", 200: "Success", 400: "Failure", 401: "Cancelled"}[status_code]
    return {"id": op_id, "class": "task", "description": description, "status": status, "status_code": status_code,
            "resources": {}, "metadata": None, "may_cancel": False, "err": err, "location": "none"}


def async_answer(op_id, description="Creating instance"):
    """The 202 answer of an asynchronous request."""
    return {"type": "async", "status": "Operation created", "status_code": 100, "operation": "/1.0/operations/" + op_id,
            "error_code": 0, "error": "", "metadata": operation(op_id, 103, description=description)}


def lxd_client(fake, directory, **kwargs):
    """An LxdClient with a throw-away client certificate whose session talks to ``fake``; sleeps are recorded."""
    cert, key = self_signed_cert(directory)
    sleeps = kwargs.pop("sleeps", [])
    settings = dict(url=URL, client_cert=cert, client_key=key, sleep=sleeps.append, rand=lambda: 0.5,
                    clock=FakeClock(sleeps))
    settings.update(kwargs)
    client = LxdClient(**settings)
    client.session.mount("https://", fake)
    client.session.mount(client.url + "/", fake)  # over a pinned certificate's adapter
    client.sleeps = sleeps
    return client
