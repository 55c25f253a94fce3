# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioner interface: how machines of one kind come to exist in MAAS and go away again.

``runner.VmRunner`` drives the life cycle (find, ownership, drift, converge, deploy, report) and
asks the provisioner of the task's ``provisioning_mode`` for what differs between kinds:

- :meth:`Provisioner.create` - bring a missing machine into being (compose a VM, allocate bare metal);
- :meth:`Provisioner.undo` - take back what ``create`` made when tagging it failed (rollback);
- :meth:`Provisioner.remove` - ``state: absent`` (and ``recreate``);
- :meth:`Provisioner.left_untagged` / :meth:`Provisioner.adoptable` / :meth:`Provisioner.adopt` -
  which machines without the ownership tags are this task's to take over;
- :meth:`Provisioner.kind_error`, :meth:`Provisioner.present`, :meth:`Provisioner.absent_already`.

A new way to create machines is a new subclass; the runner and the other provisioners stay as they are.
The base class also holds the steps every kind shares (tags, release, waiting, rollback).
"""

from __future__ import annotations

import abc
import collections
import contextlib

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError, sentence
from ansible_collections.lxdcp.maas.plugins.module_utils.maas import waiters
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas_view import check_places, cluster_members
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import OWNERSHIP_COMMENT, cluster_tag


class Words(collections.namedtuple("Words", "noun creation made undone undo remake")):
    """How messages name what a provisioner makes: "a VM", "between compose and tagging", "Composed cp-1 ...
    It was deleted again", "delete it in MAAS", "delete and compose it again"."""


