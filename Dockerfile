# syntax=docker/dockerfile:1
#
# tenantform with a pinned, checksum-verified Terraform beside it.
#   docker build -t tenantform .
#   docker run -e DATABASE_URL=... -e JWT_SECRET=... -p 5001:5001 tenantform          # API
#   docker run -e DATABASE_URL=... -e JWT_SECRET=... tenantform reconcile             # reconciler

# The Terraform release shipped in the image, and the SHA256 of its zip per
# architecture, from HashiCorp's terraform_<version>_SHA256SUMS. Change them
# together (and keep TF_VERSION's default in cmd/tenantform in step).
ARG TERRAFORM_VERSION=1.11.4
ARG TERRAFORM_SHA256_AMD64=1ce994251c00281d6845f0f268637ba50c0005657eb3cf096b92f753b42ef4dc
ARG TERRAFORM_SHA256_ARM64=a43d1d0da9b9bab214a8305a39db0e40869572594ccf50c416a7756499143633

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
# Static (no cgo): the runtime image needs no C library beyond its own.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tenantform ./cmd/tenantform

FROM debian:trixie-slim AS terraform
ARG TERRAFORM_VERSION
ARG TERRAFORM_SHA256_AMD64
ARG TERRAFORM_SHA256_ARM64
ARG TARGETARCH
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl unzip \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    arch="${TARGETARCH:-amd64}"; \
    case "$arch" in \
      amd64) sum="$TERRAFORM_SHA256_AMD64" ;; \
      arm64) sum="$TERRAFORM_SHA256_ARM64" ;; \
      *) echo "no Terraform checksum pinned for $arch" >&2; exit 1 ;; \
    esac; \
    curl -fsSLo /tmp/terraform.zip "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_${arch}.zip"; \
    echo "$sum  /tmp/terraform.zip" | sha256sum -c -; \
    mkdir /out; \
    unzip -q -d /out /tmp/terraform.zip terraform; \
    /out/terraform version

FROM debian:trixie-slim
# ca-certificates: TLS to Postgres, AWS and provider registries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/tenantform --create-home --shell /usr/sbin/nologin tenantform
COPY --from=terraform /out/terraform /usr/local/bin/terraform
COPY --from=build /out/tenantform /usr/local/bin/tenantform
USER tenantform
# TF_PATH: use the shipped terraform, never download another.
# TENANTFORM_DATA_DIR: terraform work directories (a cache); mount a volume
# to keep the provider cache across restarts.
ENV TF_PATH=/usr/local/bin/terraform \
    TENANTFORM_DATA_DIR=/var/lib/tenantform \
    PORT=5001
WORKDIR /var/lib/tenantform
EXPOSE 5001
ENTRYPOINT ["tenantform"]
CMD ["serve"]
