# syntax=docker/dockerfile:1
#
# Astro Plane: one image with both binaries. The api is the default entrypoint; run
# the worker with `--entrypoint /usr/local/bin/worker` (docker-compose.yml does).
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
    go build -trimpath -ldflags="-s -w" -o /out/worker ./cmd/worker

# ---- runtime ----------------------------------------------------------------
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
