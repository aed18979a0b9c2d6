package aws

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// TestOwnedBy: the decision, at the moment of deleting, whether the project
// row (read under its lock) owns a resource tagged with its key.
func TestOwnedBy(t *testing.T) {
	key := store.Key{UserID: "alice", ProjectID: "demo"}
	tagged := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	tags := func(createdAt string) map[string]string {
		return map[string]string{"ManagedBy": "chart-app-platform", "UserId": "alice", "ProjectId": "demo", "CreatedAt": createdAt}
	}
	for _, tc := range []struct {
		name string
		tags map[string]string
		row  *store.OwnerRow
		// want is a piece of the reason it is kept; "" means delete.
		want string
	}{
		{"no project row", tags(tagged.Format(time.RFC3339)), nil, ""},
		{"no row, no CreatedAt tag", tags(""), nil, ""},
		{"the same incarnation", tags(tagged.Format(time.RFC3339)), &store.OwnerRow{CreatedAt: tagged.Add(123456 * time.Microsecond)}, "owns it"},
		{"the same incarnation, being deleted", tags(tagged.Format(time.RFC3339)), &store.OwnerRow{CreatedAt: tagged, Deleting: true}, "finalizer"},
		{"an earlier incarnation", tags(tagged.Format(time.RFC3339)), &store.OwnerRow{CreatedAt: tagged.Add(time.Hour)}, ""},
		{"an earlier incarnation, the project held by a reconciler", tags(tagged.Format(time.RFC3339)), &store.OwnerRow{CreatedAt: tagged.Add(time.Hour), Leased: true}, "reconciler holds it"},
		{"an earlier incarnation, the project being deleted", tags(tagged.Format(time.RFC3339)), &store.OwnerRow{CreatedAt: tagged.Add(time.Hour), Deleting: true}, "finalizer"},
		{"a project and no CreatedAt tag", tags(""), &store.OwnerRow{CreatedAt: tagged.Add(time.Hour)}, "missing or unreadable"},
		{"a project and an unreadable CreatedAt tag", tags("yesterday"), &store.OwnerRow{CreatedAt: tagged.Add(time.Hour)}, "missing or unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ownedBy(tc.tags, key, tc.row)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("ownedBy = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestOrphanedLongEnough: two listings, at least the grace period apart.
func TestOrphanedLongEnough(t *testing.T) {
	first := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		lastSeen time.Time
		grace    time.Duration
		wantOK   bool
	}{
		{"one listing", first, time.Nanosecond, false},
		{"a second listing within the grace period", first.Add(14 * time.Minute), 15 * time.Minute, false},
		{"a second listing the grace period later", first.Add(15 * time.Minute), 15 * time.Minute, true},
		{"a second listing, a tiny grace period", first.Add(time.Microsecond), time.Nanosecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := orphanedLongEnough(store.OrphanMark{ListedAt: first, LastSeen: tc.lastSeen}, tc.grace)
			if (got == "") != tc.wantOK {
				t.Errorf("orphanedLongEnough = %q; want ok %v", got, tc.wantOK)
			}
		})
	}
}

// TestChangedOwnerTag: every owner tag must still be the listed one, and
// the listed ManagedBy must be tenantform's.
func TestChangedOwnerTag(t *testing.T) {
	listed := map[string]string{"ManagedBy": "chart-app-platform", "UserId": "alice", "ProjectId": "demo", "CreatedAt": "2026-11-30T11:00:00Z", "Project": "chart-app-alice-demo"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range listed {
			m[kk] = vv
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name         string
		listed, live map[string]string
		want         string
	}{
		{"unchanged", listed, listed, ""},
		{"another tenant tag changed", listed, with("Owner", "bob"), ""},
		{"re-created: another CreatedAt", listed, with("CreatedAt", "2026-12-01T09:30:00Z"), "CreatedAt"},
		{"CreatedAt removed", listed, with("CreatedAt", ""), "CreatedAt"},
		{"another project", listed, with("ProjectId", "other"), "ProjectId"},
		{"another user", listed, with("UserId", "bob"), "UserId"},
		{"another platform", listed, with("ManagedBy", "another-platform"), "ManagedBy"},
		{"untagged", listed, map[string]string{}, "ManagedBy"},
		{"a listing that is not tenantform's", with("ManagedBy", "another-platform"), with("ManagedBy", "another-platform"), "ManagedBy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := changedOwnerTag(tc.listed, tc.live)
			if got != tc.want || changed != (tc.want != "") {
				t.Errorf("changedOwnerTag = %q, %v; want %q", got, changed, tc.want)
			}
		})
	}
}
