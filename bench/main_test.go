//go:build bench

package bench

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/tenantform/tenantform/store/storetest"
)

// The emulator library (imported by the steady-state benchmark) starts
// goroutines at init, which are not the benchmarks' to stop.
func TestMain(m *testing.M) { storetest.Main(m, goleak.IgnoreCurrent()) }
