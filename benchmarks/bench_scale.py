# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scale: the main job against MAAS's own time, its re-run against Ansible's fixed cost, polls and CPU per VM, many clusters.

Every figure is a ratio of two runs taken in this one script, on the same machine at the same time.

- **3 nodes** is `playbooks/inventory/demo.yml` on maas-sim's default scenario; **30 nodes** is that control plane
  (3 LXD VMs) plus 27 bare-metal workers (Ready machines, 9 per zone) in group `workers`. maas-sim's transitions take
  commissioning 2 s + deploying 3 s = **5 s** (the MAAS time of the critical path: a VM is commissioned, then
  deployed). "over MAAS" is the wall time of the first run less those 5 s. The first run is run 5 times for 3 nodes,
  each on a maas-sim of its own, and the rows show the run of median wall time (once for 30 nodes).
- **no task** is an `ansible-playbook` run of a play without tasks over the same hosts: Ansible's fixed cost. Its
  wall time swings with the machine's load; its CPU time (user + sys) much less, so the re-run is compared on both.
  The re-run, the no-task run and the re-run's no-op shape (below) are run in turn, 7 times each for 3 nodes and 3
  for 30: the table has their medians (one sample of each swung the 3-node ratio by up to 10 %), and the lowest and
  highest ratio of a re-run to the no-task run of the same round.
- **polls** are the machine reads sent while waiting for MAAS: `GET /machines/<system_id>/` and `GET /machines/`
  filtered by `id` only (from maas-sim's request log, which records the query string).
- **wall time** is that of the `ansible-playbook` process, from its start to its exit; the harness then reads the
  run's results file and maas-sim's request log, which is not the job's time (up to this round that was counted too,
  about 0.08 s more for the re-run and 0.03 s for the no-task run, measured this round).
