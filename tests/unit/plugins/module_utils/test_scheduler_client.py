# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lxd-multi-scheduler client over real HTTP (local servers): its API key goes to the scheduler only."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import Request
from ansible_collections.lxdcp.maas.plugins.module_utils.scheduler_client import Scheduler, SchedulerRefused

KEY = "sched-key-0123456789"


class Server(object):
    """A local HTTP server answering every request with ``answer(handler) -> (status, headers, body)``; it records
    each request's method, path and headers (names in lower case)."""

    def __init__(self, answer):
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = answer(self)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def ask(url):
    return Scheduler(url, api_key=KEY).schedule(Request(count=1, cores=2, memory=4096), ["lxd-1"])


def test_a_redirect_is_not_followed_and_the_key_goes_nowhere_else():
    with Server(lambda handler: (200, {}, b"{}")) as elsewhere:
        with Server(lambda handler: (302, {"Location": elsewhere.url + "/stolen"}, b"")) as scheduler:
            with pytest.raises(SchedulerRefused) as caught:
                ask(scheduler.url)
    assert [(method, path) for method, path, _headers in scheduler.requests] == [("POST", "/schedule")]
    assert scheduler.requests[0][2]["x-api-key"] == KEY
    assert elsewhere.requests == []
    assert "302" in str(caught.value) and "a redirect is not followed" in str(caught.value)
    assert KEY not in str(caught.value)


def test_an_error_answer_that_quotes_the_key_is_shown_without_it():
    body = json.dumps({"error": "bad request from X-API-Key %s" % KEY}).encode()
    with Server(lambda handler: (400, {"Content-Type": "application/json"}, body)) as scheduler:
        with pytest.raises(SchedulerRefused) as caught:
            ask(scheduler.url)
    assert str(caught.value) == ("lxd-multi-scheduler at %s/schedule refused the request: 400 bad request from "
                                 "X-API-Key <redacted>" % scheduler.url)


@pytest.mark.parametrize("url", ["http://svc:pw@127.0.0.1:1", "https://svc@sched.example.com:8080"])
def test_a_url_with_credentials_is_refused_before_any_request(url):
    with pytest.raises(LxdcpError) as caught:
        Scheduler(url, api_key=KEY)
    assert str(caught.value) == ("scheduler_url must not contain credentials (user:password@); give the API key as "
                                 "scheduler_api_key.")


def test_a_url_that_does_not_parse_is_refused_before_any_request():
    with pytest.raises(LxdcpError, match="scheduler_url is not a URL: Invalid IPv6 URL"):
        Scheduler("http://[::1:8080", api_key=KEY)
