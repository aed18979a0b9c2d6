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
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tenantform ./cmd/tenantform \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/tenantform-tf-supervisor ./cmd/tenantform-tf-supervisor

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

# The providers tenantform runs, as a filesystem mirror, from the same lock
# file the engine writes into every work directory (tf/providers): terraform
# downloads exactly the locked versions from the registry, checks
# HashiCorp's signature, and for providers whose hashes the lock lists
# (hashicorp/aws, linux_amd64) checks the package against them: a
# package that does not match fails the build. The resulting mirror
# (registry.terraform.io/hashicorp/<type>/<version>/<os_arch>/, unpacked) is
# all a container needs: it never asks a registry at run time.
#
# The lock holds the linux_amd64 hash of hashicorp/aws only: an arm64 build
# fails here until the lock gets that platform's hash too
# (terraform providers lock -platform=linux_arm64), which is what a
# checksum is for.
FROM terraform AS providers
COPY tf/providers/providers.lock.hcl /providers/.terraform.lock.hcl
WORKDIR /providers
# One required_providers entry per locked provider, at its exact version;
# -lockfile=readonly: the lock decides, init may not change its choices.
RUN set -eu; \
    { echo 'terraform {'; echo '  required_providers {'; \
      awk -F'"' '/^provider "/ { src=$2; n=split(src, p, "/"); name=p[n] } \
                 /^  version/ { printf "    %s = { source = \"%s\", version = \"%s\" }\n", name, src, $2 }' .terraform.lock.hcl; \
      echo '  }'; echo '}'; } > main.tf; \
    cat main.tf; \
    /out/terraform init -backend=false -input=false -lockfile=readonly; \
    mkdir -p /out/providers; \
    cp -r .terraform/providers/. /out/providers/; \
    find /out/providers -maxdepth 4 -mindepth 4 -type d

FROM debian:trixie-slim
# ca-certificates: TLS to Postgres, AWS and provider registries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/tenantform --create-home --shell /usr/sbin/nologin tenantform
COPY --from=terraform /out/terraform /usr/local/bin/terraform
COPY --from=build /out/tenantform /usr/local/bin/tenantform
# Beside tenantform, where the engine looks for it: every terraform command
# starts through it (tenantform re-executing itself instead is slower).
COPY --from=build /out/tenantform-tf-supervisor /usr/local/bin/tenantform-tf-supervisor
COPY --from=providers /out/providers /usr/local/share/tenantform/providers
USER tenantform
# TF_PATH: use the shipped terraform, never download another.
# TF_PROVIDER_MIRROR: the locked providers baked in above; nothing else is
# installed (the engine writes the same lock into every work directory).
# TENANTFORM_DATA_DIR: terraform work directories (a cache); mount a volume
# to keep the provider cache across restarts.
ENV TF_PATH=/usr/local/bin/terraform \
    TF_PROVIDER_MIRROR=/usr/local/share/tenantform/providers \
    TENANTFORM_DATA_DIR=/var/lib/tenantform \
    PORT=5001
WORKDIR /var/lib/tenantform
EXPOSE 5001
ENTRYPOINT ["tenantform"]
CMD ["serve"]
