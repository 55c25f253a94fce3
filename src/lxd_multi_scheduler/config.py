"""Configuration: environment variables, an optional YAML/JSON file, command-line flags.

Precedence, highest first: command line, environment, configuration file, defaults.

Environment:

- ``LXD_MULTI_HOSTS``: JSON array of ``{"host": "https://10.0.0.1:8443", "client_cert": PATH,
  "client_key": PATH}`` (the format of shoes-lxd-multi's server), optionally with the extra keys
  of :class:`HostConfig`. When set it replaces ``hosts`` of the file.
- ``LXD_MULTI_SCHEDULER_PORT`` (default 8080; when it is not set, ``PORT``, which the scheduler of
  shoes-lxd-multi's branch ``feat/add-lxd-scheduler`` reads), ``LXD_MULTI_SCHEDULER_BIND`` (default 127.0.0.1).
- ``LXD_MULTI_SCHEDULER_LXD_INSECURE_SKIP_VERIFY``: ``true`` connects to the LXD servers that have
  neither ``server_cert`` nor ``ca_cert`` without verifying their certificate, as shoes-lxd-multi does
  (an explicit opt-in, logged as a warning at start; see docs/lxd-multi-scheduler.md).
- ``LXD_MULTI_SCHEDULER_CONFIG``: path of the configuration file.
- ``LXD_MULTI_SCHEDULER_API_KEYS``: comma-separated API keys (added to ``api_keys`` of the file).
- ``REDIS_URL``: keep reservations in Redis (shared by several replicas).
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from lxdcp_maas_core.errors import shown_path
from lxdcp_maas_core.placement import core as placement

ENV_HOSTS = "LXD_MULTI_HOSTS"
ENV_PORT = "LXD_MULTI_SCHEDULER_PORT"
ENV_PORT_FALLBACK = "PORT"  # what the scheduler of shoes-lxd-multi's feat/add-lxd-scheduler branch reads
ENV_INSECURE = "LXD_MULTI_SCHEDULER_LXD_INSECURE_SKIP_VERIFY"
ENV_BIND = "LXD_MULTI_SCHEDULER_BIND"
ENV_CONFIG = "LXD_MULTI_SCHEDULER_CONFIG"
ENV_API_KEYS = "LXD_MULTI_SCHEDULER_API_KEYS"
ENV_REDIS = "REDIS_URL"

DEFAULT_STRATEGY = "least-allocated-cpu"

Ratio = Annotated[float, Field(gt=0, le=100)]


class ConfigError(Exception):
    """The configuration is invalid; the message names the setting and where it came from."""


def check_strategy(value: str) -> str:
    """``value`` if it names a strategy of the placement core; else ValueError (for the settings and the API)."""
    if value not in placement.STRATEGIES:
        raise ValueError(f"unknown strategy {value!r}; known: {', '.join(sorted(placement.STRATEGIES))}")
    return value


def _readable_file(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    # A key given inline (PEM text instead of a path) is not repeated in the message.
    if not os.path.isfile(value):
        raise ValueError(f"{what} file not found: {shown_path(value)}")
    if not os.access(value, os.R_OK):
        raise ValueError(f"{what} file is not readable: {shown_path(value)}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HostConfig(_Model):
    """One LXD server. ``host``, ``client_cert`` and ``client_key`` are the shoes-lxd-multi keys."""

    host: str = Field(description="URL of the LXD API, kept as written: the flat /schedule body names hosts by it")
    client_cert: str
    client_key: str
    name: str | None = Field(None, description="name answered by /schedule (default: the host URL)")
    server_cert: str | None = Field(None, description="pin this server certificate (hostname not checked)")
    ca_cert: str | None = Field(None, description="CA bundle to verify the server (hostname checked)")
    cpu_over_commit: Ratio | None = None
    memory_over_commit: Ratio | None = None
    zone: str = "default"
    pool: str = "default"
    tags: tuple[str, ...] = ()
    # Read by lxdcp.maas's direct mode (the NIC's bridge, the LXD project of its VMs), so that one LXD_MULTI_HOSTS list
    # serves the collection and the scheduler; the scheduler itself does not use them.
    bridge: str | None = None
    project: str | None = None

    @field_validator("host")
    @classmethod
    def _https_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url.startswith("https://") or len(url) <= len("https://"):
            raise ValueError(f"must be an https:// URL of the LXD API, e.g. https://10.0.0.1:8443 (got {value!r})")
        return value  # as written: shoes-lxd-multi names its hosts by this exact string

    @field_validator("client_cert", "client_key", "server_cert", "ca_cert")
    @classmethod
    def _files(cls, value, info):
        return _readable_file(value, info.field_name)

    @model_validator(mode="after")
    def _one_trust_anchor(self):
        if self.server_cert and self.ca_cert:
            raise ValueError("set server_cert (pin the server certificate) or ca_cert (verify against a CA), not both")
        return self

    @property
    def label(self) -> str:
        """The name this host is known by in answers, logs and metrics (default: its URL)."""
        return self.name or self.url

    @property
    def url(self) -> str:
        """The LXD API URL to connect to (``host`` without surrounding blanks and trailing slash)."""
        return normalize_address(self.host)

    @property
    def has_trust_anchor(self) -> bool:
        """True when ``server_cert`` or ``ca_cert`` says how to verify this server."""
        return bool(self.server_cert or self.ca_cert)


def normalize_address(address: str) -> str:
    """An LXD API address compared loosely: no surrounding blanks, no trailing slash."""
    return address.strip().rstrip("/")


class TlsConfig(_Model):
    """HTTPS for the scheduler itself; ``client_ca`` turns on mutual TLS (client certificate required)."""

    cert: str
    key: str
    client_ca: str | None = None

    @field_validator("cert", "key", "client_ca")
    @classmethod
    def _files(cls, value, info):
        return _readable_file(value, f"tls.{info.field_name}")


class ContainerDefaults(_Model):
    """What a container without ``limits.cpu`` / ``limits.memory`` counts as."""

    cpu: int = Field(0, ge=0)
    memory: int = Field(0, ge=0, description="MiB")


class Settings(_Model):
    """Everything the service needs; built by :func:`load_settings`."""

    hosts: tuple[HostConfig, ...] = ()
    bind: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    cache_ttl: float = Field(5.0, ge=0, description="seconds a read of an LXD server is reused")
    lxd_timeout: float = Field(5.0, gt=0, description="seconds for each LXD API call")
    cpu_over_commit: Ratio = 1.0
    memory_over_commit: Ratio = 1.0
    strategy: str = DEFAULT_STRATEGY
    reservation_ttl: float = Field(60.0, ge=0, description="seconds a reservation counts; 0 disables reservations")
    redis_url: SecretStr | None = None
    redis_prefix: str = "lxd-multi-scheduler"
    api_keys: tuple[SecretStr, ...] = ()
    tls: TlsConfig | None = None
    container_without_limits: ContainerDefaults = ContainerDefaults()
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    lxd_insecure_skip_verify: bool = Field(
        False, description="connect to the LXD servers without server_cert/ca_cert without verifying their certificate "
                           "(what shoes-lxd-multi does); off by default, logged as a warning at start")

    def unverified_hosts(self) -> list[str]:
        """Names of the LXD servers whose certificate is not verified (empty unless the opt-in is set)."""
        if not self.lxd_insecure_skip_verify:
            return []
        return [host.label for host in self.hosts if not host.has_trust_anchor]

    @field_validator("hosts")
    @classmethod
    def _unique_names(cls, hosts):
        seen: set[str] = set()
        for host in hosts:
            if host.label in seen:
                raise ValueError(f"two hosts are named {host.label!r}; give each a distinct 'name'")
            seen.add(host.label)
        return hosts

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value):
        return check_strategy(value)

    @field_validator("api_keys")
    @classmethod
    def _non_empty_keys(cls, keys):
        if any(not key.get_secret_value() for key in keys):
            raise ValueError("an API key is empty")
        return keys

    @model_validator(mode="after")
    def _reservations_outlive_cached_reads(self):
        # A decision may use a read up to two cache TTLs old (see inventory.py). A reservation that
        # ends sooner can stop counting while a decision still uses a read without its instance.
        if 0 < self.reservation_ttl <= 2 * self.cache_ttl:
            raise ValueError(f"reservation_ttl ({self.reservation_ttl:g} s) must be longer than twice cache_ttl "
                             f"({2 * self.cache_ttl:g} s) plus the time an instance takes to be created: decisions may use a read "
                             "of LXD that old, and a reservation that ended sooner would not be counted by them")
        return self


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {path} is not valid YAML/JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path} must hold a mapping, not a {type(data).__name__}")
    return data


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        lines.append(f"{where}: {message}")
    return f"invalid configuration ({source}): " + "; ".join(lines)


def load_settings(config_path: str | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from a file, the environment and explicit overrides (flags)."""
    env = os.environ if env is None else env
    path = config_path or env.get(ENV_CONFIG)
    data: dict[str, Any] = _read_file(path) if path else {}
    sources = [f"file {path}"] if path else []
    if env.get(ENV_HOSTS):
        try:
            data["hosts"] = json.loads(env[ENV_HOSTS])
        except ValueError as exc:
            raise ConfigError(f"{ENV_HOSTS} is not valid JSON: {exc}") from None
        if not isinstance(data["hosts"], list):
            raise ConfigError(f"{ENV_HOSTS} must be a JSON array of hosts")
        sources.append(ENV_HOSTS)
    if not env.get(ENV_PORT) and env.get(ENV_PORT_FALLBACK):
        data["port"] = env[ENV_PORT_FALLBACK]
        sources.append(ENV_PORT_FALLBACK)
    for name, key in ((ENV_PORT, "port"), (ENV_BIND, "bind"), (ENV_REDIS, "redis_url"), (ENV_INSECURE, "lxd_insecure_skip_verify")):
        if env.get(name):
            data[key] = env[name]
            sources.append(name)
    if env.get(ENV_API_KEYS):
        data["api_keys"] = list(data.get("api_keys") or []) + [k.strip() for k in env[ENV_API_KEYS].split(",") if k.strip()]
        sources.append(ENV_API_KEYS)
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, ", ".join(sources) or "defaults")) from None
    if not settings.hosts:
        raise ConfigError(f"no LXD server configured: set {ENV_HOSTS} or 'hosts' in the configuration file")
    return settings
