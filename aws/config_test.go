package aws_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	tfaws "github.com/tenantform/tenantform/aws"
)

// Throttling is handled by the SDK's adaptive retryer, which also slows
// the client down, rather than by retries alone.
func TestLoadConfigUsesTheAdaptiveRetryer(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	cfg, err := tfaws.LoadConfig(t.Context(), tfaws.SDKOptions{Region: "us-east-1", EndpointURL: "http://127.0.0.1:1", MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := cfg.Retryer().(*retry.AdaptiveMode)
	if !ok {
		t.Fatalf("retryer %T, want *retry.AdaptiveMode", cfg.Retryer())
	}
	if r.MaxAttempts() != 5 {
		t.Fatalf("max attempts %d, want 5", r.MaxAttempts())
	}
	if cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://127.0.0.1:1" || cfg.Region != "us-east-1" {
		t.Fatalf("endpoint %v, region %q", cfg.BaseEndpoint, cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != "AKIDTEST" {
		t.Fatalf("the default chain did not find the environment's keys: %v", err)
	}
}

func TestLoadConfigTakesGivenCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCHAIN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	cfg, err := tfaws.LoadConfig(t.Context(), tfaws.SDKOptions{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDGIVEN", "s", "")})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != "AKIDGIVEN" {
		t.Fatalf("got %q, %v; want the given credentials", creds.AccessKeyID, err)
	}
}
