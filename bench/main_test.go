//go:build bench

package bench

import (
	"testing"

	"github.com/tenantform/tenantform/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }
