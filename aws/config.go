package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go/logging"
)

// SDKOptions configure the base SDK configuration of the server's own AWS
// calls (STS, inventory, cleanup).
type SDKOptions struct {
	// Region is the region of regional calls that name none (STS).
	Region string
	// EndpointURL sends every service call to one endpoint (a local
	// emulator); empty uses AWS's.
	EndpointURL string
	// MaxAttempts bounds the adaptive retryer's attempts per call. 0 keeps
	// the SDK's default (3).
	MaxAttempts int
	// Credentials replaces the default chain (dev mode's emulator passes
	// its dummy keys). Nil uses the chain.
	Credentials awssdk.CredentialsProvider
	// Quiet silences the SDK's own log lines, for probing whether the
	// default chain yields credentials at all: on a laptop without any,
	// the chain's last resort (the EC2 instance metadata service) warns
	// "falling back to IMDSv1" at every start, which says nothing useful.
	Quiet bool
}

// LoadConfig returns the SDK configuration of the server's base identity:
// credentials from the SDK's default chain (environment, shared files, web
// identity, container and instance roles) and the adaptive retryer, which
// slows down client-side when AWS throttles rather than only retrying.
func LoadConfig(ctx context.Context, o SDKOptions) (awssdk.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(o.Region),
		config.WithRetryer(func() awssdk.Retryer {
			return retry.NewAdaptiveMode(func(a *retry.AdaptiveModeOptions) {
				if o.MaxAttempts > 0 {
					a.StandardOptions = append(a.StandardOptions, func(s *retry.StandardOptions) {
						s.MaxAttempts = o.MaxAttempts
					})
				}
			})
		}),
	}
	if o.EndpointURL != "" {
		opts = append(opts, config.WithBaseEndpoint(o.EndpointURL))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	if o.Quiet {
		opts = append(opts, config.WithLogger(logging.Nop{}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("cannot load the AWS SDK configuration: %w", err)
	}
	return cfg, nil
}

// forRegion is cfg with another region (a copy; cfg is unchanged).
func forRegion(cfg awssdk.Config, region string) awssdk.Config {
	c := cfg.Copy()
	c.Region = region
	return c
}

// PlatformSessionTag is the Project session tag of tenantform's own role
// session (inventory, orphan cleanup). It matches the guide's policy
// condition aws:PrincipalTag/Project like "chart-app-*" without naming
// any tenant's project.
const PlatformSessionTag = "chart-app-platform"

// ServiceConfig returns the SDK configuration of tenantform's own AWS calls
// (the inventory and orphan cleanup): with a role, a session of it named
// sessionName (AWS_SESSION_NAME), with the external id and the session tag
// Project=chart-app-platform, refreshed by the SDK before it expires;
// without one, base itself.
func ServiceConfig(base awssdk.Config, roleARN, externalID, sessionName string) awssdk.Config {
	if roleARN == "" {
		return base
	}
	cfg := base.Copy()
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = sessionName
		if externalID != "" {
			o.ExternalID = awssdk.String(externalID)
		}
		o.Tags = []ststypes.Tag{{Key: awssdk.String("Project"), Value: awssdk.String(PlatformSessionTag)}}
		o.TransitiveTagKeys = []string{"Project"}
	})
	cfg.Credentials = awssdk.NewCredentialsCache(provider)
	return cfg
}
