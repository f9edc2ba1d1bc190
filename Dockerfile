# syntax=docker/dockerfile:1

# usersvc container image: one static binary on distroless, run as nonroot.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse --short HEAD) -t usersvc .
#   docker run --rm -p 8080:8080 usersvc
#
# Migrations (both dialects) and the docs page are embedded in the binary, so
# the final stage holds nothing else. scripts/build-check runs the `go build`
# below outside Docker and checks it agrees with `make build`; keep the
# command on its own lines after the --mount options so it can find it.

# ---- build ------------------------------------------------------------------
# Runs on the build machine's platform and cross-compiles (no cgo), so a
# multi-platform build does not emulate the compiler. The image tags are
# written out (no ARG) so that Dependabot can update them.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# The data directory, owned by the distroless nonroot user (65532) when copied
# below, so that the embedded SQLite database and the generated development
# JWT secret can be written even without a volume. A named volume mounted on
# /data starts as a copy of this directory and keeps its ownership and mode:
# 0700, only usersvc may look inside (the database files are 0600 too).
RUN mkdir -p -m 0700 /out/data

# Dependencies first: this layer stays cached until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY cmd ./cmd
COPY internal ./internal

ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
    -o /out/usersvc ./cmd/usersvc

# ---- runtime ----------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="usersvc" \
      org.opencontainers.image.description="User-management microservice: registration, OAuth2 password-grant login issuing JWTs, self-service accounts" \
      org.opencontainers.image.source="https://github.com/usersvc/usersvc" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"

COPY --from=build /out/usersvc /usersvc
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /data

# Writable state lives only in /data: the SQLite database (when DATABASE_URL
# is empty) and the development JWT secret (when USERSVC_JWT_SECRET is
# unset). Mount a volume there to keep it across containers
# (`-v usersvc-data:/data`). With PostgreSQL and a configured secret, as in
# production, nothing is written and the root filesystem can be read-only.
ENV USERSVC_DATA_DIR=/data

USER nonroot:nonroot
# The public port. The operations listener (/metrics, /version;
# USERSVC_OPS_ADDR) defaults to the container's loopback, 127.0.0.1:9090:
# publish it only to a private network (see docker-compose.yml).
EXPOSE 8080

# `usersvc healthcheck` GETs /healthz on the configured address and exits 0
# on 200: no shell or curl needed in a distroless image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usersvc", "healthcheck"]

ENTRYPOINT ["/usersvc"]
CMD ["serve"]
