package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// exampleSetup are the parameters of the documents committed in deploy/aws
// (111122223333 is AWS's documentation account).
var exampleSetup = []string{"--account-id", "111122223333", "--external-id", "example-external-id"}

func awsSetupFiles(t *testing.T, args ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(append(append([]string{"aws-setup"}, args...), "--write-dir", dir), &stdout, &stderr, func(string) string { return "" }); code != 0 {
		t.Fatalf("aws-setup exited %d: %s", code, stderr.String())
	}
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out[e.Name()] = string(b)
		if !strings.Contains(stdout.String(), "### "+e.Name()+"\n"+string(b)) {
			t.Errorf("stdout lacks %s as written", e.Name())
		}
	}
	return out
}

func TestAWSSetupMatchesDeployAWS(t *testing.T) {
	got := awsSetupFiles(t, exampleSetup...)
	for name, content := range got {
		committed, err := os.ReadFile(filepath.Join("..", "..", "deploy", "aws", name))
		if err != nil {
			t.Errorf("deploy/aws/%s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(string(committed), content); diff != "" {
			t.Errorf("deploy/aws/%s differs from aws-setup's (regenerate: tenantform aws-setup %s --write-dir deploy/aws) (-committed +generated):\n%s", name, strings.Join(exampleSetup, " "), diff)
		}
	}
}

type iamStatement struct {
	Sid       string
	Effect    string
	Action    any
	NotAction any
	Resource  any
	Principal any
	Condition map[string]map[string]any
}

func statementsOf(t *testing.T, doc string) map[string]iamStatement {
	t.Helper()
	var d struct {
		Version   string
		Statement []iamStatement
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("not a policy document: %v", err)
	}
	if d.Version != "2012-10-17" {
		t.Errorf("Version %q", d.Version)
	}
	out := map[string]iamStatement{}
	for _, s := range d.Statement {
		out[s.Sid] = s
	}
	return out
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func TestAWSSetupDocuments(t *testing.T) {
	files := awsSetupFiles(t, "--account-id", "123456789012", "--external-id", "ext-42", "--regions", "eu-west-1,eu-central-1")
	boundary := "arn:aws:iam::123456789012:policy/tenantform-tenant-boundary"
	role := "arn:aws:iam::123456789012:role/tenantform-platform"
	regions := []string{"eu-west-1", "eu-central-1"}
	owner := func(ns string) map[string]any {
		return map[string]any{ns + "/UserId": "${aws:PrincipalTag/UserId}", ns + "/ProjectId": "${aws:PrincipalTag/ProjectId}"}
	}
	subset := func(t *testing.T, sid string, want, got map[string]any) {
		t.Helper()
		for k, v := range want {
			if !cmp.Equal(v, got[k]) {
				t.Errorf("%s: condition %s = %v, want %v", sid, k, got[k], v)
			}
		}
	}

	trust := statementsOf(t, files[trustFile])
	if c := trust["AssumeWithExternalId"].Condition["StringEquals"]["sts:ExternalId"]; c != "ext-42" {
		t.Errorf("trust: sts:ExternalId = %v", c)
	}
	if got := strs(trust["TagSessionWithTheProject"].Action); !slices.Equal(got, []string{"sts:TagSession"}) {
		t.Errorf("trust: session tagging action %v", got)
	}

	perm := statementsOf(t, files[permissionFile])
	subset(t, "ActOnlyOnTheProjectsAPIs", owner("aws:ResourceTag"), perm["ActOnlyOnTheProjectsAPIs"].Condition["StringEquals"])
	subset(t, "CreateAPIsOnlyWithTheProjectsTags", owner("aws:RequestTag"), perm["CreateAPIsOnlyWithTheProjectsTags"].Condition["StringEquals"])
	if got := perm["CreateAPIsOnlyWithTheProjectsTags"].Condition["StringEquals"]["aws:RequestTag/ManagedBy"]; got != tf.ManagedByTag {
		t.Errorf("create: ManagedBy %v, want %s", got, tf.ManagedByTag)
	}
	subset(t, "CreateRolesOnlyUnderThePathWithTheBoundary", map[string]any{"iam:PermissionsBoundary": boundary}, perm["CreateRolesOnlyUnderThePathWithTheBoundary"].Condition["StringEquals"])
	// Resource ARNs are scoped with the session's tags: IAM by path,
	// the rest by name prefix.
	rolePath := "arn:aws:iam::123456789012:role/tenantform/${aws:PrincipalTag/UserId}/${aws:PrincipalTag/ProjectId}/*"
	for _, sid := range []string{"CreateRolesOnlyUnderThePathWithTheBoundary", "ManageOnlyTheProjectsRoles", "PassOnlyTheProjectsRolesToItsServices"} {
		if got := strs(perm[sid].Resource); !slices.Equal(got, []string{rolePath}) {
			t.Errorf("%s: Resource %v, want %s", sid, got, rolePath)
		}
	}
	if got := strs(perm["TheProjectsBuckets"].Resource); !slices.Equal(got, []string{"arn:aws:s3:::${aws:PrincipalTag/NamePrefix}-*"}) {
		t.Errorf("buckets: Resource %v", got)
	}
	deny := perm["NeverRoleWithoutTheBoundary"]
	if deny.Effect != "Deny" || deny.Condition["StringNotEquals"]["iam:PermissionsBoundary"] != boundary || !slices.Contains(strs(deny.Action), "iam:CreateRole") {
		t.Errorf("no deny of roles without the boundary: %+v", deny)
	}
	protect := perm["NeverThePlatformRoleOrBoundary"]
	if protect.Effect != "Deny" || !cmp.Equal(strs(protect.Resource), []string{role, boundary}) {
		t.Errorf("platform role and boundary not protected: %+v", protect)
	}
	if r := perm["OnlyTheAllowedRegions"]; r.Effect != "Deny" || !cmp.Equal(strs(r.Condition["StringNotEquals"]["aws:RequestedRegion"]), regions) {
		t.Errorf("region condition: %+v", r)
	}

	// The protected tag keys are the ones the engine injects.
	injected := make([]string, 0)
	for k := range tf.PlatformTags(tf.Project{UserID: "a", ProjectID: "p", CreatedAt: time.Now()}, "production") {
		injected = append(injected, k)
	}
	sort.Strings(injected)
	protected := strs(perm["NeverRemoveOrChangePlatformTags"].Condition["ForAnyValue:StringEquals"]["aws:TagKeys"])
	sort.Strings(protected)
	if diff := cmp.Diff(injected, protected); diff != "" {
		t.Errorf("protected tag keys (-injected +protected):\n%s", diff)
	}
	for _, key := range []string{"UserId", "ProjectId"} {
		if !slices.Contains(policy.PlatformTagKeys, key) {
			t.Errorf("ABAC keys on %s, which the policy does not protect", key)
		}
	}

	b := statementsOf(t, files[boundaryFile])
	subset(t, "TheProjectsAPIs", owner("aws:ResourceTag"), b["TheProjectsAPIs"].Condition["StringEquals"])
	if !slices.Contains(strs(b["NoIdentityOrAccountControl"].Action), "iam:*") {
		t.Errorf("the boundary does not deny IAM")
	}

	for _, name := range []string{commandsFile, terraformFile} {
		for _, ref := range []string{trustFile, permissionFile, boundaryFile} {
			if !strings.Contains(files[name], ref) {
				t.Errorf("%s does not use %s", name, ref)
			}
		}
	}
}

func TestAWSSetupRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--external-id", "x1"},
		{"--account-id", "12345", "--external-id", "x1"},
		{"--account-id", "123456789012"},
		{"--account-id", "123456789012", "--external-id", "x1", "--regions", "mars-1"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"aws-setup"}, args...), &stdout, &stderr, func(string) string { return "" }); code != 2 {
			t.Errorf("aws-setup %v exited %d, want 2", args, code)
		}
	}
}
