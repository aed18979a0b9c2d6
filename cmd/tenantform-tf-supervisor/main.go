// Command tenantform-tf-supervisor is the process the tenantform engine
// starts every terraform command through (package tf/supervisor: limits,
// sandbox, and no terraform or provider outliving the reconciler). Install
// it beside the tenantform binary; the engine finds it there. Without it
// the engine re-executes tenantform itself, which works the same but
// starts about twice as slowly (15 ms against 7 ms per command), since
// tenantform links far more.
//
// It is not meant to be run by hand: the engine passes its instructions in
// the TENANTFORM_TF_SUPERVISE environment variable.
package main

import (
	"fmt"
	"os"

	"github.com/tenantform/tenantform/tf/supervisor"
)

func main() {
	supervisor.RunIfAsked()
	fmt.Fprintf(os.Stderr, "tenantform-tf-supervisor: started without %s; the tenantform engine runs this program, not a person\n", supervisor.Env)
	os.Exit(2)
}
