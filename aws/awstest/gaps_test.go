package awstest

import (
	"context"
	"net/url"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
)

const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// What the real provider calls for aws_iam_role_policy_attachment and
// aws_iam_policy, and what the orphan sweep reads, answered as AWS does.
func TestIAMManagedPoliciesPolicyVersionsAndRoleTags(t *testing.T) {
	emu := New(t)
	ctx := context.Background()
	c := iam.NewFromConfig(emu.Config())
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("fn"), Path: awssdk.String("/tenants/"),
		AssumeRolePolicyDocument: awssdk.String(trust),
		Tags:                     []iamtypes.Tag{{Key: awssdk.String("ManagedBy"), Value: awssdk.String("chart-app-platform")}}}); err != nil {
		t.Fatal(err)
	}
	const basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String("fn"), PolicyArn: awssdk.String(basic)}); err != nil {
		t.Fatalf("attaching an AWS managed policy: %v", err)
	}
	attached, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: awssdk.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	if len(attached.AttachedPolicies) != 1 || awssdk.ToString(attached.AttachedPolicies[0].PolicyArn) != basic {
		t.Fatalf("attached %+v, want only %s", attached.AttachedPolicies, basic)
	}
	pol, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: awssdk.String(basic)})
	if err != nil {
		t.Fatal(err)
	}
	if got := awssdk.ToString(pol.Policy.Path); got != "/service-role/" {
		t.Errorf("managed policy path %q", got)
	}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: awssdk.String(basic), VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := url.QueryUnescape(awssdk.ToString(v.PolicyVersion.Document))
	if doc != managedPolicies[0].document || !v.PolicyVersion.IsDefaultVersion {
		t.Errorf("managed policy version: %q default %v", doc, v.PolicyVersion.IsDefaultVersion)
	}
	if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String("fn"), PolicyArn: awssdk.String(basic)}); err != nil {
		t.Fatal(err)
	}
	if attached, _ := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: awssdk.String("fn")}); len(attached.AttachedPolicies) != 0 {
		t.Fatalf("still attached after detach: %+v", attached.AttachedPolicies)
	}

	// A customer policy's version is the document it was created with,
	// and gone with the policy.
	const customer = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}`
	created, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("read"), PolicyDocument: awssdk.String(customer)})
	if err != nil {
		t.Fatal(err)
	}
	v, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: created.Policy.Arn, VersionId: awssdk.String("v1")})
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := url.QueryUnescape(awssdk.ToString(v.PolicyVersion.Document)); doc != customer {
		t.Errorf("customer policy version %q", doc)
	}
	if _, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: created.Policy.Arn, VersionId: awssdk.String("v2")}); !isCode(err, "NoSuchEntity") {
		t.Errorf("a version that does not exist: %v, want NoSuchEntity", err)
	}
	if _, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: created.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: created.Policy.Arn, VersionId: awssdk.String("v1")}); !isCode(err, "NoSuchEntity") {
		t.Errorf("a deleted policy's version: %v, want NoSuchEntity", err)
	}

	tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: awssdk.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 1 || awssdk.ToString(tags.Tags[0].Key) != "ManagedBy" || awssdk.ToString(tags.Tags[0].Value) != "chart-app-platform" {
		t.Errorf("role tags %+v", tags.Tags)
	}
	if _, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: awssdk.String("nobody")}); !isCode(err, "NoSuchEntity") {
		t.Errorf("tags of a missing role: %v, want NoSuchEntity", err)
	}

	// Permissions boundaries, which tenantform puts on every role.
	const boundary = "arn:aws:iam::123456789012:policy/TenantBoundary"
	boundaryOf := func(name string) string {
		t.Helper()
		out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Role.PermissionsBoundary == nil {
			return ""
		}
		return awssdk.ToString(out.Role.PermissionsBoundary.PermissionsBoundaryArn)
	}
	role, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("bounded"), AssumeRolePolicyDocument: awssdk.String(trust),
		PermissionsBoundary: awssdk.String(boundary)})
	if err != nil {
		t.Fatal(err)
	}
	if role.Role.PermissionsBoundary == nil || awssdk.ToString(role.Role.PermissionsBoundary.PermissionsBoundaryArn) != boundary {
		t.Errorf("CreateRole answered boundary %+v", role.Role.PermissionsBoundary)
	}
	if got := boundaryOf("bounded"); got != boundary {
		t.Errorf("boundary after CreateRole: %q", got)
	}
	if got := boundaryOf("fn"); got != "" {
		t.Errorf("a role created without a boundary has %q", got)
	}
	if _, err := c.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: awssdk.String("bounded")}); err != nil {
		t.Fatal(err)
	}
	if got := boundaryOf("bounded"); got != "" {
		t.Errorf("boundary after DeleteRolePermissionsBoundary: %q", got)
	}
	if _, err := c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: awssdk.String("bounded"), PermissionsBoundary: awssdk.String(boundary)}); err != nil {
		t.Fatal(err)
	}
	if got := boundaryOf("bounded"); got != boundary {
		t.Errorf("boundary after PutRolePermissionsBoundary: %q", got)
	}
	if _, err := c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: awssdk.String("nobody"), PermissionsBoundary: awssdk.String(boundary)}); !isCode(err, "NoSuchEntity") {
		t.Errorf("boundary of a missing role: %v", err)
	}
}

// A new bucket answers as a new bucket in AWS does since 2023.
func TestANewBucketAnswersAWSDefaults(t *testing.T) {
	emu := New(t)
	ctx := context.Background()
	c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	b := awssdk.String("site")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if rules := enc.ServerSideEncryptionConfiguration.Rules; len(rules) != 1 || rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != s3types.ServerSideEncryptionAes256 {
		t.Errorf("default encryption %+v", rules)
	}
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if p := pab.PublicAccessBlockConfiguration; !awssdk.ToBool(p.BlockPublicAcls) || !awssdk.ToBool(p.BlockPublicPolicy) || !awssdk.ToBool(p.IgnorePublicAcls) || !awssdk.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("default public access block %+v", p)
	}
	own, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if got := own.OwnershipControls.Rules[0].ObjectOwnership; got != s3types.ObjectOwnershipBucketOwnerEnforced {
		t.Errorf("default object ownership %s", got)
	}
	for name, call := range map[string]func() error{
		"cors":    func() error { _, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b}); return err },
		"website": func() error { _, err := c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b}); return err },
		"lifecycle": func() error {
			_, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
			return err
		},
		"policy": func() error { _, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b}); return err },
		"replication": func() error {
			_, err := c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: b})
			return err
		},
		"object lock": func() error {
			_, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
			return err
		},
	} {
		want := map[string]string{"cors": "NoSuchCORSConfiguration", "website": "NoSuchWebsiteConfiguration",
			"lifecycle": "NoSuchLifecycleConfiguration", "policy": "NoSuchBucketPolicy",
			"replication": "ReplicationConfigurationNotFoundError", "object lock": "ObjectLockConfigurationNotFoundError"}[name]
		if err := call(); !isCode(err, want) {
			t.Errorf("%s of a new bucket: %v, want %s", name, err, want)
		}
	}
	for name, call := range map[string]func() error{
		"acl": func() error { _, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b}); return err },
		"versioning": func() error {
			_, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
			return err
		},
		"logging": func() error { _, err := c.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: b}); return err },
		"accelerate": func() error {
			_, err := c.GetBucketAccelerateConfiguration(ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: b})
			return err
		},
		"request payment": func() error {
			_, err := c.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: b})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Errorf("%s of a new bucket: %v", name, err)
		}
	}

	// Changed and deleted configurations answer as such; a bucket created
	// again under the name starts from the defaults.
	if _, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: b, OwnershipControls: &s3types.OwnershipControls{
		Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnershipObjectWriter}}}}); err != nil {
		t.Fatal(err)
	}
	if own, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b}); err != nil || own.OwnershipControls.Rules[0].ObjectOwnership != s3types.ObjectOwnershipObjectWriter {
		t.Errorf("ownership after PUT: %+v %v", own, err)
	}
	if _, err := c.DeleteBucketOwnershipControls(ctx, &s3.DeleteBucketOwnershipControlsInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b}); !isCode(err, "OwnershipControlsNotFoundError") {
		t.Errorf("ownership after DELETE: %v", err)
	}
	if _, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b}); !isCode(err, "NoSuchPublicAccessBlockConfiguration") {
		t.Errorf("public access block after DELETE: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b}); !isCode(err, "NoSuchBucket") {
		t.Errorf("ownership of a deleted bucket: %v", err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b}); err != nil {
		t.Errorf("public access block of a bucket created again: %v", err)
	}
}

// HTTP APIs and their stages are in GetResources, as AWS lists them.
func TestGetResourcesListsAPIsAndStages(t *testing.T) {
	emu := New(t)
	ctx := context.Background()
	c := apigatewayv2.NewFromConfig(emu.Config())
	tags := map[string]string{"ManagedBy": "chart-app-platform"}
	api, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: awssdk.String("api"), ProtocolType: "HTTP", Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: awssdk.String("$default"), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	all, err := emu.taggedResources(ctx, Region)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range all {
		got = append(got, r.ResourceARN)
	}
	arn := "arn:aws:apigateway:us-east-1::/apis/" + awssdk.ToString(api.ApiId)
	if diff := cmp.Diff([]string{arn, arn + "/stages/$default"}, got); diff != "" {
		t.Fatalf("tagged resources (-want +got):\n%s", diff)
	}
}
