//go:build !tenantform_testdouble

package providers

import _ "embed"

// platformLockFile is the lock every tenantform binary ships.
//
//go:embed providers.lock.hcl
var platformLockFile []byte
