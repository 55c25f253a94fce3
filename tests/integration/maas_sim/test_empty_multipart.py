"""A POST declared multipart/form-data with no parts: MAAS's web server answers 400 with an empty body.

MAAS 3.6 and 3.7 (Twisted 24.3.0 and later) refuse such a body before Django or piston see it, on
every path: see "Empty multipart bodies" in docs/maas-sim.md for the evidence.
"""

from __future__ import annotations

import pytest

from simapi import Api

CTYPE = 'multipart/form-data; boundary="{}"'
BOUNDARY = "lxdcpEmptyForm0123456789abcdefAB"
# What canonical/ansible-collection sent for data={} (only the closing delimiter), and the same with the CRLF
# that most multipart encoders put after it.
EMPTY_BODIES = [f"--{BOUNDARY}--".encode(), f"--{BOUNDARY}--\r\n".encode()]
PART = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="comment"\r\n\r\nfrom a multipart part\r\n'
        f"--{BOUNDARY}--\r\n").encode()


def deployed(api, hostname="db-01"):
    machine = api.ok("GET", "machines/", params={"hostname": hostname})[0]
    assert machine["status_name"] == "Deployed"
    return machine["system_id"]


def raw_post(api, path, body, op=None, content_type=CTYPE.format(BOUNDARY)):
    return api.request("POST", path, params={"op": op} if op else None, data=body, headers={"Content-Type": content_type})


def assert_refused_by_the_web_server(response):
    assert response.status_code == 400
    assert response.content == b""
    # Neither Django nor piston ran: no Content-Type, no X-MAAS-API-Hash, no Vary: Authorization.
    for header in ("Content-Type", "X-MAAS-API-Hash", "Vary", "WWW-Authenticate"):
        assert header not in response.headers


@pytest.mark.parametrize("body", EMPTY_BODIES, ids=["closing-delimiter", "closing-delimiter-crlf"])
def test_release_with_an_empty_multipart_body_is_400_with_an_empty_body(api, maas_sim, body):
    system_id = deployed(api)
    seq = maas_sim.seq()
    response = raw_post(api, f"machines/{system_id}/", body, op="release")
    assert_refused_by_the_web_server(response)
    assert api.ok("GET", f"machines/{system_id}/")["status_name"] == "Deployed"
    logged = [entry for entry in maas_sim.requests(since=seq) if entry["method"] == "POST"]
    assert [(entry["op"], entry["status"], entry["user"]) for entry in logged] == [("release", 400, None)]


def test_the_refusal_comes_before_authentication_routing_and_dispatch(api, maas_sim):
    system_id = deployed(api)
    empty = EMPTY_BODIES[0]
    # commission, deploy, a collection op, an unknown op, an unknown endpoint: all the same 400.
    for path, op in ((f"machines/{system_id}/", "commission"), (f"machines/{system_id}/", "deploy"),
                     ("machines/", "allocate"), ("machines/", "frobnicate"), ("no-such-endpoint/", None)):
        assert_refused_by_the_web_server(raw_post(api, path, empty, op=op))
    # Without credentials, or with a wrong secret: still 400, not 401.
    assert_refused_by_the_web_server(raw_post(Api(maas_sim.url, None), f"machines/{system_id}/", empty, op="release"))
    consumer, token, _secret = maas_sim.api_key.split(":")
    wrong = Api(maas_sim.url, f"{consumer}:{token}:wrong-secret")
    assert_refused_by_the_web_server(raw_post(wrong, f"machines/{system_id}/", empty, op="release"))
    # Outside the 2.0 API too: the web server serves every /MAAS/ path.
    response = wrong.session.post(maas_sim.url + "/api/version/", data=empty, headers={"Content-Type": CTYPE.format(BOUNDARY)},
                                  timeout=10)
    assert_refused_by_the_web_server(response)
    assert api.ok("GET", f"machines/{system_id}/")["status_name"] == "Deployed"


@pytest.mark.parametrize("content_type, body", [
    ("multipart/form-data", PART),                                     # no boundary= parameter
    (CTYPE.format("SomeOtherBoundary"), PART),                         # parts under another boundary
    (CTYPE.format(BOUNDARY), b"just some text"),                       # no delimiter at all
    ("Multipart/Form-Data; boundary=" + BOUNDARY, EMPTY_BODIES[1]),    # the media type is case-insensitive
], ids=["no-boundary-parameter", "other-boundary", "no-delimiter", "media-type-case"])
def test_other_bodies_without_parts_are_refused_alike(api, content_type, body):
    system_id = deployed(api)
    assert_refused_by_the_web_server(raw_post(api, f"machines/{system_id}/", body, op="release", content_type=content_type))


def test_release_without_a_body_or_with_a_form_body_works(api):
    first, second = deployed(api, "db-01"), deployed(api, "cache-01")
    released = api.post(f"machines/{first}/", op="release")
    assert released.status_code == 200, released.text
    assert released.json()["status_name"] in ("Releasing", "Ready")
    assert released.headers["X-MAAS-API-Hash"]
    released = api.post(f"machines/{second}/", data={"comment": "form-encoded"}, op="release")
    assert released.status_code == 200, released.text
    assert released.json()["status_name"] in ("Releasing", "Ready")


def test_release_with_a_multipart_body_that_has_parts_works(api):
    system_id = deployed(api)
    released = raw_post(api, f"machines/{system_id}/", PART, op="release")
    assert released.status_code == 200, released.text
    assert released.json()["status_name"] in ("Releasing", "Ready")


def test_an_empty_body_declared_multipart_and_an_empty_multipart_put_go_through(api):
    system_id = deployed(api)
    # Twisted reads only non-empty POST bodies; Django reads an empty multipart body as no fields.
    released = raw_post(api, f"machines/{system_id}/", b"", op="release")
    assert released.status_code == 200, released.text
    zone = api.request("PUT", "zones/az1/", data=EMPTY_BODIES[0], headers={"Content-Type": CTYPE.format(BOUNDARY)})
    assert zone.status_code == 200, zone.text
    assert zone.json()["name"] == "az1"
