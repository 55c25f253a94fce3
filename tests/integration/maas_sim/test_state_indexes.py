"""In-process checks of the State indexes: removals that skip the re-index, and the machine -> VM index."""

from __future__ import annotations

from maas_sim import builders, lifecycle, render, scenario
from maas_sim.enums import IPType
from maas_sim.state import State, Store

SCENARIO = {
    "subnets": [{"cidr": "10.20.0.0/16", "gateway_ip": "10.20.0.1"}],
    "vm_hosts": [{"name": "host", "cores": 64, "memory": 262144}],
    "machines": [{"hostname": f"vm-{number}", "vm_host": "host", "disks": ["10G"]} for number in range(3)]
    + [{"hostname": "plain"}],
}


def _state() -> State:
    return scenario.build(SCENARIO)


def _vm_machines(state):
    return [m for m in state.all("machine") if m.pod_id is not None]


def test_removed_rows_drop_out_of_the_indexes_without_a_reindex():
    state = _state()
    machine = state.machine_named("vm-0")
    interface = state.interfaces_of(machine.system_id)[0]
    sip = state.ips_of(interface.id)[0]
    built = state._indexed_at  # pylint: disable=protected-access
    state.remove(sip)
    state.remove(interface)
    assert state.ips_of(interface.id) == []
    assert state.interfaces_of(machine.system_id) == []
    assert state._indexed_at == built  # pylint: disable=protected-access
    second = builders.create_interface(state, machine, "eth1", interface.vlan_id)
    assert state.interfaces_of(machine.system_id) == [second]


def test_ip_by_address_falls_back_to_the_older_row_when_the_newer_one_goes():
    state = _state()
    subnet = state.all("subnet")[0]
    discovered = builders.create_ip(state, IPType.DISCOVERED, "10.20.9.9", subnet.id)
    reserved = builders.create_ip(state, IPType.USER_RESERVED, "10.20.9.9", subnet.id)
    assert state.ip_by_address("10.20.9.9") is reserved
    state.remove(reserved)
    assert state.ip_by_address("10.20.9.9") is discovered
    state.remove(discovered)
    assert state.ip_by_address("10.20.9.9") is None


def test_removing_an_address_drops_the_owner_cached_json():
    state = _state()
    machine = state.machine_named("vm-1")
    before = render.machine_json(state, machine)
    interface = state.interfaces_of(machine.system_id)[0]
    state.remove(state.ips_of(interface.id)[0])
    assert state.cached_json(machine.system_id) is None
    assert render.machine_json(state, machine) != before


def test_vm_index_follows_add_remove_and_restore(tmp_path):
    state = _state()
    machines = _vm_machines(state)
    vms = {vm.machine_id: vm for vm in state.all("vm")}
    for machine in machines:
        assert state.vm_of_machine(machine.system_id) is vms[machine.system_id]
        assert render.machine(state, machine)["virtualmachine_id"] == vms[machine.system_id].id
    assert render.machine(state, state.machine_named("plain"))["virtualmachine_id"] is None
    lifecycle.delete_machine(state, machines[0])
    assert state.vm_of_machine(machines[0].system_id) is None
    assert machines[0].system_id not in {vm.machine_id for vm in state.all("vm")}
    store = Store(str(tmp_path / "state.db"))
    try:
        state.flush(store)
        restored = State.restore(store)
    finally:
        store.close()
    for machine in machines[1:]:
        assert restored.vm_of_machine(machine.system_id).id == vms[machine.system_id].id


def test_delete_pod_removes_its_machines_vms_and_addresses():
    state = _state()
    pod = state.all("pod")[0]
    doomed = {m.system_id for m in _vm_machines(state)}
    lifecycle.delete_pod(state, pod)
    assert state.all("pod") == [] and state.all("vm") == []
    assert doomed.isdisjoint(m.system_id for m in state.all("machine"))
    assert all(i.system_id not in doomed for i in state.all("interface"))
    live = {i.id for i in state.all("interface")}
    assert all(s.interface_id in live for s in state.all("staticip") if s.interface_id is not None)
    for machine in state.all("machine"):
        for interface in state.interfaces_of(machine.system_id):
            assert state.ips_of(interface.id) == [s for s in state.all("staticip") if s.interface_id == interface.id]
