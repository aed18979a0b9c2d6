package main

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/tf"
)

// TestBillingIsWiredWithAWS: with an AWS identity the reconciler gets the
// billing service and the estimator its price source; against the
// emulator (static credentials) there is neither, since the emulator has
// no Price List API or Cost Explorer.
func TestBillingIsWiredWithAWS(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDWIRING")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wiring-secret")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := parseConfig(modeReconcile, env{"DATABASE_URL": "postgres://x@localhost/x", "JWT_SECRET": "0123456789abcdef0123456789abcdef",
		"COST_EXPLORER_INTERVAL": "off"}.get)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := newAWSServices(ctx, cfg, nil, nil, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if a.billing == nil || a.priceSource() == nil {
		t.Fatal("with AWS credentials there is no billing service or price source")
	}
	if est := newEstimator(a); est.Source != a.priceSource() {
		t.Error("the reconciler's estimator does not price from the billing service's cache")
	}

	dev, err := newAWSServices(ctx, cfg, nil, credentials.NewStaticCredentialsProvider("AKIDEMU", "emu", ""), nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if dev.billing != nil || dev.priceSource() != nil {
		t.Error("against the emulator the billing service is built")
	}
	// Without fetched prices every line says it used the built-in table.
	for name, a := range map[string]*awsServices{"emulator": dev, "no AWS": nil} {
		est := newEstimator(a)
		line := est.Estimate("us-east-1", []tf.PlannedResource{{Address: "aws_s3_bucket.b", Type: "aws_s3_bucket"}}).Lines[0]
		if line.Source != cost.BuiltInSource {
			t.Errorf("%s: estimate line source %q, want %q", name, line.Source, cost.BuiltInSource)
		}
	}
}
