package aws_test

import (
	"sort"
	"testing"
	"time"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/store"
)

// FindCreated and DeleteCreated against the emulator, over the real SDK:
// buckets are found by recorded name or prefix with their CreationDate and
// live tags, a table by name with its creation time and tags; an untagged
// find is deleted, one tagged by another project is refused.
func TestFindAndDeleteCreatedInTheEmulator(t *testing.T) {
	ctx := t.Context()
	emu := awstest.New(t)
	before := time.Now().Add(-time.Minute)
	createBucket(t, emu, "alice-site", nil)
	createBucket(t, emu, "alice-logs-20261201120000000000000001", nil)
	createBucket(t, emu, "bob-site", platformTags("bob", "site"))
	createBucket(t, emu, "unrelated", nil)
	createTable(t, emu, "alice-items", platformTags("alice", "site"))
	after := time.Now().Add(time.Minute)

	o, err := tfaws.NewOrphans(tfaws.OrphanConfig{Base: emu.Config(), Store: nopOrphanStore{}})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(typ, name, prefix string) store.PendingCreation {
		return store.PendingCreation{CreationRecord: store.CreationRecord{Type: typ, Name: name, NamePrefix: prefix, Region: awstest.Region},
			RunNumber: 1, StartedAt: before, FinishedAt: after}
	}
	found, err := o.FindCreated(ctx, []store.PendingCreation{
		rec("aws_s3_bucket", "alice-site", ""), rec("aws_s3_bucket", "", "alice-logs-"), rec("aws_s3_bucket", "bob-site", ""),
		rec("aws_dynamodb_table", "alice-items", ""), rec("aws_dynamodb_table", "alice-missing", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	var names []string
	for _, c := range found {
		names = append(names, c.Type+" "+c.Name)
		if c.CreatedAt.Before(before) || c.CreatedAt.After(after) {
			t.Errorf("%s created at %s, not between %s and %s", c.Name, c.CreatedAt, before, after)
		}
	}
	want := []string{"aws_dynamodb_table alice-items", "aws_s3_bucket alice-logs-20261201120000000000000001", "aws_s3_bucket alice-site", "aws_s3_bucket bob-site"}
	if len(names) != len(want) {
		t.Fatalf("found %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("found %v, want %v", names, want)
		}
	}
	if found[0].Tags["UserId"] != "alice" || len(found[2].Tags) != 0 || found[3].Tags["UserId"] != "bob" {
		t.Errorf("live tags: table %v, alice-site %v, bob-site %v", found[0].Tags, found[2].Tags, found[3].Tags)
	}

	if r := o.DeleteCreated(ctx, "alice", "site", found[2]); !r.Deleted || r.Error != "" {
		t.Errorf("deleting the untagged find: %+v", r)
	}
	if bucketExists(t, emu, "alice-site") {
		t.Error("alice-site still exists")
	}
	if r := o.DeleteCreated(ctx, "alice", "site", found[3]); r.Deleted || r.Skipped == "" {
		t.Errorf("deleting bob's bucket: %+v", r)
	}
	if !bucketExists(t, emu, "bob-site") {
		t.Error("bob's bucket was deleted")
	}
	if r := o.DeleteCreated(ctx, "alice", "site", found[0]); !r.Deleted {
		t.Errorf("deleting alice's tagged table: %+v", r)
	}
	if tableExists(t, emu, "alice-items") {
		t.Error("alice-items still exists")
	}
}

// nopOrphanStore is an OrphanStore for an Orphans used only to find and
// delete what an interrupted apply created: no sweep calls it.
type nopOrphanStore struct{ tfaws.OrphanStore }
