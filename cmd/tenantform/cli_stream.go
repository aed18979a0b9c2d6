package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
)

// get -w and list -w: the API's watch stream (server-sent events), printed
// as kubectl get -w does, a row per change, until interrupted. A dropped
// connection is resumed from the last event's id, so nothing is missed.

// streamEvent is one event of the watch API.
type streamEvent struct {
	ID, Type string
	Data     json.RawMessage
}

// streamReconnectWait is the pause before resuming a dropped stream.
const streamReconnectWait = time.Second

// stream follows path?watch=true, calling onEvent for each event other
// than SYNC and keep-alives, until ctx ends or onEvent fails.
func (c *apiClient) stream(ctx context.Context, path string, onEvent func(streamEvent) error) error {
	// No client timeout: a stream lasts until ctx ends.
	hc := &http.Client{Transport: c.http.Transport}
	lastID := ""
	for {
		connected, err := c.streamOnce(ctx, hc, path, &lastID, onEvent)
		if ctx.Err() != nil {
			return nil // interrupted: the normal end of a watch
		}
		var ae *apiError
		var pe *printError
		switch {
		case errors.As(err, &ae):
			return err
		case errors.As(err, &pe):
			return pe.err
		case !connected:
			return fmt.Errorf("cannot watch at %s: %w", c.base, err)
		}
		// The connection dropped (a deploy, a proxy's limit): resume
		// after the last event seen.
		if err := sleepCtx(ctx, streamReconnectWait); err != nil {
			return nil
		}
	}
}

// printError marks a failure of the caller's output, which ends a stream.
type printError struct{ err error }

func (e *printError) Error() string { return e.err.Error() }

// streamOnce reads one connection's events; connected says the server
// accepted the stream.
func (c *apiClient) streamOnce(ctx context.Context, hc *http.Client, path string, lastID *string, onEvent func(streamEvent) error) (connected bool, err error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.base.String(), "/")+path+sep+"watch=true", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return false, decodeAPIError(resp, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ev streamEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Type != "" {
				if ev.ID != "" {
					*lastID = ev.ID
				}
				if ev.Type != "SYNC" {
					if err := onEvent(ev); err != nil {
						return true, &printError{err}
					}
				}
			}
			ev = streamEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[len("id: "):]
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			ev.Data = json.RawMessage(line[len("data: "):])
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	return true, io.EOF
}

// watchProjects prints each change of the stream at path as a row (or a
// JSON document a line, for -o json), until interrupted.
func (cc *clientCommand) watchProjects(ctx context.Context, stdout io.Writer, path string, withUser bool) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	header := false
	return cc.c.stream(ctx, path, func(ev streamEvent) error {
		var msg struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := json.Unmarshal(ev.Data, &msg); err != nil {
			return fmt.Errorf("unexpected watch event: %w", err)
		}
		switch cc.c.output {
		case "json", "yaml":
			// One document per change, as kubectl get -w -o json.
			var doc strings.Builder
			if err := printDocument(&doc, "json", ev.Data); err != nil {
				return err
			}
			_, err := io.WriteString(stdout, doc.String())
			return err
		case "name":
			return printNames(stdout, msg.Object)
		}
		var p clientProject
		if err := json.Unmarshal(msg.Object, &p); err != nil {
			return err
		}
		if msg.Type == "DELETED" {
			p.Status.Phase = "Destroyed"
		}
		if !header {
			header = true
			if withUser {
				fmt.Fprint(tw, "USER\t")
			}
			fmt.Fprintln(tw, "NAME\tPHASE\tGENERATION\tRESOURCES\tCOST/MONTH\tEVENT")
		}
		if withUser {
			fmt.Fprintf(tw, "%s\t", p.UserID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t$%.2f\t%s\n", p.ProjectID, p.Status.Phase, p.Status.ObservedGeneration, p.Generation,
			p.Status.ResourceCount, p.Status.EstimatedMonthlyCostUSD, msg.Type)
		return tw.Flush()
	})
}
