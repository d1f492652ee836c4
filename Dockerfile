# syntax=docker/dockerfile:1
#
# Astro Plane: one image with both binaries (and, with --target agent, the agent's own).
# The api is the default entrypoint; run the worker with
# `--entrypoint /usr/local/bin/worker` (docker-compose.yml does).
# Configuration is by ASTRO_* environment variables (see the README).

# ---- build ------------------------------------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV GOFLAGS=-buildvcs=false \
    CGO_ENABLED=0

# Module downloads get their own layer: it is rebuilt only when go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/api ./cmd/api && \
    go build -trimpath -ldflags="-s -w" -o /out/worker ./cmd/worker && \
    go build -trimpath -ldflags="-s -w" -o /out/astro-agent ./cmd/agent

# ---- agent ------------------------------------------------------------------
# The registered clusters' agent (docs/registered-clusters.md), its own small image:
# docker build --target agent -t ghcr.io/astropulse/astro-agent:TAG . (ASTRO_AGENT_IMAGE).
# It never listens; its install manifest runs it as non-root with a read-only root.
FROM gcr.io/distroless/static-debian12:nonroot AS agent
COPY --from=build /out/astro-agent /usr/local/bin/astro-agent
USER nonroot
ENTRYPOINT ["/usr/local/bin/astro-agent"]

# ---- runtime (the default target) -------------------------------------------
# Static binaries (CGO_ENABLED=0, pure-Go SQLite and pgx), so distroless/static is
# enough: CA certificates and tzdata, no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/api /out/worker /usr/local/bin/
# A writable working directory, so the sqlite:// default of ASTRO_DATABASE_URL works
# when the image is run on its own (docker-compose.yml uses PostgreSQL).
WORKDIR /home/nonroot
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/api"]
