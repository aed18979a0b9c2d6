package aws

import (
	"sort"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// ProjectFacts is what the reconciler knows of one project for comparing
// it with the inventory. Nothing here needs a terraform process: the ARNs
// come from the state in the pg backend.
type ProjectFacts struct {
	UserID, ProjectID string
	// Region is the project's region; an ARN without one (S3) is listed
	// there.
	Region string
	// PlatformTags are the tags every resource of the project must carry,
	// exactly as rendered into the provider's default_tags (Project,
	// Environment, ManagedBy, UserId, ProjectId, CreatedAt).
	PlatformTags map[string]string
	// StateARNs are the "arn" attributes of the resources in the
	// project's terraform state (tf.StateResource.ARN; empty ones are
	// ignored).
	StateARNs []string
	// SettledAt is when the project's last terraform run ended. A listing
	// from before it may miss what that run created or still show what it
	// destroyed, so it is not compared (Stale).
	SettledAt time.Time
}

// TagChange is a platform tag of a resource in state that differs from
// what tenantform rendered (Got is "" when the tag is missing).
type TagChange struct {
	ARN  string `json:"arn"`
	Key  string `json:"key"`
	Want string `json:"want"`
	Got  string `json:"got"`
}

// Comparison is one project's state against the tagged inventory.
type Comparison struct {
	// Stale: a region the project uses was never listed, or not since the
	// project's last run; nothing else is set, and the next listing
	// decides.
	Stale bool
	// Missing are resources in state that the inventory no longer shows:
	// deleted out of band, or stripped of their ManagedBy tag. Drift.
	Missing []string
	// Retagged are resources in state whose platform tags changed. Drift.
	Retagged []TagChange
	// Strays carry the project's Project tag but are not in its state: a
	// partial apply cut short before the state was saved, or something
	// created out of band.
	Strays []store.InventoryItem
}

// Drifted reports whether the project's resources no longer match its
// state: the reconciler plans and applies (a run with reason Drift).
func (c Comparison) Drifted() bool { return len(c.Missing) > 0 || len(c.Retagged) > 0 }

// InSync reports whether a fresh listing shows exactly the state: the
// project needs no terraform run.
func (c Comparison) InSync() bool { return !c.Stale && !c.Drifted() && len(c.Strays) == 0 }

// CompareProject compares a project's state with the inventory. inv may be
// the whole snapshot (store.Inventory) or the project's part
// (store.ProjectInventory): with the whole one, a resource re-tagged to
// another project shows as Retagged rather than Missing.
func CompareProject(p ProjectFacts, inv store.Inventory) Comparison {
	byARN := make(map[string]store.InventoryItem, len(inv.Items))
	for _, it := range inv.Items {
		byARN[it.ARN] = it
	}

	regions := map[string]bool{p.Region: true}
	inState := map[string]bool{}
	var stateARNs []string
	for _, arn := range p.StateARNs {
		if arn == "" || inState[arn] {
			continue
		}
		inState[arn] = true
		if !tracked(arn) {
			continue
		}
		stateARNs = append(stateARNs, arn)
		if a, _ := ParseARN(arn); a.Region != "" {
			regions[a.Region] = true
		}
	}
	for region := range regions {
		at, ok := inv.ListedAt[region]
		if !ok || at.Before(p.SettledAt) {
			return Comparison{Stale: true}
		}
	}

	var c Comparison
	sort.Strings(stateARNs)
	for _, arn := range stateARNs {
		it, ok := byARN[arn]
		if !ok {
			c.Missing = append(c.Missing, arn)
			continue
		}
		for _, k := range sortedKeys(p.PlatformTags) {
			if got := it.Tags[k]; got != p.PlatformTags[k] {
				c.Retagged = append(c.Retagged, TagChange{ARN: arn, Key: k, Want: p.PlatformTags[k], Got: got})
			}
		}
	}
	key := store.Key{UserID: p.UserID, ProjectID: p.ProjectID}
	for _, it := range inv.Items {
		if owner, ok := ownerOf(it.Tags); ok && owner.is(key) && !inState[it.ARN] {
			c.Strays = append(c.Strays, it)
		}
	}
	return c
}

// projectRef names the project a resource's tags point to.
type projectRef struct {
	key     store.Key
	project string
}

// is reports whether the reference names the project key.
func (r projectRef) is(key store.Key) bool {
	if r.key != (store.Key{}) {
		return r.key == key
	}
	return r.project == tf.ProjectTag(key.UserID, key.ProjectID)
}

// ownerOf reads the project a resource belongs to from its platform tags.
// UserId and ProjectId name it exactly; the Project tag alone is
// ambiguous ("chart-app-a-b-c" is user a's project b-c or user a-b's
// project c), so it is used only when they are absent.
func ownerOf(tags map[string]string) (projectRef, bool) {
	if tags["ManagedBy"] != tf.ManagedByTag {
		return projectRef{}, false
	}
	u, p := tags["UserId"], tags["ProjectId"]
	if u != "" && p != "" {
		return projectRef{key: store.Key{UserID: u, ProjectID: p}, project: tf.ProjectTag(u, p)}, true
	}
	if project := tags["Project"]; project != "" {
		return projectRef{project: project}, true
	}
	return projectRef{}, false
}

// FindOrphans returns the inventory's resources whose tags name no live
// project, or an earlier incarnation of one (a readable CreatedAt tag
// other than the row's). live is every project row (store.LiveProjects).
// Only resources carrying ManagedBy=chart-app-platform and naming a
// project (UserId and ProjectId, else Project) are considered; anything
// else is never an orphan of tenantform's. Whether one is deleted is
// decided again when it is (Orphans).
func FindOrphans(items []store.InventoryItem, live []store.LiveProject) []store.InventoryItem {
	liveKeys := make(map[store.Key]time.Time, len(live))
	liveTags := make(map[string]bool, len(live))
	for _, p := range live {
		liveKeys[p.Key] = p.CreatedAt
		liveTags[tf.ProjectTag(p.UserID, p.ProjectID)] = true
	}
	var out []store.InventoryItem
	for _, it := range items {
		owner, ok := ownerOf(it.Tags)
		if !ok {
			continue
		}
		if owner.key == (store.Key{}) {
			if !liveTags[owner.project] {
				out = append(out, it)
			}
			continue
		}
		if created, isLive := liveKeys[owner.key]; !isLive || otherIncarnation(it.Tags["CreatedAt"], created) {
			out = append(out, it)
		}
	}
	return out
}

// otherIncarnation reports whether a CreatedAt tag names another
// incarnation than the project row created at created. The tag has whole
// seconds, so both are compared at seconds (two incarnations created
// within one second look alike); a missing or unreadable tag cannot say,
// and is taken for the row's.
func otherIncarnation(tag string, created time.Time) bool {
	t, err := time.Parse(time.RFC3339, tag)
	return err == nil && !t.Truncate(time.Second).Equal(created.Truncate(time.Second))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
