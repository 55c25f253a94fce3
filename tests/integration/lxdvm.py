"""Real LXD daemons that can hold ``virtual-machine`` instances, for any integration test directory.

Debian's LXD 5.0.2 decides once, when it starts, whether it can run VMs: it needs
``qemu-system-x86_64`` (whose features it probes), ``/dev/kvm``, ``/dev/vhost-vsock`` and
``/sys/module/vhost_vsock``. These machines have KVM but no vhost_vsock module, so each daemon runs
in its own mount namespace where an overlay adds an empty ``vhost_vsock`` entry to ``/sys/module``
(nothing outside that namespace changes), after ``/dev/vhost-vsock`` was created if missing
(recipe: /work/shared/lxd-vm-records.md). LXD then reports ``driver: lxc | qemu``.

What works against these daemons: creating VMs (``POST /1.0/instances`` with MAAS's definition),
reading them, their state (``Stopped``), config changes, deletion, storage pools and volumes,
resources. What does not: booting; ``start`` fails in its operation ("Failed to run: forklimits
... qemu-system-x86_64 ..."). A test that needs a running VM cannot have one here.

Each daemon has its own ``LXD_DIR``, HTTPS on 127.0.0.1 with a free port, a ``dir`` storage pool
``default``, the test client certificate trusted, and a bridge of its own (``ip link add ... type
bridge``, unique name, deleted with the daemon; also by :func:`lxdprocs.clean_stale` after a crash).
NICs attach to it with ``nictype: bridged`` (LXD-managed networks would need iptables).

    cluster = LxdVmCluster("gw0", count=2)      # raises Unavailable (the skip reason) when it cannot
    daemon = cluster.daemons[0]
    LxdClient(**cluster.client_settings(daemon))  # url, client_cert, client_key, server_cert (pinned)
    daemon.bridge                                 # the bridge for its VMs' NICs
    cluster.reset(); cluster.close()

Fixtures (``tests/integration/conftest.py``): ``lxd_vm_cluster`` (session, two daemons per xdist
worker) and ``lxd_vms`` (the same, emptied before the test). A daemon starts and is configured in
about a second; ``reset`` takes a fraction of one, creating or deleting a VM some tens of milliseconds.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat

from lxdprocs import DaemonGroup, LxdDaemon, Unavailable, add_link, fingerprint, require, require_package

VSOCK_DEVICE = "/dev/vhost-vsock"
VSOCK_MAJOR_MINOR = (10, 241)
OVMF_FIRMWARE = "/usr/share/OVMF/OVMF_CODE.fd"
_LOG_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')


def ensure_vsock_device() -> None:
    """Create ``/dev/vhost-vsock`` (character device 10:241) when missing."""
    if os.path.exists(VSOCK_DEVICE):
        if not stat.S_ISCHR(os.stat(VSOCK_DEVICE).st_mode):
            raise Unavailable(f"{VSOCK_DEVICE} exists but is not a character device")
        return
    try:
        os.mknod(VSOCK_DEVICE, 0o600 | stat.S_IFCHR, os.makedev(*VSOCK_MAJOR_MINOR))
    except FileExistsError:  # another worker made it meanwhile
        pass
    except OSError as exc:
        raise Unavailable(f"cannot create {VSOCK_DEVICE} (mknod {VSOCK_DEVICE} c 10 241): {exc}") from None


class VmDaemon(LxdDaemon):
    """An LXD daemon in its own mount namespace that believes vhost_vsock is loaded; it has a bridge of its own."""

    bridge = ""

    def command(self) -> list[str]:
        upper, work = os.path.join(self.root, "sysmodule", "upper"), os.path.join(self.root, "sysmodule", "work")
        os.makedirs(os.path.join(upper, "vhost_vsock"), exist_ok=True)
        os.makedirs(work, exist_ok=True)
        script = ('mount -t overlay overlay -o "lowerdir=/sys/module,upperdir=$2,workdir=$3" /sys/module '
                  '&& exec "$0" --group root --debug --logfile "$1"')
        unshare = shutil.which("unshare") or "unshare"
        return [unshare, "-m", "--propagation", "private", "sh", "-c", script, self.lxd,
                os.path.join(self.root, "lxd.log"), upper, work]

    def setup(self, trusted_cert: str) -> None:
        super().setup(trusted_cert)
        self.bridge = "lxdvm" + secrets.token_hex(3) + self.name[-1]
        add_link(os.path.dirname(self.root), self.bridge, "type", "bridge")
        environment = self.query("/1.0").get("environment") or {}
        if "qemu" not in (environment.get("driver") or ""):
            raise Unavailable(f"LXD daemon {self.name} started without VM support (driver: {environment.get('driver')}); "
                              f"see {os.path.join(self.root, 'lxd.log')}")

    def log_mark(self) -> int:
        """Where the daemon's log ends now (for :meth:`api_requests`)."""
        try:
            return os.path.getsize(os.path.join(self.root, "lxd.log"))
        except OSError:
            return 0

    def api_requests(self, since: int = 0) -> list[dict]:
        """The HTTPS API requests the daemon handled since ``since`` (a :meth:`log_mark`), from its debug log:
        ``{"method", "url", "client"}`` (``client``: the SHA-256 fingerprint of the client certificate)."""
        try:
            with open(os.path.join(self.root, "lxd.log"), encoding="utf-8", errors="replace") as handle:
                handle.seek(since)
                text = handle.read()
        except OSError:
            return []
        requests = []
        for line in text.splitlines():
            if '"Handling API request"' not in line or "protocol=tls" not in line:
                continue
            fields = dict(_LOG_FIELD.findall(line))
            requests.append({"method": fields.get("method", ""), "url": fields.get("url", "").strip('"'),
                             "client": fields.get("username", "").strip('"')})
        return requests

    def trusted(self) -> list[dict]:
        """The trust store: ``{"name", "fingerprint"}`` of each certificate."""
        return [{"name": c.get("name"), "fingerprint": c.get("fingerprint")} for c in self.query("/1.0/certificates?recursion=1") or []]

    def clear_certificates(self, keep: str) -> None:
        """Remove every trusted certificate but the one whose fingerprint is ``keep``."""
        for certificate in self.trusted():
            if certificate["fingerprint"] != keep:
                self.lxc("config", "trust", "remove", certificate["fingerprint"])

    def clear(self) -> None:
        """Delete every instance, custom volume (of the default project), extra profile and project but ``default``."""
        self.clear_instances()
        for volume in self.query("/1.0/storage-pools/default/volumes/custom") or []:
            self.lxc("storage", "volume", "delete", "default", volume.rsplit("/", 1)[-1])
        for profile in self.query("/1.0/profiles") or []:
            name = profile.rsplit("/", 1)[-1]
            if name != "default":
                self.lxc("profile", "delete", name)
        self.clear_projects()


class LxdVmCluster(DaemonGroup):
    """Independent VM-capable daemons of one pytest worker, and the client certificate they trust."""

    daemon_class = VmDaemon
    prefix = "vm-"
    certificate_cn = "lxdcp-lxd-client-tests"

    def prepare(self) -> None:
        if not os.path.exists("/dev/kvm"):
            raise Unavailable("no /dev/kvm: LXD refuses virtual machines without KVM")
        require("qemu-system-x86_64", "qemu-system-x86")
        require_package("ovmf", OVMF_FIRMWARE)
        require("unshare", "util-linux")
        require("ip", "iproute2")
        ensure_vsock_device()

    def reset(self) -> None:
        """Every daemon running and empty, trusting only the test client certificate."""
        super().reset()
        keep = fingerprint(self.client_cert)
        for daemon in self.daemons:
            daemon.clear_certificates(keep)

    def client_settings(self, daemon: VmDaemon) -> dict:
        """``LxdClient`` settings for ``daemon``: url, client certificate and key, its server certificate pinned."""
        return {"url": daemon.url, "client_cert": self.client_cert, "client_key": self.client_key,
                "server_cert": daemon.server_cert}
