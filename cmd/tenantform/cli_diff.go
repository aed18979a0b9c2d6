package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tenantform/tenantform/api/client"
)

// projects diff and apply --dry-run: a speculative plan of the spec (POST
// .../plan), waited for, then its changes, cost and verdicts. Nothing is
// applied and the project is not changed (nor created).

// projectsDiff is `projects diff`: apply --dry-run.
func projectsDiff(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return applyOrDiff(ctx, args, stdout, stderr, getenv, true)
}

// errWouldNotApply ends a diff whose verdicts stop the spec: exit 1, as
// apply --watch ends on Blocked.
var errWouldNotApply = errors.New("the spec would not be applied as it is")

// speculate queues a speculative plan of body for the project name, waits
// for it (--interval, --timeout) and prints it.
func speculate(ctx context.Context, cc *clientCommand, name string, body map[string]json.RawMessage, w watchFlags, stdout, stderr io.Writer) error {
	progress := cc.progressOut(stdout, stderr)
	sp, err := cc.c.PlanSpeculative(ctx, cc.c.user, name, body)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "speculative plan %d of %s/%s queued; waiting for a reconciler\n", sp.ID, sp.UserID, sp.ProjectID)
	wctx, cancel := context.WithTimeout(ctx, *w.timeout)
	defer cancel()
	sp, err = cc.c.WaitSpeculativePlan(wctx, cc.c.user, name, sp.ID, *w.interval, func(p client.SpeculativePlan) {
		if p.Outcome == "running" {
			fmt.Fprintf(progress, "speculative plan %d is running\n", p.ID)
		}
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("gave up after --timeout %s: %w", *w.timeout, err)
		}
		return err
	}
	switch cc.c.output {
	case "json", "yaml":
		raw, err := cc.c.getJSON(ctx, client.ProjectPath(cc.c.user, name, "plans", strconv.FormatInt(sp.ID, 10)), nil)
		if err != nil {
			return err
		}
		if err := printDocument(stdout, cc.c.output, raw); err != nil {
			return err
		}
	case "name":
		fmt.Fprintf(stdout, "plan/%s/%s/%d\n", sp.UserID, sp.ProjectID, sp.ID)
	default:
		printSpeculative(stdout, sp)
	}
	return speculativeExit(sp)
}

// speculativeExit is nil when the plan was made and both verdicts let the
// spec through; otherwise an error saying what stops it (exit 1).
func speculativeExit(sp client.SpeculativePlan) error {
	if sp.Outcome == "failed" {
		return fmt.Errorf("speculative plan %d failed: no plan could be made:\n%s", sp.ID, indent(sp.Error))
	}
	if sp.Passes() {
		return nil
	}
	var why []string
	for _, v := range []*client.Verdict{sp.Policy, sp.Admission} {
		if v != nil && v.Verdict != "passed" && v.Verdict != "admitted" && v.Verdict != "notEvaluated" {
			why = append(why, v.Message)
		}
	}
	return fmt.Errorf("%w:\n%s", errWouldNotApply, indent(strings.Join(why, "\n")))
}

// changeSymbols are terraform's own marks for each action.
var changeSymbols = map[string]string{"create": "+", "update": "~", "replace": "-/+", "delete": "-", "read": "<="}

// printSpeculative prints a finished speculative plan as a table would:
// the changes, one address a line, then the cost and the verdicts.
func printSpeculative(out io.Writer, sp client.SpeculativePlan) {
	where := "a new project: planned from nothing"
	if sp.RunID != 0 {
		where = fmt.Sprintf("compared with generation %d; run %d of the project", sp.Generation, sp.RunID)
	}
	fmt.Fprintf(out, "speculative plan %d of %s/%s (%s): %s\n", sp.ID, sp.UserID, sp.ProjectID, where, sp.Outcome)
	if sp.Outcome == "failed" {
		fmt.Fprintf(out, "error:\n%s\n", indent(sp.Error))
		return
	}
	for _, c := range sp.Changes {
		fmt.Fprintf(out, "  %3s %s\n", changeSymbols[c.Action], c.Address)
	}
	if sp.ChangesOmitted > 0 {
		fmt.Fprintf(out, "  … and %d more\n", sp.ChangesOmitted)
	}
	fmt.Fprintf(out, "plan: %d to add, %d to change, %d to destroy\n", sp.Add, sp.Change, sp.Destroy)
	if sp.EstimatedMonthlyCostUSD != nil {
		fmt.Fprintf(out, "cost: about $%.2f/month\n", *sp.EstimatedMonthlyCostUSD)
	}
	for _, v := range []struct {
		label string
		v     *client.Verdict
	}{{"admission", sp.Admission}, {"policy", sp.Policy}} {
		if v.v == nil {
			continue
		}
		lines := strings.SplitN(v.v.Message, "\n", 2)
		fmt.Fprintf(out, "%s: %s\n", v.label, lines[0])
		if len(lines) == 2 {
			fmt.Fprintln(out, indent(lines[1]))
		}
	}
	fmt.Fprintln(out, "nothing was applied (a speculative plan)")
}

// runOperation is a run's operation as the run tables show it: a
// speculative plan is marked, since it applied nothing.
func runOperation(r clientRun) string {
	if r.Kind == "speculative" {
		return r.Operation + " (speculative)"
	}
	return r.Operation
}
