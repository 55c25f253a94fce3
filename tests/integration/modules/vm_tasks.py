"""The maas_lxd_vm task the module's integration tests run: one VM spec, changed per test."""

from __future__ import annotations

MODULE = "lxdcp.maas.maas_lxd_vm"
VM = {"hostname": "cp-1", "cluster": "prod", "cores": 2, "memory": "4G", "disks": [{"size": "20G"}], "pool": "control-plane"}


def vm_task(base=None, **overrides):
    """One maas_lxd_vm task with the VM spec ``base`` (default ``VM``), changed by ``overrides``."""
    args = dict(VM if base is None else base)
    args.update(overrides)
    return {"name": "vm %s" % args["hostname"], MODULE: args}
