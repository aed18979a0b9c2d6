package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// watchState is where a watched project stands for the generation the
// client wrote.
type watchState int

const (
	watchGoing watchState = iota
	watchReady
	watchFailed
	watchAwaitingApproval
)

// settled decides from one status whether a watch of generation gen is
// over. A Failed or Blocked left over from an earlier generation must not
// end it: such a phase counts only when the Ready condition says it is
// about gen, or after the reconciler was seen working on the project.
func settled(st clientStatus, gen int64, seenProgress bool) watchState {
	cond, ok := st.readyCondition()
	current := ok && cond.ObservedGeneration >= gen
	switch st.Phase {
	case "Ready":
		if st.ObservedGeneration >= gen {
			return watchReady
		}
	case "Failed", "Retrying", "Blocked":
		if current || seenProgress {
			return watchFailed
		}
	case "AwaitingApproval":
		if current || seenProgress {
			return watchAwaitingApproval
		}
	}
	return watchGoing
}

// watch polls the project until generation gen settles, printing a line at
// every change of phase or message (and, on a terminal, a live progress
// line with the elapsed time). Ready returns nil; Blocked and Failed an
// error carrying the reason; AwaitingApproval ends the watch (nil) when
// stopAtApproval, since nothing will happen until someone approves.
func (c *apiClient) watch(ctx context.Context, out io.Writer, name string, gen int64, w watchFlags, stopAtApproval bool) error {
	start := time.Now()
	tty := isTerminal(out)
	var lastPhase, lastMsg string
	seenProgress, planShown := false, false
	for {
		var p clientProject
		_, err := c.getJSON(ctx, c.projectPath(name), &p)
		wait := *w.interval
		switch {
		case retryable(err, &wait):
			// Rate limited, or the database is down for a while: keep
			// watching, at the pace the server asks for.
			fmt.Fprintf(out, "%s %s; still watching\n", elapsedSince(start), firstLine(err.Error()))
		case err != nil:
			return err
		default:
			st := p.Status
			msg := firstLine(st.Message)
			if msg == "" {
				if cond, ok := st.readyCondition(); ok {
					msg = firstLine(cond.Message)
				}
			}
			if st.Phase != lastPhase || msg != lastMsg {
				if tty {
					fmt.Fprint(out, "\r\033[K")
				}
				fmt.Fprintln(out, strings.TrimRight(fmt.Sprintf("%s %-16s %s", elapsedSince(start), st.Phase, msg), " "))
				lastPhase, lastMsg = st.Phase, msg
			} else if tty {
				fmt.Fprintf(out, "\r\033[K%s %s…", elapsedSince(start), st.Phase)
			}
			if !planShown && (st.Phase == "Applying" || st.Phase == "AwaitingApproval") {
				if s := c.latestPlanSummary(ctx, name); s != "" {
					fmt.Fprintf(out, "%s plan: %s\n", elapsedSince(start), s)
					planShown = true
				}
			}
			switch settled(st, gen, seenProgress) {
			case watchReady:
				fmt.Fprintf(out, "project %s/%s is Ready (generation %d): %d resources, about $%.2f/month\n",
					p.UserID, p.ProjectID, st.ObservedGeneration, st.ResourceCount, st.EstimatedMonthlyCostUSD)
				return nil
			case watchFailed:
				return watchFailure(p)
			case watchAwaitingApproval:
				if stopAtApproval {
					fmt.Fprintf(out, "project %s/%s awaits approval: tenantform projects approve %s --run %d --watch\n",
						p.UserID, p.ProjectID, p.ProjectID, p.Status.PendingPlanRun)
					return nil
				}
			}
			switch st.Phase {
			case "Pending", "Planning", "Applying":
				seenProgress = true
			}
		}
		if time.Since(start) > *w.timeout {
			return fmt.Errorf("project %s/%s did not settle within %s (phase %s)", c.user, name, *w.timeout, lastPhase)
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

// watchFailure is the error of a watch that ended Blocked or Failed: the
// reason, then terraform's or the policy's own words.
func watchFailure(p clientProject) error {
	st := p.Status
	reason := ""
	detail := st.LastError
	if cond, ok := st.readyCondition(); ok {
		reason = " (" + cond.Reason + ")"
		if detail == "" {
			detail = cond.Message
		}
	}
	if detail == "" {
		detail = st.Message
	}
	return fmt.Errorf("%w: project %s/%s is %s%s%s:\n%s", errWatchFailed, p.UserID, p.ProjectID, st.Phase, reason,
		phaseNote(st.Phase, st.NextAttemptAt, time.Now()), indent(detail))
}

// watchGone polls until the project is gone (404), printing phase changes
// and destroy errors on the way.
func (c *apiClient) watchGone(ctx context.Context, out io.Writer, name string, w watchFlags) error {
	start := time.Now()
	var last string
	for {
		var p clientProject
		_, err := c.getJSON(ctx, c.projectPath(name), &p)
		var ae *apiError
		wait := *w.interval
		switch {
		case errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusGone):
			fmt.Fprintf(out, "%s project %s/%s is gone\n", elapsedSince(start), c.user, name)
			return nil
		case retryable(err, &wait):
		case err != nil:
			return err
		default:
			line := p.Status.Phase
			if p.Status.LastError != "" {
				line += "  " + firstLine(p.Status.LastError)
			}
			if line != last {
				fmt.Fprintf(out, "%s %s\n", elapsedSince(start), line)
				last = line
			}
		}
		if time.Since(start) > *w.timeout {
			return fmt.Errorf("project %s/%s was not destroyed within %s", c.user, name, *w.timeout)
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

// retryable reports whether err is an answer a watch waits out (429 rate
// limited, 503 database unavailable) and, if so, raises *wait to the
// server's Retry-After.
func retryable(err error, wait *time.Duration) bool {
	var ae *apiError
	if !errors.As(err, &ae) || (ae.Status != http.StatusTooManyRequests && ae.Status != http.StatusServiceUnavailable) {
		return false
	}
	if n, perr := strconv.Atoi(ae.RetryAfter); perr == nil && time.Duration(n)*time.Second > *wait {
		*wait = time.Duration(n) * time.Second
	}
	return true
}

// latestPlanSummary describes the newest plan run's summary, or "" when
// there is none yet.
func (c *apiClient) latestPlanSummary(ctx context.Context, name string) string {
	var runs struct {
		Items []clientRun `json:"items"`
	}
	if _, err := c.getJSON(ctx, c.projectPath(name, "runs")+"?limit=10", &runs); err != nil {
		return ""
	}
	for _, r := range runs.Items {
		if r.Operation != "plan" || r.Kind == "speculative" || r.Outcome != "succeeded" {
			continue
		}
		var full struct {
			PlanSummary struct {
				Add     int `json:"add"`
				Change  int `json:"change"`
				Destroy int `json:"destroy"`
			} `json:"planSummary"`
		}
		if _, err := c.getJSON(ctx, c.projectPath(name, "runs", fmt.Sprint(r.ID)), &full); err != nil {
			return ""
		}
		s := full.PlanSummary
		summary := fmt.Sprintf("%d to add, %d to change, %d to destroy", s.Add, s.Change, s.Destroy)
		if r.EstimatedMonthlyCostUSD != nil {
			summary += fmt.Sprintf(", about $%.2f/month", *r.EstimatedMonthlyCostUSD)
		}
		return summary
	}
	return ""
}

// clientRun is a run as the client reads it.
type clientRun struct {
	ID                      int64           `json:"id"`
	Generation              int64           `json:"generation"`
	Operation               string          `json:"operation"`
	Kind                    string          `json:"kind"`
	Outcome                 string          `json:"outcome"`
	StartedAt               time.Time       `json:"startedAt"`
	DurationSeconds         *float64        `json:"durationSeconds"`
	EstimatedMonthlyCostUSD *float64        `json:"estimatedMonthlyCostUSD"`
	Error                   string          `json:"error"`
	LogTail                 string          `json:"logTail"`
	PlanSummary             json.RawMessage `json:"planSummary"`
}

func elapsedSince(start time.Time) string {
	return fmt.Sprintf("[%6s]", time.Since(start).Round(100*time.Millisecond))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return truncateText(line, 120)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isTerminal reports whether w is a terminal, where a progress line can be
// redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// watchFlags are the flags of verbs that can follow the phase.
type watchFlags struct {
	watch    *bool
	interval *time.Duration
	timeout  *time.Duration
}

func addWatchFlags(fs *flag.FlagSet) watchFlags {
	return watchFlags{
		watch:    fs.Bool("watch", false, "follow the phase until it settles; exit 0 on Ready, 1 on Blocked or Failed"),
		interval: fs.Duration("interval", 2*time.Second, "how often --watch polls"),
		timeout:  fs.Duration("timeout", 30*time.Minute, "how long --watch waits before giving up (exit 1)"),
	}
}

// minWatchInterval keeps --watch from polling in a tight loop.
const minWatchInterval = 10 * time.Millisecond

// check refuses watch settings that make no sense, before any request.
func (w watchFlags) check() error {
	if *w.interval < minWatchInterval {
		return fmt.Errorf("--interval %s is too short; poll at most every %s", *w.interval, minWatchInterval)
	}
	if *w.timeout <= 0 {
		return fmt.Errorf("--timeout %s must be positive", *w.timeout)
	}
	return nil
}

var errWatchFailed = errors.New("the project did not become Ready")
