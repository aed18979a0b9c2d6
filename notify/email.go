package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// mailer sends events by e-mail with go-mail.
type mailer struct {
	host     string
	port     int
	implicit bool // smtps: TLS from the first byte
	user     string
	password string
	from, to string
}

// parseSMTPURL reads SMTP_URL; to is ALERT_EMAIL, also the default sender.
// Errors never echo the URL, which may hold a password.
func parseSMTPURL(raw, to string) (*mailer, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, errors.New("SMTP_URL is not smtp://[user:password@]host[:port] or smtps://…")
	}
	m := &mailer{host: u.Hostname(), implicit: u.Scheme == "smtps", to: to, from: to}
	m.port = 587
	if m.implicit {
		m.port = 465
	}
	if p := u.Port(); p != "" {
		if m.port, err = strconv.Atoi(p); err != nil || m.port < 1 || m.port > 65535 {
			return nil, errors.New("SMTP_URL has an invalid port")
		}
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.password, _ = u.User.Password()
	}
	if f := u.Query().Get("from"); f != "" {
		a, err := mail.ParseAddress(f)
		if err != nil {
			return nil, errors.New("SMTP_URL's from= is not an e-mail address")
		}
		m.from = a.Address
	}
	return m, nil
}

func (m *mailer) send(ctx context.Context, e Event, payload []byte) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return fmt.Errorf("bad sender address: %w", err)
	}
	if err := msg.To(m.to); err != nil {
		return fmt.Errorf("bad ALERT_EMAIL: %w", err)
	}
	msg.Subject("[tenantform] " + e.Summary)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetGenHeader("X-Tenantform-Event-Id", e.ID)
	msg.SetBodyString(gomail.TypeTextPlain, emailBody(e, payload))

	opts := []gomail.Option{gomail.WithPort(m.port), gomail.WithTimeout(20 * time.Second)}
	if m.implicit {
		opts = append(opts, gomail.WithSSL())
	} else if m.user != "" {
		// Credentials never cross the network in clear.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if m.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.user), gomail.WithPassword(m.password))
	}
	c, err := gomail.NewClient(m.host, opts...)
	if err != nil {
		return fmt.Errorf("cannot prepare the mail client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("cannot send mail through %s: %w", net.JoinHostPort(m.host, strconv.Itoa(m.port)), err)
	}
	return nil
}

// emailBody is the event for people: the summary, each detail on a line,
// then the JSON the webhook would get, for scripts.
func emailBody(e Event, payload []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", e.Summary)
	fmt.Fprintf(&b, "kind: %s\nid: %s\ntime: %s\n", e.Kind, e.ID, e.Time.UTC().Format(time.RFC3339))
	if e.UserID != "" {
		fmt.Fprintf(&b, "user: %s\n", e.UserID)
	}
	if e.ProjectID != "" {
		fmt.Fprintf(&b, "project: %s\n", e.ProjectID)
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := json.Marshal(e.Details[k])
		if s, ok := e.Details[k].(string); ok {
			v = []byte(s)
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	fmt.Fprintf(&b, "\n-- \n%s\n", payload)
	return b.String()
}
