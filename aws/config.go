package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
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
