package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// followLogs is `tenantform logs -f`: the run's output from its start, as
// the reconciler appends it, until the run ends; then its outcome on
// stderr. It follows through the API's stream (GET …/log?watch=true),
// which the database's notifications drive: nothing polls.
func (cc *clientCommand) followLogs(ctx context.Context, stdout, stderr io.Writer, project string, run clientRun) error {
	fmt.Fprintf(stderr, "run %d: %s of generation %d, %s\n", run.ID, run.Operation, run.Generation, run.Outcome)
	var last string
	end, err := cc.c.FollowRunLog(ctx, cc.c.user, project, run.ID, 0, func(text string) error {
		if text != "" {
			last = text
		}
		_, err := io.WriteString(stdout, text)
		return err
	})
	if err != nil {
		return err
	}
	if end.Outcome == "" { // interrupted (Ctrl-C)
		return nil
	}
	if last != "" && !strings.HasSuffix(last, "\n") {
		io.WriteString(stdout, "\n")
	}
	fmt.Fprintf(stderr, "run %d ended: %s\n", run.ID, end.Outcome)
	if end.Error != "" {
		fmt.Fprintf(stderr, "error: %s\n", end.Error)
	}
	return nil
}
