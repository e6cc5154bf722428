# The gateway image: one image, every role (serve, api, worker, migrate, seed) chosen by the
# command. The package is installed without its test extras; the process runs as an
# unprivileged user. docker-compose.yml shows the roles wired together.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Two glibc malloc arenas per process, not 8 per core: the gateway's threads (shard actors,
# publisher, pools) each got one under load, and each arena keeps free memory the others cannot
# reuse (paystate/supervisor.py sets the same for its children when this is unset).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app

# The version is read from paystate/__init__.py, so the package sources come before the install.
COPY pyproject.toml README.md ./
COPY paystate ./paystate
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin paystate

USER 10001:10001

# Inside a container the gateway listens on every interface (outside one it defaults to
# loopback); publish the port you want with `-p` or the compose file.
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000

# /health answers 200 only when PostgreSQL, Redis and a worker heartbeat are all fine. A
# worker container has no HTTP server: docker-compose.yml gives it a heartbeat check instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=2)"]

# `serve` applies the migrations and seeds nothing: no account with public credentials exists
# unless the container is given SEED_TEST_MERCHANT=true (or TEST_MODE=true) and `seed` is run
# with it (README "First run"); neither is set here.
ENTRYPOINT ["python", "-m", "paystate"]
CMD ["serve"]