- **CPU** is user + sys of the whole `ansible-playbook` process tree (`getrusage(RUSAGE_CHILDREN)` around the run;
  maas-sim's own CPU is not in it), divided by the VMs and machines the run provisioned.
- **10 clusters x 3 nodes** start at once (10 `ansible-playbook` processes) against one maas-sim with 10,000 bare-metal
  machines and 60 LXD VM hosts (20 per zone, 32 cores and 128 GiB each, no over-commit); each cluster has 3 VMs of
  4 cores and 16 GiB with static IPs. After the runs, every VM host's allocation is read through the API
  (`GET /vm-hosts/`) and compared with its capacity. One more cluster run alone on the same maas-sim first gives
  the baseline of the ratios.

Runs use ansible-playbook's default forks (5) and pipelining, as `make demo` does. The workers ask for 8 cores and
32 GiB, more than the control-plane VMs have: `op=allocate` by size alone can take a Ready LXD VM of the same run.
The machine may be busy with other jobs: compare the ratios, which are taken in one run.

Before the cluster-wide waits (commit 4331a4f, this script, one run on a machine loaded by other jobs): 3 nodes
29.2 s (5.84x MAAS's 5 s), re-run 15.5x the no-task run, 37 polls (12.3 per machine), 3.0 s CPU per machine;
30 nodes 158.4 s (31.7x), re-run 20.0x, 172 polls (5.7 per machine), 2.4 s CPU per machine; 10 clusters x 3 at
once: all 10 succeeded, no host over-committed, 2.91x the wall time and 8.93x the requests of one cluster alone,
3.9 s CPU per VM.

Waits poll MAAS with a pause that is a share of the time waited so far (`waiters.poll`): a quarter, from 0.5 s up to
10 s, for one machine's own wait (commissioning); a tenth, from 0.25 s up to 2 s, for the cluster-wide wait
(deployments), so a new state is seen at most 25 % and 10 % of the waiting time (and at most the cap) after MAAS
reports it. Before that (up to commit 4cf89a3) the pause grew from 0.5 s by 1.5: a VM Ready after 2.4 s was seen at
4.06 s, a 3 s deployment at 4.06 s.

In `control_plane.yml` the deployment of each VM with a static IP starts in its own compose task as soon as the VM is
Ready (`provision_deploy`), not after the play's last VM is Ready and the tasks between the two roles. Against commit
4cf89a3 (before that and the poll schedule above), the 3-node job run alternately with each, 3 pairs on a machine busy
with a test run, medians: first run 11.37 s -> 9.81 s, its CPU 7.98 s -> 6.77 s; re-run 4.85 s -> 5.07 s (the deploy
settings are now checked before provisioning, three more per-host tasks).

The collection's modules run in the controller's process when their task runs there (their action plugins; every role
task that talks to MAAS is delegated to localhost), and control_plane.yml runs five tasks fewer per machine (the deploy
role's `prepared` part). Against commit e3e516f, 3 pairs run alternately on a quiet machine, medians: first run
9.29 s -> 7.52 s, its CPU 6.67 s -> 3.45 s; re-run 4.15 s -> 2.30 s. What is left of the controller's cost is Ansible's
own per task and host: a forked worker that templates the task's arguments, and Jinja compiles every expression anew
in every worker (a worker profile of the re-run: 80 compiles, 0.14 s of the compose task's 0.18 s, the module's own
work 0.02 s; 64 compiles for the shared checks of the roles' inputs).

**same tasks as no-ops** is a play over the same hosts with the re-run's tasks in the same order, each an
`ansible.builtin.debug` on as many hosts as the real task reported for (run_once where it reported one): what
Ansible itself costs for that many tasks, before any templating or MAAS read. The re-run's ratio to the no-task run
splits into that shape's ratio and the re-run's ratio to it (the collection's share: arguments templated, the roles
and the modules loaded, MAAS read). The shared check of each role's inputs is a `fail` task with a condition rather
than an assert (Ansible renders an assert's message, and so every check in it, also when it holds), and the compose
task's deployment (`provision_deploy_now`) is worked out once per machine: 1063 -> 794 Jinja compiles in a re-run's
workers. Against commit b20ec56, 7 re-runs of each alternately on a quiet machine, medians: 2.36 s -> 2.27 s
(5.51x -> 5.29x the no-task run), CPU 3.24 s -> 3.06 s.

Then the re-run lost four tasks on every host and its templates shrank (docs/design.md, "The roles: what a task
costs"): the rollback is in the rescue of the compose and deploy blocks (two skipped "Give the run up" tasks per host
before); the deploy steps are included only for machines that have something to do there (three per host before);
the machines are grouped with one add_host task (group_by on every host before); the inventory check's name loads
Ansible's filter plugins in the main process, before the workers are forked (53 of a re-run's workers loaded them,
each on its own); the roles' shared check is the filter lxdcp.maas.setting_problems (192 -> 126 compiles); 794 -> 688
Jinja compiles in all. Against commit 3da70ae, 9 re-runs of each alternately, medians: 2.26 s -> 1.93 s (5.24x ->
4.49x the no-task run), CPU 3.05 s -> 2.50 s (7.09x -> 5.81x). The no-op shape of the re-run is now 24 tasks, 12 on
every host (28 and 16 before).

Then what a re-run renders and loads shrank (docs/design.md, "The roles: what a task costs"): each templated value of a
task is rendered on its own, module defaults included (about 1.5 ms of CPU per value and machine), so the roles'
module defaults are one template per action (13 renders of every compose task became 2); a role under a play's
`roles:` is loaded when the playbook is parsed, so control_plane.yml includes the release role, loaded only when a
machine is marked absent; the compose task takes its VM's host from the plan itself (one task less on every host;
22 tasks, 11 on every host); the --skip-tags refusal runs with the lxdcp_state check. Against commit 0b9111f, 11
re-runs of each alternately on a machine loaded by other jobs (the no-task run took 0.68 s, 0.43 s on a quiet one),
medians: 2.87 s -> 2.67 s (4.25x -> 3.96x the no-task run), CPU 3.71 s -> 3.43 s (5.51x -> 5.09x). On that loaded
machine the ratio is lower than on a quiet one (0b9111f: 4.57x quiet, 4.03x-4.25x loaded), so the re-run is not shown
within 4x on a quiet machine yet.

Then the code a re-run does not use left its path: the LXD client and Ansible's open_url are imported where they are
used (the plan's lookup imported both in its worker, and the main process the LXD client, on every run), and the plan
is shown and a lost zone stopped by one run_once task (21 tasks, 11 on every host). Against commit 026aab5, 15 re-runs
of each alternately (the no-task run 0.51 s), medians of the ansible-playbook process: 2.08 s -> 2.04 s, paired
difference -56 ms (4.07x -> 3.99x), CPU 2.71 s -> 2.64 s. The wall time is now that of the ansible-playbook process
(above), which lowers the re-run and the no-task run alike: the ratio moved by less than the rounds' spread.
Measured and not kept, by A/B: the compose task's VM shape as one module-defaults template (+37 ms); the shared
check as an action plugin (-35 ms; its messages are then rendered with the task, not only when a check fails); the
plugins the workers load (builtin tests, the collection's filters and tests, the env and vars lookups) loaded in the
main process first (-36 ms, no clean way to make it load them); without the inventory check's play, whose task name
loads Ansible's filters in the main process (+124 ms). What is left per machine on a re-run is Ansible's per-task
cost and the rendering of each role's settings: leaving both shared checks out entirely saves 156 ms, 94 ms of it
their content.

Then each role's argument spec and the checks of its values became one task (the action
`lxdcp.maas.validate_role_inputs`, docs/design.md): the playbooks import the roles with `rolespec_validate: false`, and
the roles' first task validates the spec with Ansible's validator and then checks the values, each variable rendered
once (19 tasks, 9 on every host); the internal lxdcp role's validate.yml, imported by each role and parsed with the
lxdcp role every run, is gone. On a slower machine than the last rounds' (the no-task run 0.8-1.25 s, the re-run
3.2-3.9 s; the controller's CPU about 1.4x the last rounds' for the same work: 1.6 s per machine against 1.2 s),
against commit a6d5bed, re-runs of each alternately, medians: 3.50 s -> 3.15 s (12 rounds, paired difference
-466 ms), 3.78 s -> 3.40 s (10 rounds, -340 ms), 3.87 s -> 3.56 s (15 rounds on an idle machine, -414 ms); CPU
4.63 s -> 3.99 s, 4.91 s -> 4.22 s, 5.02 s -> 4.50 s. This script on that machine: re-run 3.65x (a6d5bed) against
3.26x, 3.43x, 3.51x, 3.84x and 4.06x (this change, five runs; single rounds 2.6x-4.7x), first run 8.97 s
(a6d5bed) against 7.98 s-8.8 s: 2.98 s-3.8 s over MAAS's time, where the faster machine of the last round gave
+2.72 s before this change.

Then the first run became the median of five, each on a maas-sim of its own: on that machine one first run swings by
up to 0.5 s. Where its time over MAAS goes there (one run of 8.6 s; a timeline of maas-sim's request log and Ansible's
events in the main process): 1.2 s from the start to the first play (the no-task run's 0.8-1.0 s, plus parsing
control_plane.yml and ansible-core's 376 KB plugin routing file, which the first `ansible.builtin.` task name loads,
about 0.1 s each); 0.2 s the first two plays; 1.35 s the tasks before the first compose, 0.23 s of it the main process
importing the collection's modules (requests, the MAAS client, the provisioners: Ansible's collection loader compiles
them from source on every run); the VMs seen Ready and Deployed 0.04-0.1 s after maas-sim's transitions; 0.5 s of
tasks after the wait, and 0.2 s for Ansible to exit (as in the no-task run). Most of the workers' CPU is Jinja: each
worker compiles every expression it renders anew (Ansible keeps no compiled template across workers), 583 compiles and
about 1.9 s of the workers' 2.4 s in a first run; the compose task alone compiles 47 per machine. ansible-core 2.18.19
takes the same time as 2.19.14 (medians of 4 first runs: 8.28 s and 8.35 s). Measured and not kept: the deploy and
provision roles' description of each machine (deploy_with, provision_node, ...) set by their first task, the check of
their inputs, instead of a set_fact task after it (two per-host tasks less before the first compose): 10 first runs of
each alternately, medians 8.58 s -> 8.41 s, paired difference -173 ms. An action's facts are host facts, which a
user's `inject_facts_as_vars = false` takes out of the variables (only set_fact's are not); and the gain is about a
quarter of what the first run is over MAAS + 3 s here.

Then the first task's name renders a test as well as a filter (`roles/lxdcp/tasks/inventory.yml`), so Ansible's test
plugins are loaded once, by the main process (the clean way the list above lacked): counted with the loader timed in
every process of a 3-node run, 21 workers loaded them in a first run (0.20 s of CPU) and 17 in a re-run (0.14 s); now
none does. A/B against the commit before, alternately: medians of the paired differences -243 ms and +128 ms (first
runs, 6 and 8 pairs), -246 ms and -130 ms (re-runs, 6 and 10 pairs): within the noise. This script twice after it:
first run 8.31 s and 8.05 s, +3.31 s and +3.05 s over MAAS (medians of 5; single runs +2.89 s to +3.77 s); CPU per
machine 1.43 s and 1.34 s against 1.84 s in the table before, most of which is the machine: its no-task run took
0.74-0.76 s in these runs, 0.84 s then.

Then the cluster-wide wait's pause became a tenth of the time waited (a quarter before; still from 0.25 s up to 2 s):
a 3 s deployment was seen 0.3-0.6 s after maas-sim's transition, now at most 0.275 s after it, for two requests more
in a 3-node run (the extra requests of a long wait are all in its first 20 s: 323 against 311 for a state reported
after 600 s). Against commit 6c0eed9, first runs of each alternately: medians of the paired differences -375 ms and
-217 ms (8 and 10 pairs), medians 7.87 s -> 7.41 s and 8.33 s -> 8.01 s. This script after it: first run 7.99 s,
+2.99 s over MAAS (median of 5; single runs +2.92 s to +3.16 s); 16 more first runs right after: median 7.83 s,
+2.83 s. Left over MAAS's 5 s in a first run of 7.8 s: about 0.7 s for Ansible to start, 1.1 s of tasks before the
first compose (0.26 s of it the main process importing the collection's modules, requests and netaddr when it meets
the first of the collection's MAAS actions: Ansible's linear strategy loads each task's action plugin in the main
process), up to 0.275 s to see the last deployment, 0.5 s of tasks after the wait and 0.2 s to exit. The 10-cluster
run's wall time (30.4 s here, 25.3 s in the table before) has ranged from 23.7 s to 35.7 s in the last eleven
tables with the machine's load; its requests and the checks of the hosts are the firm figures.
"""

from __future__ import annotations

import copy
import itertools
import os
import resource
import statistics
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient  # noqa: E402
from ansible_collections.lxdcp.maas.tests.integration.roles.runner import ClusterRunner  # noqa: E402
from simharness import SimServer, default_scenario_path  # noqa: E402  pylint: disable=import-error

API = "/MAAS/api/2.0/"
WORKERS = 27
CLUSTERS = 10
VM_HOSTS_PER_ZONE = 20
BULK_MACHINES = 10_000
# The re-run, the no-task run and the no-op shape are each run this many times in turn; the table has the medians.
ROUNDS = 7
ROUNDS_30 = 3
# The first run, each on a maas-sim of its own: the table has the run of median wall time.
FIRST_RUNS = 5
FIRST_RUNS_30 = 1


def cpu_seconds():
    """user + sys of the finished (waited-for) children and their descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(action):
    """``(result, wall seconds, CPU seconds of the children)`` of ``action()``: the wall time of the ansible-playbook
    process when ``action`` ran one (``result.elapsed``), not of the harness reading its results and maas-sim's
    request log afterwards (about 0.08 s for the 3-node re-run, 0.03 s for the no-task run)."""
    cpu, start = cpu_seconds(), time.perf_counter()
    result = action()
    wall = time.perf_counter() - start
    return result, getattr(result, "elapsed", None) or wall, cpu_seconds() - cpu


def medians(actions, rounds):
    """``[(last result, median wall, median CPU, walls)]`` of each action, run ``rounds`` times in turn (alternating, so
    that the machine's load weighs on all of them alike); ``walls`` are the wall times of its rounds, in order."""
    samples = [[] for action in actions]
    for _round in range(rounds):
        for index, action in enumerate(actions):
            samples[index].append(timed(action))
    return [(runs[-1][0], statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs), [r[1] for r in runs])
            for runs in samples]


