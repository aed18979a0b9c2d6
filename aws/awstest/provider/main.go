// Command provider is a TEST DOUBLE of the hashicorp/aws Terraform
// provider. It is not the AWS provider and must never be used against AWS.
//
// tenantform's tests cannot download the real provider (hundreds of MB, no
// network on the build machines), yet they must prove that what terraform
// creates reaches AWS with the platform's tags. This small provider, built
// on terraform-plugin-framework and aws-sdk-go-v2, is installed by the
// tests (awstest.ProviderMirror) into a filesystem_mirror as
// registry.terraform.io/hashicorp/aws and talks only to the emulator the
// engine's endpoints point at. It implements just what the tests use:
//
//   - provider: region, default_tags { tags }, endpoints { ... },
//     s3_use_path_style and the skip_* flags (accepted, ignored);
//   - aws_s3_bucket: bucket, bucket_prefix, force_destroy, tags, tags_all,
//     arn, id (import by bucket name);
//   - aws_dynamodb_table: name, billing_mode, hash_key, range_key,
//     read_capacity, write_capacity, attribute { name, type }, tags,
//     tags_all, arn, id (import by table name).
//
// Production uses the real provider from the registry.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

func main() {
	err := providerserver.Serve(context.Background(), newProvider, providerserver.ServeOpts{
		Address: "registry.terraform.io/hashicorp/aws",
	})
	if err != nil {
		log.Fatal(err)
	}
}
