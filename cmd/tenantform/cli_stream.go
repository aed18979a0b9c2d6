package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tenantform/tenantform/api/client"
)

// get -w and list -w: the API's watch stream (server-sent events), printed
// as kubectl get -w does, a row per change, until interrupted. A dropped
// connection is resumed from the last event's id, so nothing is missed.

// streamEvent is one event of the watch API.
type streamEvent = client.Event

// stream follows path?watch=true through the API client until ctx ends.
func (c *apiClient) stream(ctx context.Context, path string, onEvent func(streamEvent) error) error {
	return c.Client.Stream(ctx, path, onEvent)
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
