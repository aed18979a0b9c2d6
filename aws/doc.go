// Package aws is tenantform's side of AWS itself, on aws-sdk-go-v2:
//
//   - credentials.go: one set of temporary credentials per project, from
//     STS AssumeRole of AWS_ROLE_ARN with the project's session name and
//     tags, cached and refreshed before expiry;
//   - inventory.go: the tagged inventory (Resource Groups Tagging API
//     GetResources filtered on ManagedBy=chart-app-platform), one listing
//     per region for every project, kept in PostgreSQL by a refresher;
//   - compare.go: the pure comparison of a project's terraform state with
//     the inventory (drift, strays) and of the inventory with the live
//     projects (orphans); adopt.go: import blocks for the strays a
//     configuration declares;
//   - orphans.go, deleters.go: the orphan report and, when enabled, the
//     deletion of orphans and unadopted strays through the service APIs;
//   - awstest: the in-process emulator for tests and dev mode, and
//     awstest/provider, a test double of the hashicorp/aws provider.
//
// Nothing here ever touches a resource that does not carry
// ManagedBy=chart-app-platform, and no credential value is ever logged.
//
// The package is named aws like the SDK's own aws package; files that need
// both import the SDK's as awssdk.
package aws
