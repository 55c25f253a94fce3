"""HTTP API (FastAPI): ``POST /schedule`` and its companions.

``POST /schedule`` takes two bodies: the requirements document's (``{"instance_requirements": {"cpu": 2,
"memory": 2048}, ...}``, memory in MiB, hosts by name) and the flat one shoes-lxd-multi's scheduler
client sends (branch ``feat/add-lxd-scheduler``, ``server/pkg/api/scheduler_client.go``:
``{"cpu": 2, "memory": 2147483648, "target_hosts": ["https://10.0.0.1:8443"]}``, memory in bytes,
hosts by their ``host`` address); the flat body is answered with ``host`` = the address, as the
caller wrote it. Status codes:

- 200: ``{"host": NAME, "url": URL, "reservation_id": ID, ...}``;
- 400: malformed body, or an allow-list ``hosts`` naming no server of this service,
  ``{"error": ..., "field": "instance_requirements.cpu", "details": [...]}``;
- 401: API keys are configured and ``X-API-Key`` is missing or wrong;
- 409: every readable server is too full, ``{"error": "no suitable node found", "reason": ..., "details": [per host]}``;
- 503: no server could be read (same body), or the reservation store (Redis) is unavailable.

Layout: the routes are module-level functions of :data:`router`, which reach the running
:class:`Service` through the dependency :data:`ServiceDep` (``app.state.service``). Each domain
error is turned into its answer by one exception handler (:data:`EXCEPTION_HANDLERS`); a route
only lets it propagate. Two plain ASGI layers wrap the application: :class:`_ApiKeyGate` checks
the API key before routing (so every path but ``OPEN_PATHS`` - unknown paths, wrong methods and
unparseable bodies included - answers 401 without a valid key) and :class:`_AccessLog` logs and
counts every answer. Mutual TLS is uvicorn's (``cli.py``): a client without a trusted certificate
never reaches the application.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, StringConstraints, Tag, field_validator

from . import __version__
from .config import Settings, check_strategy
from .inventory import Inventory
from .logs import log, rfc3339_nano
from .lxd import MIB, ServerState
from .metrics import CONTENT_TYPE, Counter, Gauge, Histogram, Registry
from .reservations import ReservationStore, StoreUnavailable, make_store
from .scheduler import Ask, NoSuitableHost, Scheduler, UnknownHosts

LOG = logging.getLogger("lxd_multi_scheduler.api")
API_KEY_HEADER = "x-api-key"
BEARER = b"bearer "  # ``Authorization: Bearer <key>`` carries the key too (what Prometheus' ``authorization`` sends)
OPEN_PATHS = frozenset({"/healthz"})
KNOWN_PATHS = frozenset({"/schedule", "/hosts", "/reservations", "/scheduled-resources", "/healthz", "/metrics", "/openapi.json", "/docs"})
NESTED, FLAT = "nested", "flat"  # the two bodies of POST /schedule (tags of the union)


# --- request and response models -----------------------------------------------------------


class InstanceRequirements(BaseModel):
    """What one instance needs."""

    model_config = ConfigDict(extra="forbid")
    cpu: StrictInt = Field(gt=0, description="CPU cores", examples=[2])
    memory: StrictInt = Field(gt=0, description="memory in MiB", examples=[2048])


class ScheduleBody(BaseModel):
    """Body of ``POST /schedule``."""

    model_config = ConfigDict(extra="forbid")
    instance_requirements: InstanceRequirements
    strategy: str | None = Field(None, description="placement strategy (default: the service's, least-allocated-cpu)")
    instance_name: str | None = Field(None, min_length=1, max_length=63,
                                      description="the reservation ends as soon as an instance of this name appears on the chosen host")
    count: StrictInt = Field(1, ge=1, le=100, description="number of instances to place (all or nothing)")
    reserve: StrictBool = Field(True, description="hold the room for reservation_ttl seconds (false: only ask)")
    zones: list[str] | None = Field(None, description="only hosts of these zones (host setting 'zone')")
    pool: str | None = Field(None, description="only hosts of this pool (host setting 'pool')")
    tags: list[str] = Field(default_factory=list, description="only hosts carrying all these tags (host setting 'tags')")
    hosts: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        None, min_length=1, examples=[["lxd-a", "lxd-b"]],
        description="only these hosts (their 'name'; default every host); the others are rejected with code 'hosts', a name the "
                    "service does not know with code 'unknown', and a list of unknown names only is a 400")
    max_skew: StrictInt = Field(
        1, ge=1, description="largest allowed difference between the numbers of instances of this request in two zones; a worse spread is a warning")

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value):
        return value if value is None else check_strategy(value)

    @field_validator("hosts")
    @classmethod
    def _distinct_hosts(cls, value):
        repeated = sorted({name for name in value or () if value.count(name) > 1})
        if repeated:
            raise ValueError(f"host names must be unique; repeated: {', '.join(repeated)}")
        return value


class FlatScheduleBody(BaseModel):
    """Body of ``POST /schedule`` as shoes-lxd-multi's scheduler client sends it (``ScheduleRequest``: memory in bytes)."""

    model_config = ConfigDict(extra="forbid")
    cpu: StrictInt = Field(gt=0, description="CPU cores", examples=[2])
    memory: StrictInt = Field(gt=0, description="memory in bytes (rounded up to whole MiB)", examples=[2147483648])
    target_hosts: list[str] | None = Field(
        None, examples=[["https://10.0.0.11:8443"]],
        description="only these servers, by their 'host' address as in LXD_MULTI_HOSTS (default, or empty: every server); "
                    "an address the service does not know is rejected with code 'unknown', only unknown ones is a 400")

    @property
    def memory_mib(self) -> int:
        """The memory in whole MiB, rounded up (the room asked for is never less than the bytes)."""
        return -(-self.memory // MIB)


def _body_kind(value: Any) -> str:
    """``flat`` for a body with ``cpu``, ``memory`` or ``target_hosts`` and no ``instance_requirements``; else ``nested``."""
    if isinstance(value, dict) and "instance_requirements" not in value and {"cpu", "memory", "target_hosts"} & value.keys():
        return FLAT
    return NESTED


AnyScheduleBody = Annotated[Annotated[ScheduleBody, Tag(NESTED)] | Annotated[FlatScheduleBody, Tag(FLAT)], Discriminator(_body_kind)]


class Placement(BaseModel):
    """One chosen host."""

    host: str
    url: str
    reason: str
    score: Any = None
    reservation_id: str | None = None


class ScheduleAnswer(BaseModel):
    """Answer of ``POST /schedule``: ``host`` is the first (for count=1 the only) placement."""

    host: str = Field(description="name of the chosen LXD server ('name' of its configuration, default its URL); "
                                  "for the flat body its 'host' address, spelled as in the request's target_hosts or else the configuration")
    name: str | None = Field(None, description="name of the chosen LXD server (= host, but for the flat body)")
    url: str = Field(description="URL of the chosen LXD server")
    explanation: str
    strategy: str
    placements: list[Placement]
    rejected: list[dict] = Field(description="hosts that could not take the request, with the reason")
    warnings: list[Any]
    reservation_id: str | None = None
    reservation_expires_in: float | None = None


class ErrorBody(BaseModel):
    """Every error answer."""

    error: str
    field: str | None = None
    reason: str | None = None
    details: list[dict] | None = None


# --- the service ------------------------------------------------------------------------------


class Service:
    """Everything one running scheduler holds: settings, scheduler, metrics."""

    def __init__(self, settings: Settings, inventory: Inventory | None = None, store: ReservationStore | None = None):
        self.settings = settings
        self.metrics = Registry()
        self.lxd_reads = self.metrics.add(Counter("lxd_multi_scheduler_lxd_reads_total", "Reads of LXD servers by host and result."))
        self.inventory = inventory or Inventory.from_settings(settings, on_read=self._count_read)
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        self.store = store or make_store(redis_url, settings.redis_prefix)
        self.scheduler = Scheduler(settings, self.inventory, self.store)
        self._keys = [key.get_secret_value().encode() for key in settings.api_keys]
        self.http_requests = self.metrics.add(Counter("lxd_multi_scheduler_http_requests_total", "HTTP requests by method, path and status."))
        self.http_duration = self.metrics.add(Histogram("lxd_multi_scheduler_http_request_duration_seconds", "HTTP request duration by path."))
        self.schedules = self.metrics.add(Counter("lxd_multi_scheduler_schedule_total",
                                                  "Scheduling requests by result (scheduled, no_fit, invalid, unavailable)."))
        self.metrics.add(Gauge("lxd_multi_scheduler_reservations_active", "Active reservations.", self._reservation_rows))
        for suffix, help_text, attribute in (
            ("up", "1 when the last read of the LXD server succeeded.", "ok"),
            ("cores_total", "CPU threads of the LXD server.", "total_cores"),
            ("cores_allocated", "Cores allocated by instances (limits.cpu).", "used_cores"),
            ("memory_total_mib", "Memory of the LXD server in MiB.", "total_memory"),
            ("memory_allocated_mib", "Memory allocated by instances (limits.memory) in MiB.", "used_memory"),
            ("instances", "Instances on the LXD server, all projects.", "instances"),
        ):
            self.metrics.add(Gauge(f"lxd_multi_scheduler_host_{suffix}", help_text, self._host_rows(attribute)))
        self.metrics.add(Gauge("lxd_multi_scheduler_info", "Version of the service and kind of reservation store.",
                               lambda: [({"version": __version__, "store": self.store.kind}, 1)]))

    def _count_read(self, state: ServerState) -> None:
        self.lxd_reads.inc(host=state.name, result="ok" if state.ok else "error")

    def _host_rows(self, attribute: str):
        def collect():
            rows = []
            for state in self.inventory.cached():
                value = getattr(state, attribute)
                rows.append(({"host": state.name}, len(value) if isinstance(value, frozenset) else float(value)))
            return rows
        return collect

    def _reservation_rows(self):
        try:
            return [({}, len(self.store.active()))]
        except StoreUnavailable:
            return []

    def authorized(self, presented: bytes | None) -> bool:
        """Constant-time comparison of the presented key with every configured key."""
        if not self._keys:
            return True
        if not presented:
            return False
        matches = [hmac.compare_digest(presented, key) for key in self._keys]
        return any(matches)

    def close(self) -> None:
        """Release pools and connections."""
        self.inventory.close()
        self.store.close()


class _ApiKeyGate:  # pylint: disable=too-few-public-methods
    """401 for a request without a valid API key, before routing: every path but ``OPEN_PATHS`` (plain ASGI)."""

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = _api_key(scope)
        if self.service.authorized(presented):
            await self.app(scope, receive, send)
            return
        body = {"error": "missing API key: send it in the X-API-Key header (or as Authorization: Bearer)" if presented is None
                else "invalid API key"}
        await JSONResponse(body, status_code=401)(scope, receive, send)


class _AccessLog:  # pylint: disable=too-few-public-methods
    """Access log and HTTP metrics of every answer, as plain ASGI (no per-request task overhead)."""

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        label = path if path in KNOWN_PATHS else ("/reservations/{id}" if path.startswith("/reservations/") else "other")
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, send_wrapper)
        duration = time.perf_counter() - start
        self.service.http_requests.inc(method=scope["method"], path=label, status=str(status["code"]))
        self.service.http_duration.observe(duration, path=label)
        client = scope.get("client") or ("", 0)
        log(LOG, logging.INFO, "request", event="http_request", method=scope["method"], path=path, status=status["code"],
            duration_ms=round(duration * 1000, 2), client=client[0])


