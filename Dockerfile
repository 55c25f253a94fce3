# lxd-multi-scheduler: HTTP scheduling service for several LXD servers.
#
#   docker build -t lxd-multi-scheduler .
#   docker run -p 8080:8080 \
#     -e LXD_MULTI_HOSTS='[{"host": "https://10.0.0.1:8443", "name": "lxd-a", "server_cert": "/certs/lxd-a.crt",
#                          "client_cert": "/certs/client.crt", "client_key": "/certs/client.key"}]' \
#     -e LXD_MULTI_SCHEDULER_API_KEYS=... \
#     -v /path/to/certs:/certs:ro lxd-multi-scheduler
#
# TLS towards LXD is verified by default: give each server "server_cert" (its own certificate, pinned,
# copied from /var/snap/lxd/common/lxd/server.crt or /var/lib/lxd/server.crt) or "ca_cert". Without
# either, the system CA store must vouch for the server's name, which LXD's self-signed certificate
# never passes. A host list taken unchanged from shoes-lxd-multi (which skips verification) needs them
# added, or the explicit opt-in -e LXD_MULTI_SCHEDULER_LXD_INSECURE_SKIP_VERIFY=true (logged as a
# warning): docs/lxd-multi-scheduler.md, "Coming from shoes-lxd-multi". The port is 8080, or
# LXD_MULTI_SCHEDULER_PORT, or PORT (what shoes-lxd-multi's own scheduler image reads).
#
# Configuration: docs/lxd-multi-scheduler.md (environment variables, or a file mounted and named
# by LXD_MULTI_SCHEDULER_CONFIG). Probes: GET /healthz.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the distribution needs: the services and the collection's placement core
# (installed as lxdcp_maas_core), with dependency versions pinned by the project's constraints.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY requirements/constraints.txt requirements/constraints.txt
COPY src/ src/
COPY plugins/module_utils/ plugins/module_utils/
RUN pip install --constraint requirements/constraints.txt . \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin scheduler \
    && rm -rf /build

WORKDIR /
USER 10001:10001
# No LXD_MULTI_SCHEDULER_PORT here: it would hide PORT (the default is 8080 either way).
ENV LXD_MULTI_SCHEDULER_BIND=0.0.0.0
EXPOSE 8080
ENTRYPOINT ["lxd-multi-scheduler"]
