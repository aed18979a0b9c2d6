package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// RunLogPage is one read of a run's live log.
type RunLogPage struct {
	Offset     int64  `json:"offset"`
	NextOffset int64  `json:"nextOffset"`
	Text       string `json:"text"`
	Finished   bool   `json:"finished"`
	More       bool   `json:"more"`
	Outcome    string `json:"outcome"`
}

// RunEnd is how a followed run ended.
type RunEnd struct {
	Outcome string `json:"outcome"`
	Error   string `json:"error"`
}

// RunLog reads the log of run id from byte offset on, while the run runs
// or after.
func (c *Client) RunLog(ctx context.Context, user, project string, id, offset int64) (RunLogPage, error) {
	var p RunLogPage
	_, err := c.GetJSON(ctx, ProjectPath(user, project, "runs", strconv.FormatInt(id, 10), "log")+"?offset="+strconv.FormatInt(offset, 10), &p)
	return p, err
}

// errRunEnded stops the stream at the END event.
var errRunEnded = errors.New("the run ended")

// FollowRunLog calls fn with each piece of run id's log from byte offset
// on, as the reconciler appends it, until the run ends (its outcome is
// returned), ctx ends (a zero RunEnd and nil) or fn fails. A dropped
// connection is resumed from the last piece received.
func (c *Client) FollowRunLog(ctx context.Context, user, project string, id, offset int64, fn func(text string) error) (RunEnd, error) {
	var end RunEnd
	path := ProjectPath(user, project, "runs", strconv.FormatInt(id, 10), "log") + "?offset=" + strconv.FormatInt(offset, 10)
	err := c.Stream(ctx, path, func(ev Event) error {
		switch ev.Type {
		case "LOG":
			var msg struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(ev.Data, &msg); err != nil {
				return fmt.Errorf("unexpected log event: %w", err)
			}
			return fn(msg.Text)
		case "END":
			if err := json.Unmarshal(ev.Data, &end); err != nil {
				return fmt.Errorf("unexpected end event: %w", err)
			}
			return errRunEnded
		case "ERROR":
			return nil // the server ends the stream; Stream resumes it
		}
		return nil
	})
	if errors.Is(err, errRunEnded) {
		return end, nil
	}
	return end, err
}
