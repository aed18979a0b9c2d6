package aws

import (
	"context"
	"fmt"
	"slices"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// IAM roles in the inventory. GetResources does not list IAM users and
// roles (AWS documents it), so without this listing the orphan sweep
// could never find a role whose project is gone, nor the inline policies
// and attachments it holds. IAM is global: its roles are listed with the
// inventory's IAM region (the platform's own region when it is an
// inventory region, else the first), from ListRoles under IAMPathPrefix,
// with each role's tags (ListRoles does not return them). They take no
// part in drift detection (tracked): a role is re-checked by the drift
// re-plan, as before. The listing needs iam:ListRoles and iam:ListRoleTags
// on the roles under the prefix; when it fails, the region's listing is
// stored without roles (a warning says so).

// DefaultIAMPathPrefix is InventoryConfig.IAMPathPrefix's default: every
// role of the account.
const DefaultIAMPathPrefix = "/"

// iamRegion is the inventory region whose listing holds the IAM roles.
func iamRegion(cfg InventoryConfig) string {
	if slices.Contains(cfg.Regions, cfg.Base.Region) {
		return cfg.Base.Region
	}
	return cfg.Regions[0]
}

// listRoles returns the roles under the path prefix tagged
// ManagedBy=chart-app-platform, as inventory items of region.
func listRoles(ctx context.Context, c *iam.Client, pathPrefix, region string) ([]store.InventoryItem, error) {
	var items []store.InventoryItem
	p := iam.NewListRolesPaginator(c, &iam.ListRolesInput{PathPrefix: awssdk.String(pathPrefix), MaxItems: awssdk.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("cannot list the IAM roles: %w", classify(err, ""))
		}
		for _, r := range page.Roles {
			tags, err := roleTags(ctx, c, awssdk.ToString(r.RoleName))
			if hasCode(err, "NoSuchEntity") {
				continue // deleted since the page was listed
			}
			if err != nil {
				return nil, fmt.Errorf("cannot read the tags of IAM role %s: %w", awssdk.ToString(r.RoleName), classify(err, ""))
			}
			if tags["ManagedBy"] != tf.ManagedByTag {
				continue
			}
			arn := awssdk.ToString(r.Arn)
			items = append(items, store.InventoryItem{ARN: arn, Type: ResourceType(arn), Region: region, Tags: tags})
		}
	}
	return items, nil
}

// roleTags reads every tag of a role (ListRoleTags, all pages).
func roleTags(ctx context.Context, c *iam.Client, role string) (map[string]string, error) {
	tags := map[string]string{}
	p := iam.NewListRoleTagsPaginator(c, &iam.ListRoleTagsInput{RoleName: awssdk.String(role)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tags {
			tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
	}
	return tags, nil
}
