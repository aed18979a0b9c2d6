# The terraform providers tenantform runs, and nothing else: the dependency
# lock file the engine writes into every project's work directory (over any
# other), so that `terraform init` installs exactly these versions and
# checks the packages against these hashes. The Dockerfile builds its
# provider mirror from this file; change a version here and the image, the
# policy (a tenant's version constraint must admit the version) and the
# engine follow.
#
# hashicorp/aws: h1 hash of the linux_amd64 package, computed with
#   terraform providers lock -fs-mirror=/opt/tf-plugins -platform=linux_amd64
# (it is also the hash HashiCorp's signed release gives).
#
# hashicorp/random and hashicorp/archive: exact versions without hashes.
# Their packages could not be fetched where this file was written (no
# registry access); terraform verifies HashiCorp's signature on them when
# it installs them and records nothing it was not asked to. Add their h1
# hashes with `terraform providers lock -platform=linux_amd64` on a machine
# with registry access.

provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.100.0"
  constraints = "5.100.0"
  hashes = [
    "h1:edXOJWE4ORX8Fm+dpVpICzMZJat4AX0VRCAy/xkcOc0=",
  ]
}

provider "registry.terraform.io/hashicorp/random" {
  version     = "3.7.2"
  constraints = "3.7.2"
}

provider "registry.terraform.io/hashicorp/archive" {
  version     = "2.7.1"
  constraints = "2.7.1"
}
