package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// Defaults of CredentialsConfig.
const (
	// DefaultSessionDuration is the guide's one-hour session.
	DefaultSessionDuration = time.Hour
	// DefaultRefreshBefore renews credentials this long before they
	// expire: the guide's 50-minute cache of a one-hour session. A
	// terraform run that starts with them has at least this long.
	DefaultRefreshBefore = 10 * time.Minute
	// assumeTimeout bounds one STS call, independent of the callers
	// waiting for it.
	assumeTimeout = 30 * time.Second
)

// SessionTagKeys are the session tag keys of a project's credentials. They
// are transitive, so a role chained from the session keeps them, and the
// platform role's policy scopes each session with them: ARNs under the
// IAM path of UserId and ProjectId, names starting with NamePrefix
// (policy.NamePrefixTag; tenantform aws-setup allows exactly these keys).
var SessionTagKeys = []string{"UserId", "ProjectId", "Project", policy.NamePrefixTagKey}

// CredentialsConfig configures Credentials.
type CredentialsConfig struct {
	// Base is the SDK configuration of tenantform's own identity (see
	// LoadConfig); it signs the AssumeRole calls.
	Base awssdk.Config
	// RoleARN is the role assumed for tenant runs (AWS_ROLE_ARN). Empty
	// means a one-account setup: every project gets the base identity's
	// own credentials, without session tags.
	RoleARN string
	// ExternalID is the role's sts:ExternalId condition (AWS_EXTERNAL_ID).
	// A secret: never logged.
	ExternalID string
	// SessionDuration is the requested DurationSeconds. Default one hour.
	SessionDuration time.Duration
	// RefreshBefore renews cached credentials this long before they
	// expire. Default ten minutes.
	RefreshBefore time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Registerer gets the STS call metrics. Nil registers none.
	Registerer prometheus.Registerer
	Logger     *zap.Logger
}

// Credentials hands out one set of temporary AWS credentials per project.
// They are cached until RefreshBefore ahead of their expiry, and concurrent
// requests for one project share a single STS call. It is safe for
// concurrent use.
type Credentials struct {
	cfg     CredentialsConfig
	sts     *sts.Client
	log     *zap.Logger
	metrics *credentialMetrics
	flight  singleflight.Group

	mu    sync.Mutex
	cache map[string]cachedCredentials
}

type cachedCredentials struct {
	creds   tf.Credentials
	expires time.Time
}

