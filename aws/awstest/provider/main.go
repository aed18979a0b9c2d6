// Command provider is a TEST DOUBLE of the hashicorp/aws Terraform
// provider (package providerdouble), built by the tests
// (awstest.ProviderMirror) into a filesystem_mirror. It is not the AWS
// provider and must never be used against AWS.
package main

import (
	"context"
	"log"

	"github.com/tenantform/tenantform/aws/awstest/providerdouble"
)

func main() {
	if err := providerdouble.Serve(context.Background(), providerdouble.Options{}); err != nil {
		log.Fatal(err)
	}
}
