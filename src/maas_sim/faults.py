"""Fault injection settings (``/_sim/faults`` and the scenario's ``faults:`` key).

Settings (all optional; ``PUT /_sim/faults`` replaces the keys it names):

``latency``            seconds added before every API request is handled.
``error_rate``         probability (0..1) that an API request answers ``error_status``
                       (503 by default) with ``Retry-After: retry_after`` instead of running.
``error_status``       503 or 409 for ``error_rate``.
``retry_after``        seconds for the ``Retry-After`` header (default 1).
``seed``               seed of the ``error_rate`` dice, for repeatable runs.
``fail_next``          list of rules ``{count, status (503|409), method, path (regex), op,
                       retry_after, body}``: the next ``count`` matching requests fail
                       before anything runs.
``drop_response``      list of rules ``{count, method, path, op}``: the request runs and
                       commits, then the response is cut off mid-body (the client sees a
                       broken connection).
``compose_fail``       ``{vm host name: message}``: compose on that host answers 503
                       ``Unable to compose machine because: <message>``.
``vmhost_offline``     VM host names whose backing host is unreachable: refresh and compose
                       answer 503, the host machine shows power ``error``.
``commission_fail``    hostnames whose commissioning ends in Failed commissioning.
``deploy_fail``        hostnames whose deployment ends in Failed deployment.
``vmhost_gone``        true: every ``/vm-hosts/`` and ``/pods/`` endpoint answers 410 as
                       MAAS does after VM host support was removed.
"""

from __future__ import annotations

import copy
import random
import re

DEFAULTS = {
    "latency": 0.0,
    "error_rate": 0.0,
    "error_status": 503,
    "retry_after": 1,
    "seed": None,
    "fail_next": [],
    "drop_response": [],
    "compose_fail": {},
    "vmhost_offline": [],
    "commission_fail": [],
    "deploy_fail": [],
    "vmhost_gone": False,
}

_RULE_KEYS = {"count", "status", "method", "path", "op", "retry_after", "body"}


class FaultError(ValueError):
    """Invalid fault settings."""


def _rule(item, kind: str) -> dict:
    if not isinstance(item, dict):
        raise FaultError(f"{kind} entries must be objects, got {item!r}")
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise FaultError(f"{kind}: unknown keys {sorted(unknown)}")
    rule = {"count": int(item.get("count", 1)), "method": item.get("method"), "path": item.get("path"), "op": item.get("op")}
    if rule["path"]:
        try:
            re.compile(rule["path"])
        except re.error as exc:
            raise FaultError(f"{kind}: bad path regex {rule['path']!r}: {exc}") from None
    if kind == "fail_next":
        rule["status"] = int(item.get("status", 503))
        if rule["status"] not in (409, 503):
            raise FaultError("fail_next status must be 503 or 409")
        rule["retry_after"] = item.get("retry_after", 1)
        rule["body"] = item.get("body")
    return rule


def validate(settings: dict) -> dict:
    """Check and normalise a (partial) settings dict; raise ``FaultError``."""
    if not isinstance(settings, dict):
        raise FaultError("fault settings must be a JSON object")
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise FaultError(f"unknown fault settings: {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    clean = {}
    for key, value in settings.items():
        try:
            clean[key] = _clean(key, value)
        except FaultError:
            raise
        except (TypeError, ValueError) as exc:
            raise FaultError(f"{key}: invalid value {value!r} ({exc})") from None
    return clean


def _clean(key: str, value):
    """One setting, normalised (``FaultError``/``ValueError``/``TypeError`` when invalid)."""
    if key in ("latency", "error_rate"):
        value = float(value or 0)
        if value < 0 or (key == "error_rate" and value > 1):
            raise FaultError(f"{key} out of range: {value}")
    elif key == "error_status":
        value = int(value)
        if value not in (409, 503):
            raise FaultError("error_status must be 503 or 409")
    elif key == "retry_after":
        value = int(value)
    elif key in ("fail_next", "drop_response"):
        value = [_rule(item, key) for item in (value or [])]
    elif key == "compose_fail":
        if isinstance(value, list):
            value = {name: "Failed to create the VM (injected fault)." for name in value}
        if not isinstance(value, dict):
            raise FaultError("compose_fail must map VM host names to messages")
        value = {str(name): str(message) for name, message in value.items()}
    elif key in ("vmhost_offline", "commission_fail", "deploy_fail"):
        value = [str(item) for item in ([value] if isinstance(value, str) else value or [])]
    elif key == "vmhost_gone":
        value = bool(value)
    return value


class Faults:
    """The active settings plus the dice for ``error_rate``."""

    def __init__(self, settings: dict | None = None):
        self.settings = copy.deepcopy(DEFAULTS)
        self._random = random.Random()
        if settings:
            self.merge(settings)

    def merge(self, settings: dict) -> dict:
        """Apply a partial update (``PUT /_sim/faults``)."""
        self.settings.update(validate(settings))
        self._random = random.Random(self.settings["seed"])
        return self.settings

    def clear(self) -> dict:
        """Back to no faults."""
        self.settings = copy.deepcopy(DEFAULTS)
        self._random = random.Random()
        return self.settings

    def __getitem__(self, key):
        return self.settings[key]

    @staticmethod
    def _matches(rule: dict, method: str, path: str, op: str | None) -> bool:
        if rule["method"] and rule["method"].upper() != method:
            return False
        if rule["op"] and rule["op"] != op:
            return False
        if rule["path"] and not re.search(rule["path"], path):
            return False
        return True

    def _take(self, key: str, method: str, path: str, op: str | None):
        for rule in self.settings[key]:
            if rule["count"] > 0 and self._matches(rule, method, path, op):
                rule["count"] -= 1
                return rule
        return None

    def injected_error(self, method: str, path: str, op: str | None):
        """``(status, body, retry_after)`` when this request must fail up front, else None."""
        rule = self._take("fail_next", method, path, op)
        if rule is not None:
            return rule["status"], rule["body"], rule["retry_after"]
        rate = self.settings["error_rate"]
        if rate and self._random.random() < rate:
            return self.settings["error_status"], None, self.settings["retry_after"]
        return None

    def drop_after_commit(self, method: str, path: str, op: str | None) -> bool:
        """True when this request's response must be cut off."""
        return self._take("drop_response", method, path, op) is not None