def _header(scope, name: str) -> bytes | None:
    wanted = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return value
    return None


def _api_key(scope) -> bytes | None:
    """The key a request presents: ``X-API-Key``, else the token of ``Authorization: Bearer``."""
    key = _header(scope, API_KEY_HEADER)
    if key is not None:
        return key
    authorization = _header(scope, "authorization")
    if authorization is not None and authorization[:len(BEARER)].lower() == BEARER:
        return authorization[len(BEARER):].strip()
    return None


# --- error answers: one handler per error ---------------------------------------------------


def _field(loc) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    if parts and parts[0] in (NESTED, FLAT):  # the tag of the body union, not a field
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = []
    for error in exc.errors():
        field = _field(error.get("loc", ()))
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            field, message = "body", "the body is not valid JSON"
        elif error.get("type") == "extra_forbidden":
            message = "unknown field"
        elif error.get("type") == "missing" and field == "body":
            message = "a JSON body is required, e.g. {\"instance_requirements\": {\"cpu\": 2, \"memory\": 2048}}"
        elif error.get("type") == "model_attributes_type" and field == "body":
            message = "the body must be a JSON object, e.g. {\"instance_requirements\": {\"cpu\": 2, \"memory\": 2048}}"
        details.append({"field": field, "message": message})
    first = details[0] if details else {"field": "body", "message": "invalid"}
    body = _invalid(first["field"], first["message"], details)
    if request.url.path == "/schedule":
        request.app.state.service.schedules.inc(result="invalid")
    return JSONResponse(body, status_code=400)


