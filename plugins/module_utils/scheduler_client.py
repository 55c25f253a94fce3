# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client of lxd-multi-scheduler's ``POST /schedule`` (asking only: ``reserve: false``)."""

from __future__ import annotations

import json

from urllib.parse import urlsplit

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError, redact


class Scheduler(object):
    """A client of ``POST /schedule`` of lxd-multi-scheduler; the API key is sent as a header and never shown.

    It follows no redirect (the key would go with the request to wherever the redirect points), and takes no URL with
    credentials in it (they would be shown with the URL in messages).
    """

    def __init__(self, url, api_key=None, validate_certs=True, ca_path=None, timeout=30, opener=None):
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise LxdcpError("scheduler_url is not a URL: %s" % exc) from None
        if parts.username is not None or parts.password is not None:
            raise LxdcpError("scheduler_url must not contain credentials (user:password@); give the API key as "
                             "scheduler_api_key.")
        self.url = url.rstrip("/") + "/schedule"
        self._api_key = api_key
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self._open = opener or _open_url
        self.requests_sent = 0

    def __repr__(self):
        return "Scheduler(url=%r)" % self.url

    def schedule(self, request, hosts, strategy=None):
        """Ask (without reserving) where ``request.count`` VMs go among ``hosts``; return the decoded answer.

        ``strategy`` None leaves the choice to the scheduler's default. Raises :class:`SchedulerRefused` for an
        error answer, :class:`LxdcpError` when the scheduler cannot be reached or answers no JSON.
        """
        body = {
            "instance_requirements": {"cpu": request.cores, "memory": request.memory},
            "count": request.count,
            "reserve": False,
            "hosts": list(hosts),
            "max_skew": request.max_skew,
        }
        if strategy:
            body["strategy"] = strategy
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        self.requests_sent += 1
        try:
            response = self._open(self.url, data=json.dumps(body), headers=headers, method="POST",
                                  validate_certs=self.validate_certs, ca_path=self.ca_path, timeout=self.timeout,
                                  follow_redirects="none")
            return json.loads(response.read())
        except HTTPError as exc:
            raise SchedulerRefused(self.url, exc, secrets=(self._api_key,)) from None
        except (URLError, OSError) as exc:
            raise LxdcpError("cannot reach lxd-multi-scheduler at %s: %s" % (self.url, getattr(exc, "reason", exc))) from None
        except ValueError as exc:
            raise LxdcpError("lxd-multi-scheduler at %s answered something that is not JSON: %s" % (self.url, exc)) from None


def _open_url(url, **kwargs):
    """Ansible's ``open_url``, imported when a scheduler is asked: a plan without one (most runs) does not load it."""
    from ansible.module_utils.urls import open_url

    return open_url(url, **kwargs)


class SchedulerRefused(LxdcpError):
    """lxd-multi-scheduler answered an error. ``summary`` says what it said (and what to do), without the literals of
    ``secrets`` (the API key) should the answer quote them; ``details`` are its per-host rejections (409 and 503
    answers), which the planner lists together with MAAS's."""

    # Request fields this lookup needs that a scheduler older than this collection rejects as unknown.
    NEW_FIELDS = ("hosts", "max_skew")

    def __init__(self, url, error, secrets=()):
        try:
            body = json.loads(error.read())
        except (ValueError, AttributeError, TypeError):
            body = None
        body = body if isinstance(body, dict) else {}
        text = "%d %s" % (error.code, redact(str(body.get("message") or body.get("error") or error.reason), secrets))
        if 300 <= error.code < 400:
            text += "; a redirect is not followed (the API key would go with it): set scheduler_url to the scheduler's own address"
        if error.code == 401:
            text += "; check scheduler_api_key (LXD_MULTI_SCHEDULER_API_KEY)"
        if error.code == 400 and body.get("field") in self.NEW_FIELDS and "unknown field" in text:
            text += "; this lxd-multi-scheduler is older than the lookup, which sends %s: upgrade it" % " and ".join(self.NEW_FIELDS)
        self.summary = "lxd-multi-scheduler at %s refused the request: %s" % (url, text)
        self.details = [item for item in body.get("details") or [] if isinstance(item, dict) and item.get("host")]
        super(SchedulerRefused, self).__init__(self.summary)
