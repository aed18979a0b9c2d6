package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"
)

// printDocument prints an API answer as JSON (indented) or YAML, the way
// kubectl's -o does: the server's document, not the client's reading of it.
func printDocument(out io.Writer, format string, raw []byte) error {
	switch format {
	case "name":
		return printNames(out, raw)
	case "yaml":
		y, err := yaml.JSONToYAML(raw)
		if err != nil {
			return fmt.Errorf("cannot convert the answer to YAML: %w", err)
		}
		_, err = out.Write(y)
		return err
	default:
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return fmt.Errorf("the answer is not JSON: %w", err)
		}
		b.WriteByte('\n')
		_, err := out.Write(b.Bytes())
		return err
	}
}

// printNames prints what -o name shows, as kubectl does: one
// "project/USER/NAME" or "run/USER/NAME/N" a line, for one object or a
// list of them.
func printNames(out io.Writer, raw []byte) error {
	type object struct {
		UserID    string `json:"userId"`
		ProjectID string `json:"projectId"`
		ID        int64  `json:"id"`
		Operation string `json:"operation"`
	}
	var list struct {
		Items []object `json:"items"`
	}
	var one object
	if err := json.Unmarshal(raw, &list); err != nil || list.Items == nil {
		if err := json.Unmarshal(raw, &one); err != nil {
			return fmt.Errorf("the answer is not JSON: %w", err)
		}
		list.Items = []object{one}
	}
	for _, o := range list.Items {
		switch {
		case o.Operation != "":
			fmt.Fprintf(out, "run/%d\n", o.ID)
		case o.ProjectID != "":
			fmt.Fprintf(out, "project/%s/%s\n", o.UserID, o.ProjectID)
		}
	}
	return nil
}

// printProjectTable prints projects as kubectl get does; wide adds the
// region, the plan awaiting approval, the reservation and the age.
func printProjectTable(out io.Writer, ps []clientProject, withUser, wide bool, now time.Time) error {
	sortProjects(ps)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if withUser {
		fmt.Fprint(tw, "USER\t")
	}
	if wide {
		fmt.Fprint(tw, "NAME\tPHASE\tGENERATION\tRESOURCES\tCOST/MONTH\tEXPIRES\tREGION\tAWAITING-APPROVAL\tRESERVED\tAGE\tMESSAGE\n")
	} else {
		fmt.Fprintln(tw, "NAME\tPHASE\tGENERATION\tRESOURCES\tCOST/MONTH\tEXPIRES\tMESSAGE")
	}
	for _, p := range ps {
		if withUser {
			fmt.Fprintf(tw, "%s\t", p.UserID)
		}
		if wide {
			pending := "-"
			if p.Status.PendingPlanRun != 0 {
				pending = fmt.Sprintf("run %d", p.Status.PendingPlanRun)
			}
			msg := p.Status.LastError
			if msg == "" {
				msg = p.Status.Message
			}
			msg = retryPrefix(p.Status.Phase, p.Status.NextAttemptAt, now) + firstLine(msg)
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t$%.2f\t%s\t%s\t%s\t%d, $%.2f\t%s\t%s\n", p.ProjectID, p.Status.Phase,
				p.Status.ObservedGeneration, p.Generation, p.Status.ResourceCount, p.Status.EstimatedMonthlyCostUSD,
				expiresIn(p.ExpiresAt, now), p.Spec.Region, pending, p.Status.ReservedResources, p.Status.ReservedMonthlyCostUSD,
				now.Sub(p.CreatedAt).Round(time.Second), truncateText(firstLine(msg), 160))
			continue
		}
		msg := p.Status.Message
		if cond, ok := p.Status.readyCondition(); ok && msg == "" {
			msg = cond.Message
		}
		if p.Status.LastError != "" {
			msg = p.Status.LastError
		}
		msg = retryPrefix(p.Status.Phase, p.Status.NextAttemptAt, now) + firstLine(msg)
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t$%.2f\t%s\t%s\n", p.ProjectID, p.Status.Phase,
			p.Status.ObservedGeneration, p.Generation, p.Status.ResourceCount, p.Status.EstimatedMonthlyCostUSD,
			expiresIn(p.ExpiresAt, now), truncateText(firstLine(msg), 80))
	}
	return tw.Flush()
}

