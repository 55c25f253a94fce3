"""Endpoints MAAS 4.0 keeps only to answer 410 Gone (``maasserver/api/gone.py``, master).

MAAS's master branch (commit 08f65b9c1) keeps the VM host, pod, VM cluster and virtual machine
handlers as stubs: every CRUD method and operation they still export is ``vmhost_gone``, which
raises ``MAASAPIGone(VMHOST_REMOVED_MESSAGE)``: status 410, ``text/plain; charset=utf-8``, the
message below. The stubs are ``hidden`` (not in ``describe/``) and still need authentication.

``/vm-hosts/`` and ``/pods/`` are served by ``pods.py`` (same methods and operations as in 3.x;
the server answers 410 for them in 4.0 mode). The two resources below are only routed in 4.0
mode: ``virtual-machines/`` and ``vm-clusters/`` with their object routes, which in MAAS's
``urls_api.py`` have **no trailing slash** (``^virtual-machines/(?P<id>[^/]+)$``).
"""

from __future__ import annotations

from ..errors import ApiError
from ..routing import Handler

VMHOST_REMOVED_MESSAGE = "VM host (KVM) support has been removed from MAAS."


def vmhost_gone() -> ApiError:
    """``MAASAPIGone(VMHOST_REMOVED_MESSAGE)``."""
    return ApiError(410, VMHOST_REMOVED_MESSAGE)


def _gone(self, ctx, **_kwargs):  # pylint: disable=unused-argument
    """VM host support has been removed from MAAS."""
    raise vmhost_gone()


class GoneHandler(Handler):
    """Base of the stubs: hidden from ``describe/``, answered 410 by the server."""

    vm_host_api = True


def _stub(name: str, path: str, doc: str, methods=("read",)) -> type:
    """A stub handler whose CRUD ``methods`` are all ``_gone`` (``read = update = delete = _gone`` in MAAS)."""
    return type(name, (GoneHandler,), {"__doc__": doc, "path": path, **{method: _gone for method in methods}})


VirtualMachinesHandler = _stub("VirtualMachinesHandler", "virtual-machines/", "Manage a collection of virtual machines (removed: 410).")
VirtualMachineHandler = _stub("VirtualMachineHandler", "virtual-machines/{id}", "Manage individual virtual machines (removed: 410).")
VmClustersHandler = _stub("VmClustersHandler", "vm-clusters/", "Read operations for the collection of VM Clusters (removed: 410).")
VmClusterHandler = _stub("VmClusterHandler", "vm-clusters/{id}", "Read operations for the VM Cluster object (removed: 410).",
                         ("read", "update", "delete"))

GONE_HANDLERS = [VirtualMachinesHandler, VirtualMachineHandler, VmClustersHandler, VmClusterHandler]
