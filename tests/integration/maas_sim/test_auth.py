"""OAuth 1.0 PLAINTEXT as MAAS accepts and rejects it."""

from __future__ import annotations

import time
import urllib.parse
import uuid

from simapi import Api, oauth_header


def whoami(maas_sim, header=None, params=None):
    api = Api(maas_sim.url, None)
    headers = {"Authorization": header} if header is not None else {}
    return api.get("users/", params=dict({"op": "whoami"}, **(params or {})), headers=headers)


def test_valid_header_variants(maas_sim):
    key = maas_sim.api_key
    for header in (
        oauth_header(key),
        oauth_header(key, quoted=False),
        oauth_header(key, encoded_signature=False),
        oauth_header(key, realm="MAAS API"),
        oauth_header(key, realm="OAuth", quoted=False),
    ):
        response = whoami(maas_sim, header)
        assert response.status_code == 200, (header, response.text)
        assert response.json()["username"] == "lxdcp"
        assert response.json()["is_superuser"] is True


def test_oauth_parameters_in_query_string(maas_sim):
    consumer, token, secret = maas_sim.api_key.split(":")
    params = {
        "oauth_consumer_key": consumer, "oauth_token": token, "oauth_signature": "&" + secret, "oauth_signature_method": "PLAINTEXT",
        "oauth_timestamp": str(int(time.time())), "oauth_nonce": uuid.uuid4().hex,
    }
    response = whoami(maas_sim, params=params)
    assert response.status_code == 200 and response.json()["username"] == "lxdcp"


def test_missing_credentials_is_401_forbidden(maas_sim):
    response = whoami(maas_sim)
    assert response.status_code == 401
    assert response.text == "Forbidden"
    incomplete = oauth_header(maas_sim.api_key).replace("oauth_nonce", "oauth_once")
    assert whoami(maas_sim, incomplete).text == "Forbidden"
    # piston only looks for the parameter names as substrings of the header...
    renamed = oauth_header(maas_sim.api_key).replace("oauth_nonce", "oauth_noncex")
    response = whoami(maas_sim, renamed)
    # ...then misses the parameter itself.
    assert response.status_code == 401
    assert response.text == "Authorization Error: 'Parameter not found: oauth_nonce'"


def test_unknown_consumer(maas_sim):
    response = whoami(maas_sim, oauth_header("nobody:sim-token:sim-secret"))
    assert response.status_code == 401
    assert response.text == "Authorization Error: Invalid API key."
    assert response.headers["WWW-Authenticate"] == 'OAuth realm="OAuth"'


def test_unknown_token(maas_sim):
    consumer = maas_sim.api_key.split(":")[0]
    response = whoami(maas_sim, oauth_header(f"{consumer}:bad-token:sim-secret"))
    assert response.status_code == 401
    assert response.text == "Authorization Error: 'Invalid access token: bad-token'"


def test_wrong_secret_echoes_the_expected_base_string_with_the_real_secret(maas_sim):
    # piston's OAuthServer._check_signature: "Expected signature base string: " + the PLAINTEXT base
    # string, escape(consumer secret, empty in MAAS) + "&" + escape(the token's real secret).
    consumer, token, secret = maas_sim.api_key.split(":")
    response = whoami(maas_sim, oauth_header(f"{consumer}:{token}:wrong"))
    assert response.status_code == 401
    assert response.text == f"Authorization Error: 'Invalid signature. Expected signature base string: &{secret}'"
    assert response.headers["WWW-Authenticate"] == 'OAuth realm="OAuth"'


def test_wrong_hmac_signature_echoes_the_hmac_base_string(maas_sim):
    consumer, token, secret = maas_sim.api_key.split(":")
    header = oauth_header(maas_sim.api_key).replace('oauth_signature_method="PLAINTEXT"', 'oauth_signature_method="HMAC-SHA1"')
    response = whoami(maas_sim, header)
    assert response.status_code == 401
    url = urllib.parse.quote(maas_sim.url + "/api/2.0/users/", safe="~")
    assert response.text.startswith(f"Authorization Error: 'Invalid signature. Expected signature base string: GET&{url}&")
    assert "oauth_consumer_key%3D" + consumer in response.text and "op%3Dwhoami" in response.text
    assert secret not in response.text


def test_replayed_nonce_is_rejected(maas_sim):
    header = oauth_header(maas_sim.api_key, nonce="fixed-nonce-" + uuid.uuid4().hex)
    assert whoami(maas_sim, header).status_code == 200
    replay = whoami(maas_sim, header)
    assert replay.status_code == 401
    assert replay.text.startswith("Authorization Error: 'Nonce already used: fixed-nonce-")


def test_expired_timestamp(maas_sim):
    old = int(time.time()) - 301
    response = whoami(maas_sim, oauth_header(maas_sim.api_key, timestamp=old))
    assert response.status_code == 401
    assert f"Expired timestamp: given {old}" in response.text
    assert "threshold 300" in response.text
    assert whoami(maas_sim, oauth_header(maas_sim.api_key, timestamp=int(time.time()) - 200)).status_code == 200


def test_unsupported_oauth_version(maas_sim):
    header = oauth_header(maas_sim.api_key).replace('oauth_version="1.0"', 'oauth_version="2.0"')
    response = whoami(maas_sim, header)
    assert response.status_code == 401
    assert response.text == "Authorization Error: 'OAuth version 2.0 not supported.'"


def test_non_admin_gets_403_on_admin_methods(user_api, api):
    assert user_api.ok("GET", "users/", params={"op": "whoami"})["username"] == "user"
    response = user_api.post("zones/", data={"name": "not-allowed"})
    assert response.status_code == 403
    assert response.text == "This method is reserved for admin users."
    response = user_api.get("vm-hosts/1/", params={"op": "parameters"})
    assert response.status_code == 403
    assert api.get("vm-hosts/1/", params={"op": "parameters"}).status_code == 200


def test_anonymous_endpoints(anon, maas_sim):
    version = anon.get("version/")
    assert version.status_code == 200
    body = version.json()
    assert body["version"].startswith("3.6.") and body["subversion"] == ""
    assert "authenticate-api" in body["capabilities"]
    assert anon.get("describe/").status_code == 200
    text = Api(maas_sim.url, None).session.get(maas_sim.url + "/api/version/", timeout=10)
    assert text.status_code == 200 and text.text == "2.0"
    # Anonymous GET /machines/ reaches the anonymous handler, which has no plain read.
    machines = anon.get("machines/")
    assert machines.status_code == 400
    assert machines.text == "Unrecognised signature: method=GET op=None"


def test_api_key_option_replaces_admin_key(sim_factory):
    server = sim_factory(api_key="other:key:secret-value")
    assert server.api_key == "other:key:secret-value"
    assert Api(server.url, "other:key:secret-value").ok("GET", "users/", params={"op": "whoami"})["username"] == "lxdcp"
    old = Api(server.url, "lxdcp:sim-token:sim-secret").get("users/", params={"op": "whoami"})
    assert old.status_code == 401


def test_percent_encoded_signature_in_query(maas_sim):
    consumer, token, secret = maas_sim.api_key.split(":")
    query = urllib.parse.urlencode({
        "op": "whoami", "oauth_consumer_key": consumer, "oauth_token": token, "oauth_signature": "%26" + secret,
        "oauth_signature_method": "PLAINTEXT", "oauth_timestamp": str(int(time.time())), "oauth_nonce": uuid.uuid4().hex,
    })
    response = Api(maas_sim.url, None).session.get(maas_sim.api_url + "users/?" + query, timeout=10)
    assert response.status_code == 200
