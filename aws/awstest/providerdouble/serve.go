// Package providerdouble is a TEST DOUBLE of the hashicorp/aws Terraform
// provider. It is not the AWS provider and must never be used against AWS:
// it refuses to configure without emulator endpoints.
//
// tenantform's tests cannot always download the real provider (hundreds of
// MB, no network on some build machines), yet they must prove that what
// terraform creates reaches AWS with the platform's tags. This small
// provider, built on terraform-plugin-framework and aws-sdk-go-v2, is
// installed into a filesystem_mirror as registry.terraform.io/hashicorp/aws
// and talks only to the emulator the engine's endpoints point at. Two
// programs serve it: aws/awstest/provider (a standalone binary the tests
// build, awstest.ProviderMirror), and `tenantform dev --aws=emulator` in
// an emulator build, which re-executes itself as this provider when no
// real hashicorp/aws is installed (offline demos). It implements just:
//
//   - provider: region, default_tags { tags }, endpoints { ... },
//     s3_use_path_style and the skip_* flags (accepted, ignored);
//   - aws_s3_bucket: bucket, bucket_prefix, force_destroy, tags, tags_all,
//     arn, id (import by bucket name);
//   - aws_dynamodb_table: name, billing_mode, hash_key, range_key,
//     read_capacity, write_capacity, attribute { name, type }, tags,
//     tags_all, arn, id (import by table name).
//
// Production uses the real provider from the registry or a mirror.
package providerdouble

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

// Address is the provider address the double answers to.
const Address = "registry.terraform.io/hashicorp/aws"

// Options change what the served provider says.
type Options struct {
	// Warning, when set, is the summary of a warning the provider adds
	// each time terraform configures it (every plan, apply and destroy),
	// so that terraform's output, and so each run's log, says which
	// provider ran.
	Warning string
	// WarningDetail is that warning's detail.
	WarningDetail string
	// LoopbackOnly refuses endpoints on other hosts than this machine's
	// loopback: the double then can only ever reach a local emulator.
	LoopbackOnly bool
}

// New returns the provider, for providerserver or tests.
func New(opts Options) func() provider.Provider {
	return func() provider.Provider { return &awsProvider{opts: opts} }
}

// Serve runs the provider's plugin server, as terraform expects of a
// provider executable it started; it returns when terraform is done with
// it.
func Serve(ctx context.Context, opts Options) error {
	return providerserver.Serve(ctx, New(opts), providerserver.ServeOpts{Address: Address})
}