class Provisioner(abc.ABC):
    """Base of the provisioners; see the module docstring for the interface."""

    words = Words(noun="machine", creation="creation", made="created", undone="removed", undo="remove", remake="create")

    def __init__(self, journal, spec, client, static_ips):
        self.journal = journal
        self.spec = spec
        self.client = client
        self.static_ips = static_ips
        self.pool_id = None
        self.domain_id = None

    # -- the interface -----------------------------------------------------------------------

    @abc.abstractmethod
    def kind_error(self, machine):
        """Why ``machine`` is not of this provisioner's kind (a VM where bare metal is asked for...); None when it is."""

    @abc.abstractmethod
    def left_untagged(self, machine):
        """Whether ``machine`` is what a run of this task leaves when it dies between creating and tagging it.

        Such a machine is adopted (tagged) by the next run that keeps it, and refused by ``state: absent``
        until then.
        """

    def adoptable(self, machine):
        """Whether an existing machine without the ownership tags may be taken over (allocated and tagged)."""
        return False

    def adopt(self, machine):
        """Take over a machine :meth:`adoptable` accepted and return it; only provisioners that adopt implement it."""
        raise NotImplementedError("%s adopts no machine" % type(self).__name__)

    @abc.abstractmethod
    def create(self):
        """Bring the missing machine into being and tag it, failing over where the kind allows it.

        Returns the machine; None in check mode (after recording what would be done) or when nothing is made.
        """

    @abc.abstractmethod
    def undo(self, system_id):
        """Take back the machine ``create`` made when tagging it failed; raise MaasError when that fails too."""

    @abc.abstractmethod
    def remove(self, machine, reason):
        """Remove an owned machine (``state: absent``, ``recreate``) and return what is left of it (None when gone).

        ``reason`` goes into MAAS's comments and the actions.
        """

    def gone(self):
        """``state: absent`` when no machine has the hostname: nothing to do."""
        return None

    def absent_already(self, machine):
        """Whether an untagged machine is what ``state: absent`` leaves (then :meth:`finish_absent` handles it)."""
        return False

    def finish_absent(self, machine):
        """``state: absent`` for a machine :meth:`absent_already` accepted; provisioners that accept some implement it."""
        raise NotImplementedError("%s accepts no machine as absent already" % type(self).__name__)

    def settle(self, machine):
        """An existing machine of this task, before anything is judged of it: what the provisioner needs to finish of an
        earlier run (the machine, or None when it is to be made again)."""
        return machine

    def host_of(self, machine):
        """``{id, name}`` of the host that holds ``machine`` when MAAS does not say it (None: MAAS's ``pod`` says it)."""
        return None

    def present(self, machine):
        """``state: present`` on an existing machine: ``(machine, status it ends in)``."""
        return machine, machine.get("status_name")

    # -- steps every kind shares ---------------------------------------------------------------

    def check_places(self):
        """Fail before any write on zone, pool or domain names MAAS does not know; remember their ids."""
        spec = self.spec
        self.pool_id = check_places(self.client, spec.zones, spec.pool)
        if spec.domain:
            domains = dict((d["name"], d["id"]) for d in self.client.list_domains())
            if spec.domain not in domains:
                raise LxdcpError("unknown domain %r (MAAS has: %s)" % (spec.domain, ", ".join(sorted(domains))))
            self.domain_id = domains[spec.domain]
        if spec.interfaces:
            self.static_ips.check()

    def refresh(self, machine):
        """Re-read a machine."""
        return self.client.get_machine(machine["system_id"])

    def release(self, machine, why):
        """``op=release`` with a comment; the machine as MAAS answers it (re-read if the answer had none)."""
        return self.client.release(machine["system_id"], {"comment": "lxdcp.maas %s" % why}) or self.refresh(machine)

    def wait_for(self, machine, targets, what=None):
        """Wait (if ``wait``) until the machine is in one of ``targets``; return it."""
        if not self.spec.wait or machine.get("status_name") in targets:
            return machine
        return waiters.wait_for_machine(self.client, machine["system_id"], targets, self.journal.remaining(),
                                        what=what or "%s to become %s" % (self.spec.hostname, " or ".join(sorted(targets))))

    def ensure_tags(self, machine):
        """Add the ownership, user and role tags the machine lacks (creating missing tags with one read of the tags), and
        remove the role tag it must not carry (``role: control-plane`` on a machine marked as a worker)."""
        journal = self.journal
        tags = machine.get("tag_names") or []
        missing = [tag for tag in self.spec.wanted_tags if tag not in tags]
        extra = [tag for tag in self.spec.unwanted_tags if tag in tags]
        for tag in missing:
            journal.act("tag %s %s" % (self.spec.hostname, tag))
        for tag in extra:
            journal.act("untag %s %s (role %s)" % (self.spec.hostname, tag, self.spec.role))
        if not (missing or extra) or journal.check:
            return machine
        if missing:
            comments = dict((tag, OWNERSHIP_COMMENT if tag in self.spec.owner_tags else "") for tag in missing)
            for tag in self.client.ensure_tags(comments):
                journal.log("created tag %s" % tag)
        for tag in missing:
            self.client.tag_machines(tag, add=[machine["system_id"]])
        for tag in extra:
            self.client.tag_machines(tag, remove=[machine["system_id"]])
        # Tagging changes nothing else of the machine: no need to read it again.
        return dict(machine, tag_names=[tag for tag in tags if tag not in extra] + missing)

    def drop_cluster_tag(self, system_id=None):
        """Delete the cluster's tag once its last machine is gone (``state: absent``), if lxdcp.maas created it.

        Called after this machine was removed (and, for a VM, waited for until it was gone): of the cluster's
        machines removed in parallel, the one removed last sees no other machine and deletes the tag. Two removed at
        the same moment can both see none: only the one whose delete finds the tag reports it. Check mode removes
        nothing, so it predicts instead (``_predicts_deletion``).
        """
        spec = self.spec
        tag = cluster_tag(spec.cluster)
        found = self.client.get_tag(tag)
        if found is None or found.get("comment") != OWNERSHIP_COMMENT:
            return
        members = cluster_members(self.client, spec.cluster)
        if self.journal.check:
            if not self._predicts_deletion(members, system_id):
                return
        elif any(m["system_id"] != system_id for m in members):
            return
        if self.journal.check or self.client.delete_tag(tag):
            self.journal.act("delete tag %s with the cluster's last machine" % tag)

    def _predicts_deletion(self, members, system_id):
        """Check mode: whether this task predicts the cluster tag's deletion, once for the run as the run deletes it
        once. The machines this run removes too (``removed_with``, the other tasks that run) count as gone; when
        that leaves none of the cluster's machines, one task predicts it: of the cluster's machines, the one whose
        hostname sorts last (a task whose machine is not the cluster's leaves it to them); with no machine of the
        cluster left at all, the task whose hostname sorts after every name in ``removed_with``."""
        together = frozenset(self.spec.removed_with)
        others = [m.get("hostname") for m in members if m["system_id"] != system_id]
        if any(name not in together for name in others):
            return False  # a machine of the cluster stays
        if members and system_id not in set(m["system_id"] for m in members):
            return False  # one of the cluster's machines predicts it
        return all(name < self.spec.hostname for name in (others if members else together))

    def free_addresses(self, system_id, ips):
        """Release the API user's reservations of the deleted VM's addresses that nothing uses; return them.

        MAAS deletes a machine's own addresses with its interfaces; what can stay behind is a
        reservation of the API user (USER_RESERVED, for example one a DNS record created). Only
        those are released (``GET /ipaddresses/`` without ``all`` lists exactly them), never an
        address of another user or one an interface holds by now.
        """
        released = []
        for ip in ips:
            for address in self.client.ip_addresses(ip=ip):
                holders = [i.get("system_id") for i in address.get("interface_set") or []]
                if holders and any(h != system_id for h in holders):
                    continue  # in use again
                self.journal.act("release %s left behind by %s (%s)" % (ip, self.spec.hostname, address.get("alloc_type_name")))
                self.client.release_ip(ip)
                released.append(ip)
        return released

    def predict_made(self, known=None):
        """Check mode, for a machine still to be made (its making already recorded): the tagging, the static addresses
        and the deployment that would follow, and what --diff shows of it.

        ``known``: the fields of the --diff view known before the machine exists (``drift.predicted_view``): the machine
        MAAS would allocate, or what a VM gets from its host.
        """
        spec = self.spec
        journal = self.journal
        journal.after_state = spec.final_state()
        journal.predicted = known
        for tag in spec.wanted_tags:
            journal.act("tag %s %s" % (spec.hostname, tag))
        self.static_ips.predict()
        if spec.state == "deployed":
            journal.act(spec.deploy_action)

    @contextlib.contextmanager
    def undo_on_failure(self, system_id):
        """Roll back this run's creation of ``system_id`` when a request inside the block fails.

        Until it is tagged, a machine this run created is ours only by this run's memory: left as it is,
        every later run would refuse it. So it is taken back (:meth:`undo`), best effort, and the task
        fails saying what happened.
        """
        try:
            yield
        except MaasError as exc:
            self.roll_back(system_id, exc)

    def roll_back(self, system_id, error):
        """Undo the creation of ``system_id`` whose tagging failed with ``error``, then fail."""
        spec = self.spec
        what = "%s %s (%s) but could not tag it: %s" % (self.words.made.capitalize(), spec.hostname, system_id, error)
        self.journal.log("%s; rolling back" % what)
        try:
            self.undo(system_id)
        except MaasError as undo_error:
            raise LxdcpError("%s Rolling back failed too (%s), so machine %s is still in MAAS without ownership tags: %s it "
                             "in MAAS, or run the task again with state: present, which adopts it." % (
                                 sentence(what), undo_error, system_id, self.words.undo),
                             error=error.to_dict())
        raise LxdcpError("%s It was %s again; run the task again." % (sentence(what), self.words.undone), error=error.to_dict())
