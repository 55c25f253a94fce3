"""Transport conventions: slashes, op dispatch, bodies, status codes, headers, describe."""

from __future__ import annotations

import hashlib

import requests


def test_slashless_api_path_is_unknown_endpoint(api):
    response = api.get("machines")
    assert response.status_code == 404
    assert response.text == "Unknown API endpoint: /MAAS/api/2.0/machines."
    response = api.get("no-such-thing/")
    assert response.status_code == 404 and response.text == "Unknown API endpoint: /MAAS/api/2.0/no-such-thing/."


def test_slashless_paths_outside_the_2_0_api_redirect(maas_sim):
    response = requests.get(maas_sim.url + "/api/version", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == "/MAAS/api/version/"
    response = requests.get(maas_sim.url + "/api/1.0/machines/", timeout=10)
    assert response.status_code == 410


def test_op_from_query_form_and_path(api):
    assert api.get("users/", params={"op": "whoami"}).json()["username"] == "lxdcp"
    by_path = api.get("users/op-whoami")
    assert by_path.status_code == 200 and by_path.json()["username"] == "lxdcp"
    allocated = api.post("machines/", data={"op": "allocate", "zone": "az1", "dry_run": "true", "pool": "control-plane"})
    assert allocated.status_code in (200, 409)
    assert api.post("machines/op-allocate", data={"dry_run": "true", "zone": "nope"}).json() == {"zone": ["No such zone(s): nope."]}


def test_unknown_op_and_wrong_method(api):
    response = api.post("machines/", op="frobnicate")
    assert response.status_code == 400
    assert response.text == "Unrecognised signature: method=POST op=frobnicate"
    response = api.post("users/", op="whoami")
    assert response.text == "Unrecognised signature: method=POST op=whoami"
    assert api.get("machines/op-frobnicate").status_code == 404


def test_method_not_allowed(api):
    response = api.delete("machines/")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert response.headers["X-MAAS-API-Hash"]


def test_multipart_and_repeated_keys(api):
    machines = api.ok("GET", "machines/")
    ids = [m["system_id"] for m in machines[:2]]
    # requests sends multipart/form-data when files= is given; the tuple form repeats keys.
    files = [("add", (None, ids[0])), ("add", (None, ids[1]))]
    api.ok("POST", "tags/", data={"name": "multi"})
    result = api.ok("POST", "tags/multi/", params={"op": "update_nodes"}, files=files)
    assert result == {"added": 2, "removed": 0}
    tagged = api.ok("GET", "machines/", params=[("tags", "multi")])
    assert sorted(m["system_id"] for m in tagged) == sorted(ids)


def test_headers_and_content_types(api, maas_sim):
    response = api.get("machines/")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    described = api.get("describe/").json()
    assert response.headers["X-MAAS-API-Hash"] == described["hash"]
    assert len(described["hash"]) == len(hashlib.sha1().hexdigest())
    missing = api.get("machines/nope/")
    assert missing.status_code == 404 and missing.text == "No Machine matches the given query."
    assert missing.headers["Content-Type"].startswith("text/plain")
    assert maas_sim.api_url.endswith("/api/2.0/")


def test_describe_lists_what_is_served(api, maas_sim):
    described = api.ok("GET", "describe/")
    resources = {r["name"]: r for r in described["resources"]}
    machine = resources["MachineHandler"]["auth"]
    assert machine["path"] == "/MAAS/api/2.0/machines/{system_id}/"
    assert machine["uri"] == maas_sim.api_url + "machines/{system_id}/"
    assert machine["params"] == ["system_id"]
    actions = {a["name"]: a for a in machine["actions"]}
    assert actions["deploy"] == {"method": "POST", "name": "deploy", "op": "deploy", "restful": False, "doc": actions["deploy"]["doc"]}
    assert actions["read"]["restful"] is True and actions["read"]["op"] is None
    assert resources["VersionHandler"]["anon"] is not None and resources["VersionHandler"]["auth"] is None
    assert [a["op"] for a in resources["MachinesHandler"]["anon"]["actions"]] == ["is_registered"]
    assert {"VmHostHandler", "PodHandler", "SubnetHandler", "InterfaceHandler", "DNSResourcesHandler"} <= set(resources)
    assert len(described["handlers"]) == sum((r["anon"] is not None) + (r["auth"] is not None) for r in described["resources"])
    # Every described action is served: none answers "Unrecognised signature".
    for resource in described["resources"]:
        for handler in (resource["anon"], resource["auth"]):
            if handler is None or handler["params"]:
                continue
            for action in handler["actions"]:
                if action["method"] == "GET" and action["op"] is not None:
                    answer = api.get(handler["path"].split("/api/2.0/", 1)[1], params={"op": action["op"]})
                    assert "Unrecognised signature" not in answer.text, (handler["name"], action)


def test_json_body_is_ignored_where_maas_reads_the_form(api):
    machine = api.ok("GET", "machines/", params={"hostname": "worker-01"})[0]
    response = api.request("POST", f"machines/{machine['system_id']}/", params={"op": "release"}, json={"comment": "x"})
    assert response.status_code == 200
    # allocate reads its constraints from request.data, which JSON bodies do fill.
    response = api.request("POST", "machines/", params={"op": "allocate"}, json={"zone": "nowhere"})
    assert response.status_code == 400 and response.json() == {"zone": ["No such zone(s): nowhere."]}
