package awstest

import (
	"github.com/tenantform/tenantform/tf/providers"
)

// ProviderLock is the provider lock of tests that run the test double
// (ProviderMirror): hashicorp/aws at ProviderVersion, without hashes since
// the double is rebuilt by every test binary. Set it as
// tf.Config.ProviderLock; production and tests of the real provider use
// the platform's lock.
func ProviderLock() *providers.Lock {
	l, err := providers.New(providers.Provider{
		Source:  providers.DefaultRegistry + "/hashicorp/aws",
		Version: ProviderVersion,
	})
	if err != nil {
		panic(err)
	}
	return l
}

// MirrorLock is the tf.Config.ProviderLock for the mirror AWSProviderMirror
// returned: nil (the platform's lock) for the real provider, ProviderLock
// for the test double.
func MirrorLock(real bool) *providers.Lock {
	if real {
		return nil
	}
	return ProviderLock()
}
