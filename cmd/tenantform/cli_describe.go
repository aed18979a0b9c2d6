package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// describeRuns is how many of the newest runs describe lists.
const describeRuns = 5

// projectsDescribe is `tenantform projects describe NAME`, as kubectl
// describe: everything an operator needs to understand one project on one
// screen — status, conditions, the plan awaiting approval, reservations,
// the latest runs and the last error in full.
func projectsDescribe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects describe", "projects describe NAME", stderr, getenv)
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	name := cc.args[0]
	var p describedProject
	raw, err := cc.c.getJSON(ctx, cc.c.projectPath(name), &p)
	if err != nil {
		return err
	}
	if cc.c.document() {
		return printDocument(stdout, cc.c.output, raw)
	}
	var runs struct {
		Items []clientRun `json:"items"`
	}
	if _, err := cc.c.getJSON(ctx, cc.c.projectPath(name, "runs")+fmt.Sprintf("?limit=%d", describeRuns), &runs); err != nil {
		return err
	}
	return printDescription(stdout, p, runs.Items, time.Now())
}

// describedProject is clientProject with what describe adds.
type describedProject struct {
	clientProject
	Spec struct {
		Region            string  `json:"region"`
		TTLMinutes        int     `json:"ttlMinutes"`
		MaxMonthlyCostUSD float64 `json:"maxMonthlyCostUSD"`
		RequireApproval   bool    `json:"requireApproval"`
		Files             map[string]string
	} `json:"spec"`
	Status struct {
		clientStatus
		Outputs       map[string]any `json:"outputs"`
		LastAppliedAt *time.Time     `json:"lastAppliedAt"`
	} `json:"status"`
}

func printDescription(out io.Writer, p describedProject, runs []clientRun, now time.Time) error {
	st := p.Status
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s/%s\n", p.UserID, p.ProjectID)
	fmt.Fprintf(w, "Phase:\t%s%s\n", st.Phase, phaseNote(st.Phase, st.NextAttemptAt, now))
	fmt.Fprintf(w, "Generation:\t%d (observed %d)\n", p.Generation, st.ObservedGeneration)
	fmt.Fprintf(w, "Region:\t%s\n", p.Spec.Region)
	fmt.Fprintf(w, "Created:\t%s (%s ago)\n", p.CreatedAt.Local().Format(time.DateTime), now.Sub(p.CreatedAt).Round(time.Second))
	fmt.Fprintf(w, "Expires:\t%s (%s)\n", p.ExpiresAt.Local().Format(time.DateTime), expiresIn(p.ExpiresAt, now))
	if p.DeletionRequestedAt != nil {
		fmt.Fprintf(w, "Deletion requested:\t%s\n", p.DeletionRequestedAt.Local().Format(time.DateTime))
	}
	fmt.Fprintf(w, "Resources:\t%d\n", st.ResourceCount)
	fmt.Fprintf(w, "Cost:\t$%.2f/month of a $%.2f ceiling\n", st.EstimatedMonthlyCostUSD, p.Spec.MaxMonthlyCostUSD)
	fmt.Fprintf(w, "Reserved:\t%d resources, $%.2f/month\n", st.ReservedResources, st.ReservedMonthlyCostUSD)
	switch {
	case st.PendingPlanRun != 0:
		fmt.Fprintf(w, "Awaiting approval:\trun %d (tenantform projects approve %s --run %d)\n", st.PendingPlanRun, p.ProjectID, st.PendingPlanRun)
	case p.Spec.RequireApproval:
		fmt.Fprintf(w, "Awaiting approval:\tnothing (every plan waits for approval)\n")
	}
	if st.Attempts > 0 && st.NextAttemptAt != nil {
		fmt.Fprintf(w, "Retrying:\tattempt %d failed; next at %s\n", st.Attempts, st.NextAttemptAt.Local().Format(time.DateTime))
	}
	if st.Message != "" {
		fmt.Fprintf(w, "Message:\t%s\n", st.Message)
	}
	if err := w.Flush(); err != nil {
		return err
	}

	if len(st.Conditions) > 0 {
		fmt.Fprintln(out, "\nConditions:")
		cw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(cw, "  TYPE\tSTATUS\tREASON\tMESSAGE")
		for _, c := range st.Conditions {
			fmt.Fprintf(cw, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, truncateText(firstLine(c.Message), 100))
		}
		cw.Flush()
	}
	if len(st.Outputs) > 0 {
		names := make([]string, 0, len(st.Outputs))
		for n := range st.Outputs {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(out, "\nOutputs: %s\n", strings.Join(names, ", "))
	}
	fmt.Fprintln(out, "\nLatest runs:")
	if len(runs) == 0 {
		fmt.Fprintln(out, "  none yet")
	} else {
		rw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(rw, "  RUN\tOPERATION\tOUTCOME\tGENERATION\tSTARTED\tERROR")
		for _, r := range runs {
			fmt.Fprintf(rw, "  %d\t%s\t%s\t%d\t%s\t%s\n", r.ID, runOperation(r), r.Outcome, r.Generation,
				r.StartedAt.Local().Format(time.DateTime), truncateText(firstLine(r.Error), 80))
		}
		rw.Flush()
	}
	if st.LastError != "" {
		fmt.Fprintf(out, "\nLast error:\n%s\n", st.LastError)
	}
	return nil
}
