package tf

import (
	"os/exec"
	"testing"
	"time"

	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/tf/supervisor"
)

// BenchmarkSupervisorStart times one command through each supervisor, the
// command being /bin/true: what the supervisor adds to every terraform
// command. "tenantform" is the server binary re-executed (the engine's
// fallback), built here like the separate one; "sh" is the /bin/sh hop
// alone, which both include.
//
//	go test ./tf -run '^$' -bench SupervisorStart -benchtime 200x -count 5
func BenchmarkSupervisorStart(b *testing.B) {
	server := awstest.GoBuild(b, b.TempDir(), "github.com/tenantform/tenantform/cmd/tenantform", "tenantform")
	separate := buildSupervisor(b)
	b.Run("sh", func(b *testing.B) {
		for b.Loop() {
			if out, err := exec.Command("/bin/sh", "-c", `exec "$0"`, "/bin/true").CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
	for _, c := range []struct{ name, bin string }{{SupervisorBinary, separate}, {"tenantform", server}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				cmd := runHelpersWith(b, c.bin, supervisor.Spec{Terraform: "/bin/true", Grace: time.Second}, nil)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}
