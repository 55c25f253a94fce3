"""Zones, resource pools, tags, domains, fabrics and VLANs, users."""

from __future__ import annotations


def test_zones(api, user_api):
    zones = api.ok("GET", "zones/")
    assert [z["name"] for z in zones] == ["az1", "az2", "az3", "default"]
    assert zones[0] == {"id": zones[0]["id"], "name": "az1", "description": "Availability zone 1", "resource_uri": "/MAAS/api/2.0/zones/az1/"}
    created = api.ok("POST", "zones/", data={"name": "edge", "description": "Edge sites"})
    assert created["resource_uri"] == "/MAAS/api/2.0/zones/edge/"
    duplicate = api.post("zones/", data={"name": "edge"})
    assert duplicate.status_code == 400 and duplicate.json() == {"name": ["Physical zone with this Name already exists."]}
    assert api.ok("PUT", "zones/edge/", data={"description": "changed"})["description"] == "changed"
    assert user_api.put("zones/edge/", data={"description": "x"}).status_code == 403
    assert api.get("zones/nowhere/").text == "No Zone matches the given query."
    assert api.delete("zones/edge/").status_code == 204
    assert api.delete("zones/edge/").status_code == 204
    response = api.delete("zones/default/")
    assert response.status_code == 400 and response.text == "This zone is the default zone, it cannot be deleted."


def test_resource_pools(api, user_api):
    pools = api.ok("GET", "resourcepools/")
    assert {p["name"] for p in pools} == {"default", "control-plane"}
    default = api.ok("GET", "resourcepool/0/")
    assert default == {"id": 0, "name": "default", "description": "Default pool", "resource_uri": "/MAAS/api/2.0/resourcepool/0/"}
    by_name = api.ok("GET", "resourcepool/control-plane/")
    assert by_name["resource_uri"] == f"/MAAS/api/2.0/resourcepool/{by_name['id']}/"
    assert user_api.post("resourcepools/", data={"name": "x"}).status_code == 403
    created = api.ok("POST", "resourcepools/", data={"name": "batch", "description": "Batch jobs"})
    assert api.delete(f"resourcepool/{created['id']}/").status_code == 204
    assert api.delete("resourcepool/0/").text == "This is the default pool, it cannot be deleted."
    assert api.delete("resourcepool/control-plane/").text == "Pool has machines in it, it cannot be deleted."
    assert api.get("resourcepool/999/").text == "No ResourcePool matches the given query."


def test_tags_crud_update_nodes_and_machines(api, user_api):
    assert {"pod-console-logging", "ssd", "lxdcp-managed"} <= {t["name"] for t in api.ok("GET", "tags/")}
    created = api.ok("POST", "tags/", data={"name": "gpu", "comment": "Has a GPU"})
    assert created == {"name": "gpu", "definition": "", "comment": "Has a GPU", "kernel_opts": "", "resource_uri": "/MAAS/api/2.0/tags/gpu/"}
    assert api.post("tags/", data={"name": "bad name"}).json() == {"name": ["Enter a valid value."]}
    assert api.post("tags/", data={"name": "gpu"}).json() == {"name": ["Tag with this Name already exists."]}
    assert api.post("tags/", data={"comment": "no name"}).json() == {"name": ["This field is required."]}
    assert user_api.post("tags/", data={"name": "x"}).status_code == 403
    machines = api.ok("GET", "machines/", params={"hostname": ["db-01", "cache-01"]})
    ids = [m["system_id"] for m in machines]
    result = api.ok("POST", "tags/gpu/", params={"op": "update_nodes"}, data=[("add", ids[0]), ("add", ids[1]), ("add", "unknown")])
    assert result == {"added": 2, "removed": 0}
    assert sorted(m["system_id"] for m in api.ok("GET", "tags/gpu/", params={"op": "machines"})) == sorted(ids)
    assert api.ok("POST", "tags/gpu/", params={"op": "update_nodes"}, data={"remove": ids[0]}) == {"added": 0, "removed": 1}
    conflict = api.post("tags/gpu/", params={"op": "update_nodes"}, data={"add": ids[0], "definition": "//node"})
    assert conflict.status_code == 409
    assert conflict.text == "Definition supplied '//node' doesn't match current definition ''"
    assert user_api.post("tags/gpu/", params={"op": "update_nodes"}, data={"add": ids[0]}).status_code == 403
    renamed = api.ok("PUT", "tags/gpu/", data={"name": "accelerator"})
    assert renamed["name"] == "accelerator"
    assert "accelerator" in api.ok("GET", f"machines/{ids[1]}/")["tag_names"]
    assert api.delete("tags/accelerator/").status_code == 204
    assert "accelerator" not in api.ok("GET", f"machines/{ids[1]}/")["tag_names"]
    assert api.get("tags/accelerator/").status_code == 404


