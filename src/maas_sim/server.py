"""The ASGI application: request parsing, auth, dispatch, faults, request log and ``/_sim/``.

Request path (for ``/MAAS/api/2.0/...``):

0. first, as MAAS's web server (Twisted) does for every path it serves: a POST declared
   ``multipart/form-data`` whose non-empty body holds no MIME part answers 400 with an empty body
   and nothing below runs (``web_server_refuses``; the request is logged with status 400);
1. log entry opened (``seq``, method, path, op);
2. faults: added latency, then ``fail_next``/``error_rate`` answers (nothing runs);
3. due timed transitions are applied (``lifecycle.advance``);
4. routing (``Unknown API endpoint`` 404), OAuth (401), anonymous handler or
   challenge, 405 for methods the handler lacks, ``op`` dispatch (400
   ``Unrecognised signature``), 410 for the VM host endpoints in 4.0 mode or with the
   ``vmhost_gone`` fault, the handler itself;
5. changes are written to the state file, then the response is sent, or cut
   off mid-body when a ``drop_response`` rule matches.
"""

from __future__ import annotations

import asyncio
import email.policy
import json
import logging
import re
import time
import urllib.parse
from collections import deque
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesParser

from starlette.datastructures import UploadFile
from starlette.requests import Request

from . import auth, lifecycle, modes, render, scenario
from .api import handlers_for
from .api.gone import vmhost_gone
from .errors import HTML, JSON, TEXT, ApiError
from .faults import FaultError, Faults
from .model import to_record
from .params import Params
from .routing import API_ROOT, Context, Raw, Router
from .state import State, Store

LOG = logging.getLogger("maas_sim")

WRITE_METHODS = {"POST", "PUT", "DELETE"}


class DroppedResponse(Exception):
    """Raised to make the server abort a response mid-body (``drop_response`` fault)."""


class RequestLog:
    """Numbered log of API requests (not ``/_sim/`` ones)."""

    def __init__(self, limit: int = 100000):
        self.entries: deque = deque(maxlen=limit)
        self.seq = 0

    def open(self, method: str, path: str, op: str | None, query: str = "") -> dict:
        """Start an entry; ``status`` is filled in when the answer is known."""
        self.seq += 1
        entry = {"seq": self.seq, "time": time.time(), "method": method, "path": path, "op": op, "status": None,
                 "write": method in WRITE_METHODS, "user": None, "query": query}
        self.entries.append(entry)
        return entry

    def since(self, seq: int) -> list:
        """Entries with a sequence number above ``seq``."""
        return [entry for entry in self.entries if entry["seq"] > seq]

    def clear(self) -> None:
        """Forget every entry (numbering continues)."""
        self.entries.clear()


def warm_machine_cache(state: State) -> None:
    """Render every machine's JSON once at load, so that the first listing costs what later ones do."""
    for machine in state.all("machine"):
        render.machine_json(state, machine)