def _invalid(field: str, message: str, details: list[dict] | None = None) -> dict[str, Any]:
    """The body of a 400 answer: the first problem in ``error`` and ``field``, every problem in ``details``."""
    return {"error": f"invalid request: {field}: {message}", "field": field, "details": details or [{"field": field, "message": message}]}


async def _unknown_hosts(_request: Request, exc: UnknownHosts) -> JSONResponse:
    """400: the request's ``hosts`` (``target_hosts`` of the flat body) names no server of this service."""
    return JSONResponse(_invalid(exc.field, str(exc)), status_code=400)


async def _no_suitable_host(_request: Request, exc: NoSuitableHost) -> JSONResponse:
    """409 (every readable server too full) or 503 (no server readable), with the reason per host."""
    return JSONResponse(exc.body(), status_code=exc.status)


async def _store_unavailable(_request: Request, exc: StoreUnavailable) -> JSONResponse:
    """503: the reservation store (Redis) cannot be used."""
    return JSONResponse({"error": f"reservation store unavailable: {exc}"}, status_code=503)


EXCEPTION_HANDLERS = {
    RequestValidationError: _validation_error,
    UnknownHosts: _unknown_hosts,
    NoSuitableHost: _no_suitable_host,
    StoreUnavailable: _store_unavailable,
}