// NewCredentials returns a credentials source for cfg.
func NewCredentials(cfg CredentialsConfig) (*Credentials, error) {
	if cfg.Base.Credentials == nil {
		return nil, errors.New("aws: CredentialsConfig.Base has no credentials provider (see LoadConfig)")
	}
	if cfg.SessionDuration <= 0 {
		cfg.SessionDuration = DefaultSessionDuration
	}
	if cfg.RefreshBefore <= 0 {
		cfg.RefreshBefore = DefaultRefreshBefore
	}
	if cfg.RefreshBefore >= cfg.SessionDuration {
		return nil, fmt.Errorf("aws: RefreshBefore (%s) must be shorter than the session (%s)", cfg.RefreshBefore, cfg.SessionDuration)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Credentials{
		cfg:     cfg,
		sts:     sts.NewFromConfig(cfg.Base),
		log:     cfg.Logger,
		metrics: newCredentialMetrics(cfg.Registerer),
		cache:   map[string]cachedCredentials{},
	}, nil
}

// ForProject returns the credentials of one project's terraform process.
// With a role they are the project's own session
// (chart-app-{userId}-{projectId}, tagged UserId, ProjectId and Project);
// without one, the base identity's credentials. Errors are a *DeniedError
// (terminal: show it), a *ThrottledError (back off) or another, transient,
// error.
func (c *Credentials) ForProject(ctx context.Context, userID, projectID string) (*tf.Credentials, error) {
	return c.ForOperation(ctx, userID, projectID, c.cfg.RefreshBefore)
}

// ForOperation is ForProject for an operation that needs the credentials
// for validFor (its deadline and a margin): cached credentials with less
// validity left than that, or than RefreshBefore, are renewed first. It
// fails when the configured session is not longer than validFor.
func (c *Credentials) ForOperation(ctx context.Context, userID, projectID string, validFor time.Duration) (*tf.Credentials, error) {
	validFor = max(validFor, c.cfg.RefreshBefore)
	if c.cfg.RoleARN != "" && validFor >= c.cfg.SessionDuration {
		return nil, fmt.Errorf("cannot get AWS credentials for project %s valid for %s: the role sessions tenantform asks for last %s; lower TF_OPERATION_TIMEOUT",
			tf.ProjectTag(userID, projectID), validFor.Round(time.Second), c.cfg.SessionDuration)
	}
	if c.cfg.RoleARN == "" {
		return c.base(ctx, validFor)
	}
	key := tf.WorkspaceName(userID, projectID)
	if creds, ok := c.cached(key, validFor); ok {
		return creds, nil
	}
	// The STS call is not tied to the first caller's context: a caller
	// that gives up must not fail the others waiting on the same call.
	// Callers needing more validity than the cache has share a call keyed
	// by that need.
	ch := c.flight.DoChan(fmt.Sprintf("%s/%d", key, validFor), func() (any, error) {
		if creds, ok := c.cached(key, validFor); ok {
			return creds, nil
		}
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), assumeTimeout)
		defer cancel()
		creds, expires, err := c.assume(callCtx, key, userID, projectID)
		if err != nil {
			return nil, err
		}
		if left := expires.Sub(c.cfg.Now()); left < validFor {
			// STS granted less than asked (the role's maximum session
			// duration), or the clocks disagree: the best there is.
			c.log.Warn("fresh AWS credentials expire before the operation's deadline",
				zap.String("project", tf.ProjectTag(userID, projectID)), zap.Duration("valid_for", left),
				zap.Duration("needed", validFor))
		}
		return creds, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		creds := *res.Val.(*tf.Credentials)
		return &creds, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Forget drops a project's cached credentials (after its destruction).
func (c *Credentials) Forget(userID, projectID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cache, tf.WorkspaceName(userID, projectID))
}

// cached returns the cached credentials of key if they stay valid for
// validFor.
func (c *Credentials) cached(key string, validFor time.Duration) (*tf.Credentials, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok || !c.cfg.Now().Before(e.expires.Add(-validFor)) {
		return nil, false
	}
	creds := e.creds
	return &creds, true
}

func (c *Credentials) assume(ctx context.Context, key, userID, projectID string) (*tf.Credentials, time.Time, error) {
	session := SessionName(userID, projectID)
	values := map[string]string{
		"UserId":    userID,
		"ProjectId": projectID,
		"Project":   tf.ProjectTag(userID, projectID),

		policy.NamePrefixTagKey: policy.NamePrefixTag(userID, projectID),
	}
	tags := make([]ststypes.Tag, 0, len(SessionTagKeys))
	for _, k := range SessionTagKeys {
		tags = append(tags, ststypes.Tag{Key: awssdk.String(k), Value: awssdk.String(values[k])})
	}
	in := &sts.AssumeRoleInput{
		RoleArn:           awssdk.String(c.cfg.RoleARN),
		RoleSessionName:   awssdk.String(session),
		DurationSeconds:   awssdk.Int32(int32(c.cfg.SessionDuration / time.Second)),
		Tags:              tags,
		TransitiveTagKeys: SessionTagKeys,
	}
	if c.cfg.ExternalID != "" {
		in.ExternalId = awssdk.String(c.cfg.ExternalID)
	}
	c.metrics.calls.Inc()
	out, err := c.sts.AssumeRole(ctx, in)
	if err != nil {
		err = classify(err, c.cfg.RoleARN)
		c.metrics.failed(err)
		c.log.Warn("cannot assume the tenant role",
			zap.String("role_arn", c.cfg.RoleARN), zap.String("session_name", session), zap.Error(err))
		return nil, time.Time{}, fmt.Errorf("cannot get AWS credentials for project %s: %w", tf.ProjectTag(userID, projectID), err)
	}
	if out.Credentials == nil || out.Credentials.Expiration == nil {
		return nil, time.Time{}, fmt.Errorf("cannot get AWS credentials for project %s: STS returned no credentials", tf.ProjectTag(userID, projectID))
	}
	creds := tf.Credentials{
		AccessKeyID:     awssdk.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: awssdk.ToString(out.Credentials.SecretAccessKey),
		SessionToken:    awssdk.ToString(out.Credentials.SessionToken),
	}
	expires := *out.Credentials.Expiration
	c.store(key, creds, expires)
	// Never the values: the expiry and who they are for.
	c.log.Debug("assumed the tenant role",
		zap.String("role_arn", c.cfg.RoleARN), zap.String("session_name", session), zap.Time("expires", expires))
	return &creds, expires, nil
}

// store caches creds and drops entries that have expired, so projects that
// are gone do not accumulate.
func (c *Credentials) store(key string, creds tf.Credentials, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	for k, e := range c.cache {
		if !now.Before(e.expires) {
			delete(c.cache, k)
		}
	}
	c.cache[key] = cachedCredentials{creds: creds, expires: expires}
}

// base returns the base identity's own credentials (no role configured).
// The SDK's provider caches and refreshes them itself; expiring ones with
// less than validFor left are refreshed first, when the provider is a
// cache that can be told to.
func (c *Credentials) base(ctx context.Context, validFor time.Duration) (*tf.Credentials, error) {
	v, err := c.cfg.Base.Credentials.Retrieve(ctx)
	short := func() bool { return v.CanExpire && v.Expires.Before(c.cfg.Now().Add(validFor)) }
	if inv, ok := c.cfg.Base.Credentials.(interface{ Invalidate() }); ok && err == nil && short() {
		inv.Invalidate()
		v, err = c.cfg.Base.Credentials.Retrieve(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot get the base AWS credentials: %w", classify(err, ""))
	}
	if short() {
		return nil, fmt.Errorf("cannot get base AWS credentials valid for %s: they expire at %s", validFor.Round(time.Second), v.Expires.UTC().Format(time.RFC3339))
	}
	return &tf.Credentials{
		AccessKeyID:     v.AccessKeyID,
		SecretAccessKey: v.SecretAccessKey,
		SessionToken:    v.SessionToken,
	}, nil
}
