package aws_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
)

const lambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// createRole makes an IAM role in the emulator under path with tags, an
// inline policy and an AWS managed policy attached; it returns its ARN.
func createRole(t *testing.T, emu *awstest.Emulator, path, name string, tags map[string]string) string {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(emu.Config())
	var ts []iamtypes.Tag
	for k, v := range tags {
		ts = append(ts, iamtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
	}
	out, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String(name), Path: awssdk.String(path),
		AssumeRolePolicyDocument: awssdk.String(lambdaTrust), Tags: ts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String(name), PolicyName: awssdk.String("own"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String(name),
		PolicyArn: awssdk.String("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")}); err != nil {
		t.Fatal(err)
	}
	return awssdk.ToString(out.Role.Arn)
}

func roleExists(t *testing.T, emu *awstest.Emulator, name string) bool {
	t.Helper()
	_, err := iam.NewFromConfig(emu.Config()).GetRole(context.Background(), &iam.GetRoleInput{RoleName: awssdk.String(name)})
	return err == nil
}

// GetResources does not list IAM roles, so the inventory lists them
// through IAM, with the IAM region's listing: a tagged role (under any
// path) is there with its tags, an untagged one and another platform's
// are not, and a role whose project is gone is swept, its inline policy
// and attachment first, after the regional resources that may use it.
func TestOrphanRolesAreListedAndSweptAfterWhatUsesThem(t *testing.T) {
	emu, st := orphanWorld(t)
	orphan := createRole(t, emu, "/tenantform/carol/old/", "carol-old-fn", platformTags("carol", "old"))
	live := createRole(t, emu, "/", "alice-demo-fn", platformTags("alice", "demo"))
	createRole(t, emu, "/", "plain-role", nil)
	createRole(t, emu, "/", "their-role", with(platformTags("carol", "old"), "ManagedBy", "another-platform"))
	relist(t, emu, st)

	inv, err := st.Inventory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, it := range inv.Items {
		if it.Type != "iam:role" {
			continue
		}
		roles = append(roles, it.ARN)
		if it.Region != "us-east-1" || it.Tags["ProjectId"] == "" {
			t.Errorf("role item %+v: want the IAM region us-east-1 and its tags", it)
		}
	}
	if diff := cmp.Diff([]string{live, orphan}, roles); diff != "" {
		t.Fatalf("IAM roles in the inventory (-want +got):\n%s", diff)
	}

	got := sweepTwice(t, newOrphans(t, emu, st, tfaws.CleanupDelete), emu, st)
	want := append(wantRemovals(true), tfaws.Removal{ARN: orphan, Type: "iam:role", Region: "us-east-1", Project: "chart-app-carol-old",
		Steps: []string{
			"detach policy arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole from role carol-old-fn",
			"delete inline policy own of role carol-old-fn",
			"delete role carol-old-fn",
		}, Deleted: true})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sweep (-want +got):\n%s", diff)
	}
	if roleExists(t, emu, "carol-old-fn") {
		t.Error("the orphaned role is still there")
	}
	for _, name := range []string{"alice-demo-fn", "plain-role", "their-role"} {
		if !roleExists(t, emu, name) {
			t.Errorf("role %s was deleted", name)
		}
	}
}

// In role mode every tenant role lives under /tenantform/: the listing
// reads only those (one ListRoleTags call per role it lists).
func TestTheInventoryListsOnlyRolesUnderItsIAMPath(t *testing.T) {
	emu := awstest.New(t)
	st := openStore(t)
	under := createRole(t, emu, "/tenantform/carol/old/", "carol-old-fn", platformTags("carol", "old"))
	createRole(t, emu, "/", "elsewhere", platformTags("carol", "old"))
	r, err := tfaws.NewRefresher(tfaws.InventoryConfig{Base: emu.Config(), Regions: []string{"us-west-2", "us-east-1"},
		Store: st, IAMPathPrefix: "/tenantform/"})
	if err != nil {
		t.Fatal(err)
	}
	// us-east-1 is the emulator's (the platform's) region: the roles go
	// with its listing, not the first region's.
	west, err := r.List(t.Context(), "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	east, err := r.List(t.Context(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{under}, arns(east)); diff != "" || len(west) != 0 {
		t.Fatalf("us-east-1 listing (-want +got):\n%s\nus-west-2 listing: %v", diff, arns(west))
	}
}

// A listing whose IAM part fails keeps the roles of the last good one:
// replacing the region's rows without them would drop every role from the
// inventory (its projects due twice, gone then back; the orphans' grace
// period restarted). IAM is made to fail in the SDK, before the request
// leaves, for the IAM client only.
func TestAFailedRoleListingKeepsTheLastRoles(t *testing.T) {
	emu := awstest.New(t)
	st := openStore(t)
	role := createRole(t, emu, "/tenantform/carol/app/", "carol-app-fn", platformTags("carol", "app"))
	var iamDown atomic.Bool
	base := emu.Config()
	base.APIOptions = append(base.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("failIAM",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if iamDown.Load() && awsmiddleware.GetServiceID(ctx) == "IAM" {
					return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("IAM is throttling")
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	r, err := tfaws.NewRefresher(tfaws.InventoryConfig{Base: base, Regions: []string{"us-east-1"},
		Store: st, IAMPathPrefix: "/tenantform/"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := r.List(t.Context(), "us-east-1")
	if err != nil || !slices.Contains(arns(first), role) {
		t.Fatalf("first listing: %v, %v; want the role", arns(first), err)
	}
	iamDown.Store(true)
	second, err := r.List(t.Context(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(arns(second), role) {
		t.Fatalf("listing while IAM fails: %v; want the last listing's role kept", arns(second))
	}
}