# --- the routes ----------------------------------------------------------------------------------


async def get_service(request: Request) -> Service:
    """Dependency: the :class:`Service` of the running application."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed request, or `hosts` names no host of this service; `field` names the offending field."},
    401: {"model": ErrorBody, "description": "API key missing or wrong."},
    409: {"model": ErrorBody, "description": "No readable server has room; `details` gives the reason per host "
                                             "(hosts left out by `hosts` included, with code `hosts` or `unknown`)."},
    503: {"model": ErrorBody, "description": "No server could be read, or the reservation store is unavailable."},
}

router = APIRouter()


def _schedule_result(exc: Exception) -> str:
    """The ``result`` label of ``lxd_multi_scheduler_schedule_total`` for a ``/schedule`` that raised ``exc``."""
    if isinstance(exc, UnknownHosts):
        return "invalid"
    if isinstance(exc, NoSuitableHost) and exc.status == 409:
        return "no_fit"
    return "unavailable"


@router.post("/schedule", response_model=ScheduleAnswer, responses=ERRORS)
def schedule(body: AnyScheduleBody, service: ServiceDep):
    """Choose the LXD server for new instance(s) and reserve the room.

    Two bodies: ``{"instance_requirements": {"cpu", "memory" (MiB)}, ...}`` or shoes-lxd-multi's flat
    ``{"cpu", "memory" (bytes), "target_hosts": [addresses]}``, answered with ``host`` = the address.
    """
    spelled: dict[str, str] = {}
    if isinstance(body, FlatScheduleBody):
        targets = list(dict.fromkeys(body.target_hosts or ()))  # Go's client: omitted or empty means every server
        spelled = service.scheduler.by_address(targets)
        unknown = [address for address in targets if not service.scheduler.by_address([address])]
        ask = Ask(cores=body.cpu, memory=body.memory_mib, hosts=tuple(spelled) + tuple(unknown) if targets else None,
                  hosts_field="target_hosts")
    else:
        req = body.instance_requirements
        ask = Ask(cores=req.cpu, memory=req.memory, count=body.count, strategy=body.strategy, instance_name=body.instance_name,
                  reserve=body.reserve, zones=tuple(body.zones) if body.zones else None, pool=body.pool, tags=tuple(body.tags),
                  hosts=tuple(body.hosts) if body.hosts is not None else None, max_skew=body.max_skew)
    try:
        answer = service.scheduler.schedule(ask)
    except (UnknownHosts, NoSuitableHost, StoreUnavailable) as exc:  # answered by EXCEPTION_HANDLERS; counted (and logged) here
        service.schedules.inc(result=_schedule_result(exc))
        if isinstance(exc, StoreUnavailable):
            log(LOG, logging.ERROR, "reservation store unavailable", event="schedule", result="unavailable", error=str(exc))
        raise
    service.schedules.inc(result="scheduled")
    name = answer["host"]
    if isinstance(body, FlatScheduleBody):
        # shoes-lxd-multi takes the target whose address equals this string (server/pkg/api/pool.go, selectHostUsingScheduler).
        return {**answer, "host": spelled.get(name) or service.scheduler.address(name), "name": name}
    return {**answer, "name": name}


@router.get("/scheduled-resources", responses={503: ERRORS[503]})
def scheduled_resources(service: ServiceDep) -> dict[str, Any]:
    """The active reservations per server address, in the shape of shoes-lxd-multi's scheduler (memory in bytes)."""
    resources: dict[str, list[dict[str, Any]]] = {}
    stats: dict[str, dict[str, Any]] = {}
    for item in sorted(service.store.active(), key=lambda r: r.created):
        address = service.scheduler.address(item.host)
        resources.setdefault(address, []).append({"cpu": item.cores, "memory": item.memory * MIB, "time": rfc3339_nano(item.created)})
        row = stats.setdefault(address, {"host_name": address, "total_cpu": 0, "total_memory": 0, "count": 0,
                                         "oldest_request": rfc3339_nano(item.created)})
        row["total_cpu"] += item.cores
        row["total_memory"] += item.memory * MIB
        row["count"] += 1
    return {"resources": resources, "stats": stats}