def spread(numerators, denominators):
    """The lowest and highest ratio of two actions' walls taken in the same round."""
    ratios = [numerator / denominator for numerator, denominator in zip(numerators, denominators)]
    return min(ratios), max(ratios)


def is_poll(entry):
    """A machine read of a waiter: one machine by system_id, or the list filtered by ``id`` only."""
    if entry["method"] != "GET" or entry.get("op") or not entry["path"].startswith(API + "machines/"):
        return False
    rest = entry["path"][len(API + "machines/"):].strip("/")
    if rest:
        return "/" not in rest  # machines/<system_id>/
    query = entry.get("query") or ""
    return bool(query) and all(part.startswith("id=") for part in query.split("&"))


def check(run, label, writes=True):
    """Fail the benchmark on a failed run, or on a re-run that changed something."""
    if not run.ok:
        raise RuntimeError("%s failed: %s\n%s" % (label, run.failures(), run.stdout[-3000:]))
    if not writes and (run.writes or any(run.changed.values())):
        raise RuntimeError("%s was not idempotent: changed=%s, writes=%s" % (label, run.changed, run.write_summary()))
    return run


def scenario_with_workers(count):
    """The default scenario plus ``count`` Ready bare-metal machines, zones az1-az3 in turn."""
    with open(default_scenario_path(), encoding="utf-8") as handle:
        scenario = copy.deepcopy(yaml.safe_load(handle))
    scenario["machines"] = list(scenario.get("machines") or []) + [
        {"hostname": "metal-%02d" % i, "zone": "az%d" % ((i - 1) % 3 + 1), "cpu_count": 8, "memory": 32768,
         "disks": ["200G"], "status": "ready"}
        for i in range(1, count + 1)
    ]
    return scenario


