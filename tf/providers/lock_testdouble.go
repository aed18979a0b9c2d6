//go:build tenantform_testdouble

package providers

// platformLockFile, in a binary built with -tags tenantform_testdouble
// only: hashicorp/aws at the version of the test double
// (aws/awstest/provider, awstest.ProviderVersion), without hashes since
// the double is rebuilt from source. The crash suite builds its
// tenantform so when it runs the double; no release is ever built with
// the tag.
var platformLockFile = []byte(`
provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.99.0"
  constraints = "5.99.0"
}
`)