@router.get("/hosts", responses={503: ERRORS[503]})
def hosts(service: ServiceDep) -> dict[str, Any]:
    """Every LXD server: capacity, allocation, reservations, room left, reachability."""
    return service.scheduler.report()


@router.get("/reservations", responses={503: ERRORS[503]})
def reservations(service: ServiceDep) -> dict[str, Any]:
    """Active reservations."""
    return {"reservations": [item.as_dict() for item in service.store.active()], "store": service.store.kind}


@router.delete("/reservations/{reservation_id}", status_code=204, responses={404: {"model": ErrorBody}, 503: ERRORS[503]})
def release(reservation_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="reservation id")], service: ServiceDep):
    """End a reservation early (the instance was created, or the caller gave up)."""
    if not service.store.release([reservation_id]):
        return JSONResponse({"error": f"no active reservation {reservation_id}"}, status_code=404)
    log(LOG, logging.INFO, "reservation released", event="release", reservation=reservation_id)
    return Response(status_code=204)


@router.get("/healthz")
def healthz(service: ServiceDep):
    """Liveness and readiness: the process answers and the reservation store works (no LXD read)."""
    states = service.inventory.cached()
    body = {"status": "ok", "store": service.store.kind, "hosts_configured": len(service.inventory.names),
            "hosts_up": sum(state.ok for state in states), "hosts_down": sum(not state.ok for state in states)}
    try:
        service.store.check()
    except StoreUnavailable as exc:  # not an error answer: the health report itself, with status "error"
        body.update(status="error", error=str(exc))
        return JSONResponse(body, status_code=503)
    return body


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(service: ServiceDep):
    """Prometheus metrics (text format 0.0.4)."""
    return PlainTextResponse(service.metrics.render(), media_type=CONTENT_TYPE)


# --- the application -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    service = app.state.service
    settings = service.settings
    log(LOG, logging.INFO, "scheduler started", event="start", hosts=service.inventory.names, store=service.store.kind,
        strategy=settings.strategy, cache_ttl=settings.cache_ttl, reservation_ttl=settings.reservation_ttl,
        auth="api-key" if settings.api_keys else "none", mtls=bool(settings.tls and settings.tls.client_ca))
    unverified = settings.unverified_hosts()
    if unverified:
        log(LOG, logging.WARNING, "LXD server certificates are NOT verified (lxd_insecure_skip_verify): anyone who can intercept "
            "the connection can impersonate these servers; set server_cert or ca_cert per host to verify them",
            event="tls_insecure", hosts=unverified)
    yield
    service.close()


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, without FastAPI's 422 answers (validation errors are answered with 400)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(settings: Settings, inventory: Inventory | None = None, store: ReservationStore | None = None) -> FastAPI:
    """Build the ASGI application (``inventory``/``store`` default to the configured ones)."""
    service = Service(settings, inventory, store)
    app = FastAPI(title="lxd-multi-scheduler", version=__version__, lifespan=_lifespan, exception_handlers=EXCEPTION_HANDLERS,
                  description="Chooses which LXD server takes a new instance; see docs/lxd-multi-scheduler.md.")
    app.state.service = service
    app.add_middleware(_ApiKeyGate, service=service)
    app.add_middleware(_AccessLog, service=service)  # added last, so outermost: it also logs and counts the gate's 401s
    app.include_router(router)
    app.openapi = functools.partial(_openapi, app)
    return app
