package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook headers. The signature covers the timestamp and the body, so a
// receiver can both verify the sender and refuse an old message replayed:
//
//	X-Tenantform-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body))
const (
	HeaderSignature = "X-Tenantform-Signature"
	HeaderTimestamp = "X-Tenantform-Timestamp"
	HeaderEvent     = "X-Tenantform-Event"
	HeaderEventID   = "X-Tenantform-Event-Id"
)

// Sign returns the X-Tenantform-Signature value of body sent at timestamp
// (Unix seconds, as in X-Tenantform-Timestamp).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// webhook posts events as JSON.
type webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

func (w *webhook) send(ctx context.Context, e Event, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(payload))
	if err != nil {
		return errors.New("ALERT_WEBHOOK_URL is not a valid URL")
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tenantform-notify")
	req.Header.Set(HeaderEvent, e.Kind)
	req.Header.Set(HeaderEventID, e.ID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.secret, ts, payload))
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL holds the receiver's credential (Slack-style paths):
		// report what failed without it.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("webhook POST failed: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