func expiresIn(t, now time.Time) string {
	if !t.After(now) {
		return "expired"
	}
	return "in " + t.Sub(now).Round(time.Minute).String()
}

const runsUsage = "runs PROJECT [--limit N] [-o table|json|yaml]"

// runRuns is `tenantform runs PROJECT`: the project's runs, newest first.
func runRuns(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("runs", runsUsage, stderr, getenv)
	limit := cc.fs.Int("limit", 20, "how many runs, newest first (at most 500)")
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	var list struct {
		Items []clientRun `json:"items"`
	}
	raw, err := cc.c.getJSON(ctx, cc.c.projectPath(cc.args[0], "runs")+"?limit="+strconv.Itoa(*limit), &list)
	if err != nil {
		return err
	}
	if cc.c.document() {
		return printDocument(stdout, cc.c.output, raw)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tOPERATION\tOUTCOME\tGENERATION\tSTARTED\tDURATION\tCOST/MONTH\tERROR")
	for _, r := range list.Items {
		dur, cost := "-", "-"
		if r.DurationSeconds != nil {
			dur = (time.Duration(*r.DurationSeconds * float64(time.Second))).Round(100 * time.Millisecond).String()
		}
		if r.EstimatedMonthlyCostUSD != nil {
			cost = fmt.Sprintf("$%.2f", *r.EstimatedMonthlyCostUSD)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, runOperation(r), r.Outcome, r.Generation,
			r.StartedAt.Local().Format(time.DateTime), dur, cost, truncateText(firstLine(r.Error), 80))
	}
	return tw.Flush()
}

const logsUsage = "logs PROJECT [RUN] [-f] [-o table|json|yaml]"

// runLogs is `tenantform logs PROJECT [RUN]`: the log tail of a run (the
// newest when RUN is omitted). With -o json or yaml it prints the whole
// run. With -f it follows the run's live log until the run ends (see
// followLogs).
func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("logs", logsUsage, stderr, getenv)
	follow := cc.fs.Bool("f", false, "follow the run's output while it runs, until it ends (as kubectl logs -f)")
	if err := cc.parse(args, 1, 2); err != nil {
		return err
	}
	if *follow && cc.c.document() {
		fmt.Fprintln(stderr, "tenantform logs: -f prints the log as it comes; it takes no -o json or yaml")
		return errUsage
	}
	name := cc.args[0]
	var id string
	if len(cc.args) == 2 {
		id = cc.args[1]
		if n, err := strconv.ParseInt(id, 10, 64); err != nil || n < 1 {
			return fmt.Errorf("run %q is not a run number; `tenantform runs %s` lists them", id, name)
		}
	} else {
		var list struct {
			Items []clientRun `json:"items"`
		}
		if _, err := cc.c.getJSON(ctx, cc.c.projectPath(name, "runs")+"?limit=1", &list); err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return fmt.Errorf("project %s/%s has no runs yet", cc.c.user, name)
		}
		id = strconv.FormatInt(list.Items[0].ID, 10)
	}
	var run clientRun
	raw, err := cc.c.getJSON(ctx, cc.c.projectPath(name, "runs", id), &run)
	if err != nil {
		return err
	}
	if *follow {
		return cc.followLogs(ctx, stdout, stderr, name, run)
	}
	if cc.c.document() {
		return printDocument(stdout, cc.c.output, raw)
	}
	fmt.Fprintf(stderr, "run %d: %s of generation %d, %s\n", run.ID, run.Operation, run.Generation, run.Outcome)
	io.WriteString(stdout, run.LogTail)
	if run.LogTail != "" && run.LogTail[len(run.LogTail)-1] != '\n' {
		io.WriteString(stdout, "\n")
	}
	if run.Error != "" {
		fmt.Fprintf(stderr, "error: %s\n", run.Error)
	}
	return nil
}

// sortProjects orders a table by user, then name.
func sortProjects(ps []clientProject) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].UserID != ps[j].UserID {
			return ps[i].UserID < ps[j].UserID
		}
		return ps[i].ProjectID < ps[j].ProjectID
	})
}