class Simulator:
    """One simulated MAAS region: state, router, faults and request log."""

    def __init__(self, scenario_path: str | None = None, state_path: str | None = None, api_key: str | None = None,
                 maas_version: str | None = None, admin_api: bool = True):
        if scenario_path is None and maas_version and modes.major(scenario.version(maas_version, "--maas-version")) >= 4:
            scenario_path = scenario.DEFAULT_SCENARIO_40
        self.scenario_path = scenario_path
        self.state_path = state_path
        self.api_key = api_key
        self.maas_version = maas_version
        # False: no /_sim/ (it answers 404 like any path a real MAAS does not have), as a live MAAS for the live tests.
        self.admin_api = admin_api
        self.log = RequestLog()
        self.store = Store(state_path) if state_path else None
        self.base_url = ""
        if self.store is not None and not self.store.is_empty():
            self.state = State.restore(self.store)
            if api_key:
                scenario.set_admin_key(self.state, api_key)
            if maas_version:
                scenario.set_version(self.state, maas_version)
        else:
            self.state = self._fresh_state()
        self._route()
        warm_machine_cache(self.state)
        self.faults = Faults(self.state.meta.get("faults"))
        self.save_faults()

    def _route(self) -> None:
        """The routing table of this MAAS version (4.0 also routes the VM cluster and VM stubs)."""
        self.without_vm_hosts = modes.without_vm_hosts(self.state)
        self.router = Router(handlers_for(self.without_vm_hosts))
        self._hashes = {hide: self.router.api_hash(hide) for hide in (False, True)}

    def _fresh_state(self) -> State:
        state = scenario.build(scenario.load_file(self.scenario_path), self.api_key, self.maas_version)
        state.flush(self.store)
        return state

    def reset(self) -> None:
        """Reload the scenario (faults included); the request log is kept."""
        self.state = self._fresh_state()
        self._route()
        warm_machine_cache(self.state)
        self.faults = Faults(self.state.meta.get("faults"))
        self.save_faults()

    def vm_hosts_gone(self) -> bool:
        """Whether the VM host endpoints answer 410: MAAS 4.0, or the ``vmhost_gone`` fault."""
        return self.without_vm_hosts or bool(self.faults["vmhost_gone"])

    def save_faults(self) -> None:
        """Keep the fault settings in the persisted state; offline VM hosts show a power error on their host machine."""
        offline = set(self.faults["vmhost_offline"])

        def follow(machine, pod):
            """The power state of a machine whose power goes through ``pod``: "error" while it is offline."""
            wanted = "error" if pod.name in offline else ("on" if machine.power_state == "error" else machine.power_state)
            if machine.power_state != wanted:
                machine.power_state = wanted
                self.state.touch(machine)

        pods = {pod.id: pod for pod in self.state.all("pod")}
        for pod in pods.values():
            host = self.state.get("machine", pod.host_system_id) if pod.host_system_id else None
            if host is not None:
                follow(host, pod)
        # MAAS queries a VM's power through its VM host's LXD API: when that host is unreachable, the query fails
        # and MAAS records the power state "error" (provisioningserver/rpc/power.py, query_all_nodes); the machine's
        # status does not change. Back online, the next query finds the VM running.
        for machine in self.state.all("machine"):
            pod = pods.get(machine.pod_id) if machine.pod_id is not None else None
            if pod is not None:
                follow(machine, pod)
        self.state.meta["faults"] = self.faults.settings
        self.state.touch_meta()
        self.state.flush(self.store)

    def api_hash(self) -> str:
        """``X-MAAS-API-Hash`` value for the current mode."""
        return self._hashes[self.vm_hosts_gone()]

    # --- ASGI ----------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.store is not None:
                        self.store.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if self.admin_api and (path == "/_sim" or path.startswith("/_sim/")):
            await self._admin(Request(scope, receive), send)
            return
        request = Request(scope, receive)
        if request.method.upper() == "POST" and web_server_refuses(request.headers.get("content-type"), await request.body()):
            if path.startswith(API_ROOT):
                query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
                entry = self.log.open("POST", path, (query.get("op") or [None])[-1] or _path_op(path))
                entry["status"] = 400
            await _send(send, 400, b"", {})
        elif path.startswith(API_ROOT):
            await self._api(request, send)
        else:
            await _send(send, *self._other(path, scope))

    def _other(self, path: str, scope):
        """Paths outside the 2.0 API: ``/MAAS/api/version/``, the 1.0 API, Django's APPEND_SLASH redirects."""
        if path.startswith("/MAAS/api/version/"):
            return 200, b"2.0", {"content-type": "text/plain"}
        if path.startswith("/MAAS/api/1.0/"):
            return 410, b"The 1.0 API is no longer available. Please use API version 2.0.", {"content-type": "text/plain"}
        if not path.endswith("/") and (path + "/").startswith(("/MAAS/api/version/", "/MAAS/api/2.0/", "/MAAS/api/1.0/")):
            query = scope.get("query_string", b"").decode("latin-1")
            location = path + "/" + ("?" + query if query else "")
            return 301, b"", {"content-type": HTML, "location": location}
        return 404, b"<h1>Not Found</h1>", {"content-type": HTML}

    async def _api(self, request: Request, send) -> None:
        method = request.method.upper()
        path = request.url.path
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        query = Params(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        post, data = await _read_body(request, method)
        op = query.get("op") or post.get("op") or _path_op(path)
        entry = self.log.open(method, path, op, raw_query)
        drop = False
        try:
            if self.faults["latency"]:
                await asyncio.sleep(self.faults["latency"])
            injected = self.faults.injected_error(method, path, op)
            if injected is not None:
                status, body, retry_after = injected
                text = body or (f"Unable to serve the request (maas-sim injected {status})." if status == 503
                                else "Transaction conflict: the request could not be serialised; retry it (maas-sim injected 409).")
                raise ApiError(status, text, headers={"Retry-After": str(retry_after)})
            status, body, headers = self._handle(request, method, path, query, post, data, entry)
            drop = self.faults.drop_after_commit(method, path, entry["op"])
        except ApiError as error:
            status, body, headers = _error_response(error, self.api_hash())
        except Exception as exc:  # pylint: disable=broad-except
            LOG.exception("maas-sim: unhandled error on %s %s", method, path)
            status, body, headers = 500, str(exc).encode(), {"content-type": TEXT}
        finally:
            self.state.flush(self.store)
        entry["status"] = status
        if drop:
            await _send_truncated(send, status, b"".join(body) if isinstance(body, list) else body, headers)
        else:
            await _send(send, status, body, headers)

    def _handle(self, request: Request, method: str, path: str, query: Params, post: Params, data: Params, entry: dict):
        state = self.state
        lifecycle.advance(state)
        match = self.router.match(path[len(API_ROOT):])
        if match is None:
            raise ApiError(404, f"Unknown API endpoint: {path}.")
        handler, kwargs, path_op = match
        user = None
        if handler.requires_auth:
            header = request.headers.get("authorization", "")
            user = auth.authenticate(state, method, header, query, post, url=str(request.url))
            if user is None:
                anonymous = handler.anonymous
                if anonymous is None or method not in anonymous.allowed_methods():
                    raise _from_resource(auth.challenge())
                handler = anonymous
        entry["user"] = user.username if user else None
        if method not in handler.allowed_methods():
            allowed = ", ".join(sorted(handler.allowed_methods()))
            raise _from_resource(ApiError(405, "", HTML, {"Allow": allowed}))
        op = query.get("op") or post.get("op") or path_op
        entry["op"] = op
        attribute = handler.exports.get((method, op))
        if attribute is None:
            raise ApiError(400, f"Unrecognised signature: method={method} op={op}")
        if handler.vm_host_api and self.vm_hosts_gone():
            raise vmhost_gone()
        ctx = Context(state=state, sim=self, user=user, method=method, path=path, query=query, post=post, data=data,
                      base_url=f"{request.url.scheme}://{request.url.netloc}", op=op)
        result = getattr(handler(), attribute)(ctx, **kwargs)
        if isinstance(result, Raw):
            status, body, content_type = result.status, result.body, result.content_type
        else:
            status, body, content_type = 200, render.dumps(result), JSON
        return status, body, {"content-type": content_type, "x-maas-api-hash": self.api_hash(), "vary": "Authorization"}

    # --- /_sim/ ----------------------------------------------------------------

    async def _admin(self, request: Request, send) -> None:
        client = request.scope.get("client") or ("", 0)
        if client[0] not in ("127.0.0.1", "::1", "localhost"):
            await _send(send, 403, b'{"error": "the /_sim/ API only answers loopback clients"}', {"content-type": JSON})
            return
        try:
            status, payload = await self._admin_dispatch(request)
        except FaultError as exc:
            status, payload = 400, {"error": str(exc)}
        except (ValueError, scenario.ScenarioError) as exc:
            status, payload = 400, {"error": str(exc)}
        body = b"" if status == 204 else json.dumps(payload).encode()
        await _send(send, status, body, {"content-type": JSON})

    async def _admin_dispatch(self, request: Request):
        method, path = request.method.upper(), request.url.path.rstrip("/")
        if path == "/_sim" and method == "GET":
            return 200, {
                "name": "maas-sim",
                "maas_version": self.state.meta.get("maas_version"),
                "url": self.base_url,
                "api_url": self.base_url + "/api/2.0/",
                "scenario": self.scenario_path or scenario.DEFAULT_SCENARIO,
                "state_file": self.state_path,
                "users": [user.username for user in self.state.all("user")],
                "lxd_hosts": self.state.meta.get("lxd_hosts", {}),
            }
        if path == "/_sim/requests":
            if method == "GET":
                since = int(request.query_params.get("since", "0") or 0)
                return 200, {"requests": self.log.since(since), "next": self.log.seq}
            if method == "DELETE":
                self.log.clear()
                return 204, None
        if path == "/_sim/faults":
            if method == "GET":
                return 200, self.faults.settings
            if method == "PUT":
                settings = json.loads(await request.body() or b"{}")
                self.faults.merge(settings)
                self.save_faults()
                return 200, self.faults.settings
            if method == "DELETE":
                self.faults.clear()
                self.save_faults()
                return 200, self.faults.settings
        if path == "/_sim/reset" and method == "POST":
            self.reset()
            return 200, {"reset": True, "next": self.log.seq}
        if path == "/_sim/state" and method == "GET":
            lifecycle.advance(self.state)
            self.state.flush(self.store)
            return 200, _dump_state(self.state)
        return 404, {"error": f"no admin endpoint {method} {path}"}


def _dump_state(state: State) -> dict:
    """Everything the simulator holds, as plain records."""
    return {
        "meta": state.meta,
        "counters": state.counters,
        "objects": {kind: [to_record(obj) for obj in table.values()] for kind, table in state.tables.items()},
    }


def _path_op(path: str) -> str | None:
    """The ``op-<name>`` suffix of a path, if any (for logging and fault rules before routing)."""
    match = re.search(r"/op-([^/]+)$", path)
    return match.group(1) if match else None


def _from_resource(error: ApiError) -> ApiError:
    """Mark an answer piston's resource itself produces (it gets ``X-MAAS-API-Hash``)."""
    error.from_resource = True
    return error


def _error_response(error: ApiError, api_hash: str):
    headers = {"content-type": error.content_type}
    headers.update({name.lower(): value for name, value in error.headers.items()})
    if error.from_resource:
        headers["x-maas-api-hash"] = api_hash
    return error.status, error.body.encode(), headers


async def _read_body(request: Request, method: str) -> tuple[Params, Params]:
    """``(request.POST, request.data)``: form fields (files excluded), or a JSON object for ``data`` only."""
    if method not in ("POST", "PUT"):
        return Params(), Params()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.form(max_files=1000, max_fields=10000)
        fields = Params((key, value) for key, value in form.multi_items() if not isinstance(value, UploadFile))
        return fields, fields
    if content_type.startswith("multipart/form-data"):
        fields = parse_multipart(content_type, await request.body())
        return fields, fields
    if content_type.startswith("application/json"):
        try:
            payload = json.loads(await request.body() or b"{}")
        except ValueError:
            return Params(), Params()
        if isinstance(payload, dict):
            items = []
            for key, value in payload.items():
                for item in value if isinstance(value, list) else [value]:
                    items.append((key, item if isinstance(item, str) else json.dumps(item)))
            return Params(), Params(items)
    return Params(), Params()


MULTIPART_FORM = "multipart/form-data"


def web_server_refuses(content_type: str | None, body: bytes) -> bool:
    """Whether MAAS's web server answers this POST 400 before MAAS (Django, piston) sees it.

    MAAS's region serves HTTP with Twisted (``maasserver/webapp.py``); from Twisted 24.3.0 on (MAAS 3.6
    and 3.7 are built on Ubuntu 24.04), ``twisted.web.http.Request.requestReceived`` reads a
    non-empty POST body declared ``multipart/form-data`` as an email message: the declared
    Content-Type line, then the body right after it (no blank line between them). When the email
    parser does not make a multipart message of that, which is the case for a body without a
    single part (``--BOUNDARY--``, what a client sends for an empty form), for a body whose parts
    use another boundary and for a Content-Type without ``boundary=``, Twisted writes
    ``HTTP/1.1 400 Bad Request`` with no headers and no body and closes the connection. Bodies
    with parts, empty bodies, PUTs and other content types go on to MAAS. See docs/maas-sim.md.
    """
    if not content_type or not body:
        return False
    declared = EmailMessage()
    declared["content-type"] = content_type
    if declared.get_content_type() != MULTIPART_FORM:
        return False
    as_twisted_reads_it = b"MIME-Version: 1.0\r\nContent-Type: " + content_type.encode("latin-1") + b"\r\n" + body
    return not message_from_bytes(as_twisted_reads_it).is_multipart()


def parse_multipart(content_type: str, body: bytes) -> Params:
    """Form fields of a multipart body as Django reads them.

    Parts may use ``Content-Transfer-Encoding: base64`` (the MAAS CLI and python-libmaas send every
    value that way, built with ``email.mime``); Django decodes it, so does this. Parts with a filename
    are files (``request.FILES``), not form fields.
    """
    message = BytesParser(policy=email.policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    fields = []
    if not message.is_multipart():
        return Params()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None or part.get_param("filename", header="content-disposition") is not None:
            continue
        payload = part.get_payload(decode=True) or b""
        fields.append((name, payload.decode(part.get_content_charset() or "utf-8", errors="replace")))
    return Params(fields)


def _header_list(headers: dict) -> list:
    return [(name.encode("latin-1"), str(value).encode("latin-1")) for name, value in headers.items() if value is not None]


CHUNK = 1 << 20


async def _send(send, status: int, body, headers: dict) -> None:
    """Send a complete response; a body given as pieces is sent in groups of about 1 MiB, never joined whole."""
    parts = body if isinstance(body, list) else [body]
    headers = dict(headers, **{"content-length": str(sum(len(part) for part in parts))})
    await send({"type": "http.response.start", "status": status, "headers": _header_list(headers)})
    group, size = [], 0
    for part in parts:
        group.append(part)
        size += len(part)
        if size >= CHUNK:
            await send({"type": "http.response.body", "body": b"".join(group), "more_body": True})
            group, size = [], 0
    await send({"type": "http.response.body", "body": b"".join(group)})


async def _send_truncated(send, status: int, body: bytes, headers: dict) -> None:
    """Announce the full length, send part of the body, then abort the connection.

    An empty answer (204) is announced as a 200 with a two-byte body so there is something to cut off.
    """
    if not body:
        status, body = 200, b"{}"
    headers = dict(headers, **{"content-length": str(len(body))})
    await send({"type": "http.response.start", "status": status, "headers": _header_list(headers)})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise DroppedResponse("response dropped after commit (maas-sim drop_response fault)")


class DropFilter(logging.Filter):
    """Keep uvicorn from logging the deliberate ``DroppedResponse`` as an application error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedResponse)