def test_domains(api):
    domains = api.ok("GET", "domains/")
    assert domains[0]["name"] == "maas" and domains[0]["is_default"] is True and domains[0]["id"] == 0
    assert domains[0]["resource_uri"] == "/MAAS/api/2.0/domains/0/"
    created = api.ok("POST", "domains/", data={"name": "example.com", "authoritative": "true"})
    assert created["is_default"] is False
    assert api.ok("GET", "domains/example.com/")["id"] == created["id"]
    assert api.ok("POST", f"domains/{created['id']}/", params={"op": "set_default"})["is_default"] is True
    assert api.ok("GET", "domains/0/")["is_default"] is False
    assert api.delete(f"domains/{created['id']}/").text == "This domain is the default domain, it cannot be deleted."
    api.ok("POST", "domains/0/", params={"op": "set_default"})
    assert api.delete(f"domains/{created['id']}/").status_code == 204
    assert api.get("domains/999/").text == "No Domain matches the given query."


def test_fabrics_and_vlans(api):
    fabrics = api.ok("GET", "fabrics/")
    assert fabrics[0]["name"] == "fabric-0" and fabrics[0]["id"] == 0
    vlan = fabrics[0]["vlans"][0]
    assert vlan["vid"] == 0 and vlan["id"] == 5001 and vlan["name"] == "untagged" and vlan["dhcp_on"] is True
    assert vlan["fabric"] == "fabric-0" and vlan["space"] == "undefined"
    assert api.ok("GET", "vlans/5001/") == vlan
    assert api.ok("GET", "fabrics/0/vlans/0/") == vlan
    created = api.ok("POST", "fabrics/0/vlans/", data={"vid": "42", "name": "storage", "mtu": "9000"})
    assert (created["vid"], created["name"], created["mtu"]) == (42, "storage", 9000)
    assert api.post("fabrics/0/vlans/", data={"vid": "42"}).json() == {"__all__": ["VLAN with this Fabric and Vid already exists."]}
    assert api.post("fabrics/0/vlans/", data={"vid": "5000"}).json() == {"vid": ["Ensure this value is less than or equal to 4094."]}
    assert api.ok("PUT", "fabrics/0/vlans/42/", data={"dhcp_on": "true"})["dhcp_on"] is True
    new_fabric = api.ok("POST", "fabrics/", data={})
    assert new_fabric["name"] == f"fabric-{new_fabric['id']}" and new_fabric["vlans"][0]["vid"] == 0


def test_users(api, user_api):
    users = api.ok("GET", "users/")
    assert [u["username"] for u in users] == ["lxdcp", "user"]
    assert user_api.ok("GET", "users/", params={"op": "whoami"}) == {
        "username": "user", "email": "user@example.com", "is_local": True, "is_superuser": False, "resource_uri": "/MAAS/api/2.0/users/user/",
    }
    assert api.ok("GET", "users/user/")["is_superuser"] is False
    assert user_api.post("users/", data={"username": "x", "email": "x@example.com"}).status_code == 403
