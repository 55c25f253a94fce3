"""A small MAAS API client for the maas-sim tests, signing requests itself (no project code).

It builds the OAuth 1.0 PLAINTEXT header the way MAAS documents it, so the
tests exercise the simulator's auth with an independent implementation.
"""

from __future__ import annotations

import time
import uuid

import requests


def oauth_header(api_key: str, nonce: str | None = None, timestamp: int | None = None, quoted: bool = True, realm: str | None = None,
                 encoded_signature: bool = True) -> str:
    """``Authorization`` header for ``consumer:token:secret``."""
    consumer, token, secret = api_key.split(":")
    values = {
        "oauth_version": "1.0",
        "oauth_signature_method": "PLAINTEXT",
        "oauth_consumer_key": consumer,
        "oauth_token": token,
        "oauth_signature": ("%26" if encoded_signature else "&") + secret,
        "oauth_nonce": nonce or uuid.uuid4().hex,
        "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }
    parts = [f'{key}="{value}"' if quoted else f"{key}={value}" for key, value in values.items()]
    if realm is not None:
        parts.insert(0, f'realm="{realm}"')
    return "OAuth " + ", ".join(parts)


class Api:
    """``Api(url, key).get("machines/", params)`` etc.; returns ``requests.Response``."""

    def __init__(self, url: str, api_key: str | None):
        self.base = url.rstrip("/") + "/api/2.0/"
        self.api_key = api_key
        self.session = requests.Session()

    def request(self, method: str, path: str, params=None, data=None, headers=None, **kwargs) -> requests.Response:
        """Signed request to ``path`` (relative to ``/MAAS/api/2.0/``)."""
        headers = dict(headers or {})
        if self.api_key:
            headers.setdefault("Authorization", oauth_header(self.api_key))
        return self.session.request(method, self.base + path, params=params, data=data, headers=headers, timeout=30,
                                    allow_redirects=False, **kwargs)

    def get(self, path: str, params=None, **kwargs) -> requests.Response:
        """GET."""
        return self.request("GET", path, params=params, **kwargs)

    def post(self, path: str, data=None, op: str | None = None, **kwargs) -> requests.Response:
        """POST (``op`` goes in the query string)."""
        params = dict(kwargs.pop("params", None) or {})
        if op:
            params["op"] = op
        return self.request("POST", path, params=params, data=data, **kwargs)

    def put(self, path: str, data=None, **kwargs) -> requests.Response:
        """PUT (form-encoded)."""
        return self.request("PUT", path, data=data, **kwargs)

    def delete(self, path: str, params=None, **kwargs) -> requests.Response:
        """DELETE."""
        return self.request("DELETE", path, params=params, **kwargs)

    def ok(self, method: str, path: str, **kwargs):
        """Request and return the JSON body, failing with the body text on a non-2xx answer."""
        response = self.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def wait_status(self, system_id: str, status_name: str, timeout: float = 10.0) -> dict:
        """Poll ``machines/{system_id}/`` until its ``status_name`` is reached; returns the machine."""
        deadline = time.monotonic() + timeout
        while True:
            machine = self.ok("GET", f"machines/{system_id}/")
            if machine["status_name"] == status_name or time.monotonic() > deadline:
                assert machine["status_name"] == status_name, machine["status_message"]
                return machine
            time.sleep(0.05)

    def compose_ready(self, host_id: int = 2, **data) -> dict:
        """Compose a VM on VM host ``host_id`` with commissioning skipped; returns the Ready machine."""
        fields = {"skip_commissioning": "true"}
        fields.update(data)
        composed = self.ok("POST", f"vm-hosts/{host_id}/", params={"op": "compose"}, data=fields)
        return self.ok("GET", f"machines/{composed['system_id']}/")