def demo_inventory(workers=0):
    """playbooks/inventory/demo.yml, with ``workers`` bare-metal workers."""
    with open(os.path.join(ROOT, "playbooks", "inventory", "demo.yml"), encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    inventory["all"]["children"]["workers"] = {
        "vars": {"provision_cores": 8, "provision_memory": "32G"},  # larger than the VMs: see the notes
        "hosts": {"demo-w-%02d" % i: {} for i in range(1, workers + 1)},
    }
    return inventory


def no_task_playbook(workdir):
    """A play over the cluster's hosts without tasks: the fixed cost of ansible-playbook."""
    path = os.path.join(workdir, "no-task.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("- name: No task\n  hosts: control_plane:workers\n  gather_facts: false\n  tasks: []\n")
    return path


def task_shape(run):
    """``[(task name, hosts)]`` of ``run`` in order: one entry per task, with the number of hosts it reported for."""
    return [(name, len(list(records))) for name, records in itertools.groupby(run.tasks, key=lambda record: record["task"])]


def same_shape_playbook(workdir, run):
    """A play over the cluster's hosts with ``run``'s tasks in order, each a no-op: Ansible's own cost of that shape.

    A task that reported for one host (run_once, or the first plays' tasks on localhost) runs once; the others on
    every host.
    """
    tasks = [
        {"name": name, "ansible.builtin.debug": {"msg": "no-op"}, **({"run_once": True} if hosts == 1 else {})}
        for name, hosts in task_shape(run)
    ]
    path = os.path.join(workdir, "same-shape.yml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump([{"name": "Same shape", "hosts": "control_plane:workers", "gather_facts": False, "tasks": tasks}],
                       handle, sort_keys=False)
    return path, tasks


def first_run(sim, workdir, workers, label):
    """``(cluster, inventory, (result, wall, CPU))`` of the main job's first run on ``sim``."""
    cluster = ClusterRunner(sim, workdir)
    inventory = cluster.inventory(demo_inventory(workers))
    first, wall, cpu = timed(lambda: cluster.up(inventory))
    check(first, "control_plane.yml, " + label)
    return cluster, inventory, (first, wall, cpu)


def cluster_rows(nodes, rounds, first_runs=1):
    """The main job over ``nodes`` machines (3: the demo; more: 3 VMs and bare-metal workers): its first run
    ``first_runs`` times, each on a maas-sim of its own (the rows show the run of median wall time); then, on the last
    one's maas-sim, the re-run, the no-task run and the re-run's no-op shape as medians of ``rounds`` runs of each, in
    turn."""
    workers = nodes - 3
    label = "%d nodes" % nodes
    rows = []
    firsts = []
    for _other in range(first_runs - 1):
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as workdir, \
                SimServer(scenario=scenario_with_workers(workers)) as sim:
            firsts.append(first_run(sim, workdir, workers, label)[2])
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as workdir, \
            SimServer(scenario=scenario_with_workers(workers)) as sim:
        timings = yaml.safe_load(open(sim.scenario_file, encoding="utf-8"))["timings"]  # pylint: disable=consider-using-with
        maas_time = timings["commissioning"] + timings["deploying"]
        cluster, inventory, last = first_run(sim, workdir, workers, label)
        firsts.append(last)
        walls = sorted(run[1] for run in firsts)
        first, wall, cpu = sorted(firsts, key=lambda run: run[1])[(len(firsts) - 1) // 2]
        of_runs, over_runs = ("", "") if len(firsts) == 1 else (
            "; the median of %d first runs (%.2f-%.2f s)" % (len(firsts), walls[0], walls[-1]),
            " (%.2f-%.2f s over MAAS in single runs)" % (walls[0] - maas_time, walls[-1] - maas_time))
        no_task = no_task_playbook(workdir)
        again = cluster.up(inventory)
        check(again, "control_plane.yml again, " + label, writes=False)
        shape_path, shape = same_shape_playbook(workdir, again)
        (again, again_wall, again_cpu, again_walls), (empty, empty_wall, empty_cpu, empty_walls), \
            (shaped, shape_wall, _shape_cpu, _shape_walls) = medians(
            [lambda: cluster.up(inventory), lambda: cluster.run(no_task, inventory),
             lambda: cluster.run(shape_path, inventory)], rounds)
        check(again, "control_plane.yml again, " + label, writes=False)
        check(empty, "no-task run")
        check(shaped, "same-shape run")
        polls = [entry for entry in first.requests if is_poll(entry)]
        rows += [
            dict(benchmark="control_plane.yml, " + label, metric="wall time", value=round(wall, 2), unit="s",
                 notes="%d API requests (%d writes)%s" % (len(first.requests), len(first.writes), of_runs)),
            dict(benchmark="control_plane.yml, " + label, metric="MAAS transitions", value=maas_time, unit="s",
                 notes="commissioning %s s + deploying %s s" % (timings["commissioning"], timings["deploying"])),
            dict(benchmark="control_plane.yml, " + label, metric="over MAAS", value=round(wall - maas_time, 2), unit="s",
                 notes="wall time / MAAS time = %.2f%s" % (wall / maas_time, over_runs)),
            dict(benchmark="control_plane.yml, " + label, metric="polls while waiting", value=len(polls), unit="requests",
                 notes="%.1f per machine" % (len(polls) / nodes)),
            dict(benchmark="control_plane.yml, " + label, metric="controller CPU per machine", value=round(cpu / nodes, 3),
                 unit="s", notes="user+sys %.2f s over %d machines" % (cpu, nodes)),
            dict(benchmark="control_plane.yml again, " + label, metric="wall time", value=round(again_wall, 2), unit="s",
                 notes="no-task run %.2f s: ratio %.2f (%.2f-%.2f in single rounds); %d reads, 0 writes; medians of %d "
                       "runs" % ((empty_wall, again_wall / empty_wall) + spread(again_walls, empty_walls)
                                 + (len(again.requests), rounds))),
            dict(benchmark="control_plane.yml again, " + label, metric="same tasks as no-ops", value=round(shape_wall, 2),
                 unit="s", notes="%d tasks (%d on every host): %.2fx the no-task run; the re-run is %.2fx this" % (
                     len(shape), sum(1 for task in shape if "run_once" not in task), shape_wall / empty_wall,
                     again_wall / shape_wall)),
            dict(benchmark="control_plane.yml again, " + label, metric="controller CPU", value=round(again_cpu, 2),
                 unit="s", notes="%.3f s per machine; no-task run %.2f s: ratio %.2f" % (
                     again_cpu / nodes, empty_cpu, again_cpu / empty_cpu)),
        ]
    return rows


def big_scenario():
    """10,000 Ready bare-metal machines and 60 LXD VM hosts over three zones, one /16."""
    hosts = []
    for zone in (1, 2, 3):
        for index in range(1, VM_HOSTS_PER_ZONE + 1):
            name = "lxd-az%d-%02d" % (zone, index)
            hosts.append({"name": name, "zone": "az%d" % zone, "pool": "default", "cores": 32, "memory": 131072,
                          "storage_pools": [{"name": "default", "type": "zfs", "size": "2000G"}],
                          "host": {"hostname": name, "ip": "10.10.%d.%d" % (zone, index)}})
    return {
        "zones": [{"name": "az%d" % zone} for zone in (1, 2, 3)],
        "subnets": [{"cidr": "10.10.0.0/16", "gateway_ip": "10.10.0.1", "dns_servers": ["10.10.0.2"],
                     "ip_ranges": [{"type": "reserved", "start": "10.10.0.2", "end": "10.10.9.255"},
                                   {"type": "dynamic", "start": "10.10.200.0", "end": "10.10.255.254"}]}],
        "vm_hosts": hosts,
        "generate_machines": [{"count": BULK_MACHINES, "prefix": "bulk", "status": "ready", "cpu_count": 8,
                               "memory": 32768}],
    }


def small_inventory(cluster, number):
    """Cluster ``cluster``: 3 LXD VMs of 4 cores and 16 GiB over az1-az3, static IPs 10.10.<10+number>.11-13."""
    return {"all": {"vars": {"lxdcp_cluster": cluster}, "children": {
        "control_plane": {
            "vars": {"lxdcp_provisioning_mode": "lxd", "provision_cores": 4, "provision_memory": "16G",
                     "provision_disk_size": "40G", "provision_zones": ["az1", "az2", "az3"]},
            "hosts": {"%s-cp-%d" % (cluster, i): {"lxdcp_ip": "10.10.%d.%d" % (10 + number, 10 + i)} for i in (1, 2, 3)}},
        "workers": {"hosts": {}}}}}


def over_committed(sim):
    """VM hosts whose allocation exceeds their capacity (cores or memory, over-commit applied), read through the API."""
    found = []
    for host in MaasClient(sim.url, sim.api_key).list_vm_hosts():
        total, used = host["total"], host["used"]
        if used["cores"] > total["cores"] * host["cpu_over_commit_ratio"] or \
                used["memory"] > total["memory"] * host["memory_over_commit_ratio"]:
            found.append("%s: %s of %s" % (host["name"], used, total))
    return found


def many_clusters_rows():
    """10 clusters of 3 VMs started at once against a big MAAS, against one cluster alone."""
    rows = []
    label = "%d clusters x 3 nodes at once" % CLUSTERS
    with tempfile.TemporaryDirectory(prefix="bench-scale-big-") as workdir, \
            SimServer(scenario=big_scenario(), startup_timeout=300) as sim:
        cluster = ClusterRunner(sim, workdir)
        alone, alone_wall, alone_cpu = timed(lambda: cluster.up(small_inventory("solo", 0)))
        check(alone, "one cluster alone")
        inventories = [small_inventory("c%02d" % n, n) for n in range(1, CLUSTERS + 1)]
        mark = sim.seq()

        def all_at_once():
            jobs = [cluster.start("control_plane.yml", inventory) for inventory in inventories]
            return [job.wait(timeout=1800) for job in jobs]

        runs, wall, cpu = timed(all_at_once)
        requests = sim.requests(mark)
        failed = ["c%02d: %s" % (n, run.failures() or run.stdout[-500:]) for n, run in enumerate(runs, 1) if not run.ok]
        problems = over_committed(sim)
        maas = MaasClient(sim.url, sim.api_key)
        deployed = [m for m in maas.list_machines(status=["deployed"]) if (m.get("hostname") or "").startswith("c")]
        rows += [
            dict(benchmark=label, metric="clusters that succeeded", value=CLUSTERS - len(failed), unit="clusters",
                 notes="; ".join(failed) or "all %d, %d VMs Deployed" % (CLUSTERS, len(deployed))),
            dict(benchmark=label, metric="over-committed VM hosts", value=len(problems), unit="hosts",
                 notes="; ".join(problems) or "none of 60 (GET /vm-hosts/: used <= total x ratio)"),
            dict(benchmark=label, metric="wall time", value=round(wall, 2), unit="s",
                 notes="one cluster alone %.2f s: ratio %.2f" % (alone_wall, wall / alone_wall)),
            dict(benchmark=label, metric="API requests", value=len(requests), unit="requests",
                 notes="one cluster alone %d: ratio %.2f" % (len(alone.requests), len(requests) / len(alone.requests))),
            dict(benchmark=label, metric="controller CPU per VM", value=round(cpu / (3 * CLUSTERS), 3), unit="s",
                 notes="one cluster alone %.3f s per VM" % (alone_cpu / 3)),
        ]
    return rows


def run():
    """Benchmark rows (see the module docstring)."""
    return (cluster_rows(3, ROUNDS, FIRST_RUNS) + cluster_rows(3 + WORKERS, ROUNDS_30, FIRST_RUNS_30)
            + many_clusters_rows())


if __name__ == "__main__":
    only = sys.argv[1:]
    parts = {"3": lambda: cluster_rows(3, ROUNDS, FIRST_RUNS),
             "30": lambda: cluster_rows(3 + WORKERS, ROUNDS_30, FIRST_RUNS_30),
             "many": many_clusters_rows}
    for name in only or ["3", "30", "many"]:
        for row in parts[name]():
            print("%-42s %-28s %10s %-9s %s" % (row["benchmark"], row["metric"], row["value"], row["unit"], row["notes"]))
