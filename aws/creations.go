package aws

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// Tagging says how the real provider (hashicorp/aws 5.100.0) tags a
// resource type it creates, which decides how a resource created by an
// apply that died before terraform recorded it can be found again.
type Tagging int

const (
	// TaggedAtCreation: the create call carries the tags (one call). A
	// resource of the type exists only with the project's tags, and the
	// tagged inventory finds it as a stray.
	TaggedAtCreation Tagging = iota + 1
	// TaggedAfterCreation: the create and the tagging are two calls; a
	// crash between them leaves the resource untagged, invisible to the
	// tagged inventory. It is found by its planned name (or prefix and
	// creation time) from the creation record.
	TaggedAfterCreation
	// NotTagged: the type carries no tags.
	NotTagged
)

func (t Tagging) String() string {
	switch t {
	case TaggedAtCreation:
		return "one call"
	case TaggedAfterCreation:
		return "two calls"
	}
	return "not tagged"
}

// CreationProfile is what crash recovery knows about one terraform type.
type CreationProfile struct {
	Tagging Tagging
	// Calls are the provider's create calls, as the emulator's request
	// log shows them (TestProviderCreateCallsPerType).
	Calls string
	// NameAttribute is the planned attribute holding the name, which is
	// also the import id; PrefixAttribute the one holding the prefix of a
	// generated name; DefaultPrefix the provider's prefix when neither is
	// set. Empty NameAttribute: AWS assigns the id (API Gateway), nothing
	// can be looked up before the resource exists.
	NameAttribute   string
	PrefixAttribute string
	DefaultPrefix   string
	// ByName: recovery looks resources of the type up by the recorded
	// name or prefix, with their creation time, besides the tagged
	// inventory (which may predate the crash). For the two-call types this
	// is the only way to find an untagged leftover.
	ByName bool
}

// Creations is, per terraform type tenantform supports, how the real
// provider creates and tags it. Recovery finds TaggedAtCreation types in
// the tagged inventory and TaggedAfterCreation types by name.
var Creations = map[string]CreationProfile{
	"aws_s3_bucket": {Tagging: TaggedAfterCreation, Calls: "CreateBucket, then PutBucketTagging",
		NameAttribute: "bucket", PrefixAttribute: "bucket_prefix", DefaultPrefix: "terraform-", ByName: true},
	"aws_dynamodb_table": {Tagging: TaggedAtCreation, Calls: "CreateTable with Tags", NameAttribute: "name", ByName: true},
	"aws_iam_role": {Tagging: TaggedAtCreation, Calls: "CreateRole with Tags",
		NameAttribute: "name", PrefixAttribute: "name_prefix", DefaultPrefix: "terraform-", ByName: true},
	"aws_lambda_function": {Tagging: TaggedAtCreation, Calls: "CreateFunction with Tags", NameAttribute: "function_name", ByName: true},
	"aws_cloudwatch_log_group": {Tagging: TaggedAtCreation, Calls: "CreateLogGroup with tags",
		NameAttribute: "name", PrefixAttribute: "name_prefix", DefaultPrefix: "terraform-", ByName: true},
	"aws_apigatewayv2_api":   {Tagging: TaggedAtCreation, Calls: "CreateApi with Tags (AWS assigns the id)"},
	"aws_apigatewayv2_stage": {Tagging: TaggedAtCreation, Calls: "CreateStage with Tags"},
}

// PlannedName reads the name, or the prefix of a generated name, that a
// planned create of resourceType will have from its planned values
// (tf.PlannedCreate.Values). Both are empty when the type's names are
// assigned by AWS or unknown until apply.
func PlannedName(resourceType string, values map[string]any) (name, prefix string) {
	prof, ok := Creations[resourceType]
	if !ok || prof.NameAttribute == "" {
		return "", ""
	}
	if name, _ = values[prof.NameAttribute].(string); name != "" {
		return name, ""
	}
	if prof.PrefixAttribute == "" {
		return "", ""
	}
	if prefix, _ = values[prof.PrefixAttribute].(string); prefix != "" {
		return "", prefix
	}
	// Neither is known: the provider generates "terraform-<suffix>" (a
	// name computed from another resource is unknown too; the guess then
	// matches nothing, since only a generated suffix in the run's window
	// matches a prefix).
	return "", prof.DefaultPrefix
}

// generatedSuffix is what the provider appends to a prefix
// (id.PrefixedUniqueId): a UTC timestamp to 1/10000 s, then an 8-digit hex
// counter.
var generatedSuffix = regexp.MustCompile(`^([0-9]{14})[0-9]{4}[0-9a-f]{8}$`)

// GeneratedAt reports whether name is prefix followed by a suffix the
// provider generates, and the time that suffix encodes.
func GeneratedAt(prefix, name string) (time.Time, bool) {
	if prefix == "" || !strings.HasPrefix(name, prefix) {
		return time.Time{}, false
	}
	m := generatedSuffix.FindStringSubmatch(name[len(prefix):])
	if m == nil {
		return time.Time{}, false
	}
	at, err := time.Parse("20060102150405", m[1])
	return at, err == nil
}

// CreationSkew widens a run's window on both sides: AWS's clock and the
// reconciler's may differ by this much, and CreationDate has whole seconds.
const CreationSkew = 5 * time.Second

// Candidate is a resource that exists in AWS, as a lookup by name sees it.
type Candidate struct {
	Type      string // terraform type (aws_s3_bucket)
	Name      string
	Region    string
	CreatedAt time.Time
	// Tags are its live tags; empty when it has none.
	Tags map[string]string
	// ARN is its ARN (for deleting it).
	ARN string
}

// WantedCreate is a resource the plan being made would create, whose
// address is not in the state: a find with its name or prefix is adopted
// into Address.
type WantedCreate struct {
	Address, Type, Name, Prefix string
}

// CreationFacts is everything MatchCreations decides from.
type CreationFacts struct {
	// UserID and ProjectID are the project recovering.
	UserID, ProjectID string
	// Pending are its creation records of applies that did not succeed.
	Pending []store.PendingCreation
	// Others are other projects' creation records of runs whose window
	// meets ours: a resource one of them may have created is not ours to
	// decide about.
	Others []store.PendingCreation
	// Candidates are what the lookups by name found.
	Candidates []Candidate
	// InState are "type/name" of the resources the project's state holds.
	InState map[string]bool
	// Imported are the names (import ids) the plan imports already (the
	// tagged inventory found them): left to that import.
	Imported map[string]bool
	// Wanted are the plan's creates.
	Wanted []WantedCreate
}

// CreationFind is a resource an interrupted apply created and terraform
// never recorded.
type CreationFind struct {
	Candidate Candidate
	// Run is the apply run that created it.
	Run int64
	// AdoptInto is the address that imports it; "" means the configuration
	// does not declare it and it is deleted.
	AdoptInto string
}

// CreationSkip is a candidate that matched a record's name but is left
// alone, and why.
type CreationSkip struct {
	Candidate Candidate
	Why       string
}

// MatchCreations decides, for each candidate, whether the project's
// interrupted applies created it: its name is a recorded name, or a
// recorded prefix followed by a suffix the provider generates at a time
// inside the run's window; and its creation time is inside the window.
// It is then adopted into a planned create of that name or prefix, or
// deleted. A candidate is left alone when it is in the state, carries
// tags that are not this project's, or another project's pending record
// could claim it (S3 names are global: another tenant may own the name).
func MatchCreations(f CreationFacts) (finds []CreationFind, skips []CreationSkip) {
	cands := append([]Candidate(nil), f.Candidates...)
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].CreatedAt.Equal(cands[j].CreatedAt) {
			return cands[i].CreatedAt.Before(cands[j].CreatedAt)
		}
		return cands[i].Name < cands[j].Name
	})
	used := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range cands {
		key := c.Type + "/" + c.Name
		if seen[key] || f.InState[key] || f.Imported[c.Name] {
			continue
		}
		seen[key] = true
		rec, matched, why := recordFor(c, f.Pending)
		if rec == nil {
			if matched {
				skips = append(skips, CreationSkip{Candidate: c, Why: why})
			}
			continue
		}
		if owner, ok := ownerOf(c.Tags); ok {
			if !owner.is(store.Key{UserID: f.UserID, ProjectID: f.ProjectID}) {
				skips = append(skips, CreationSkip{Candidate: c, Why: "it carries another project's tags (" + owner.project + ")"})
				continue
			}
		} else if len(c.Tags) > 0 {
			skips = append(skips, CreationSkip{Candidate: c, Why: "it carries tags that are not tenantform's: " + strings.Join(sortedKeys(c.Tags), ", ")})
			continue
		} else if Creations[c.Type].Tagging == TaggedAtCreation {
			skips = append(skips, CreationSkip{Candidate: c, Why: "it is untagged, and the provider tags a " + c.Type + " in the create call itself: this project did not make it"})
			continue
		}
		if o, _, _ := recordFor(c, f.Others); o != nil {
			skips = append(skips, CreationSkip{Candidate: c, Why: fmt.Sprintf(
				"another project's apply (run %d) was creating a %s named %q at the same time", o.RunNumber, c.Type, recordedName(*o))})
			continue
		}
		find := CreationFind{Candidate: c, Run: rec.RunNumber}
		for _, w := range f.Wanted {
			if used[w.Address] || w.Type != c.Type {
				continue
			}
			if w.Name == c.Name && w.Name != "" || w.Name == "" && w.Prefix != "" && generated(w.Prefix, c.Name) {
				find.AdoptInto = w.Address
				used[w.Address] = true
				break
			}
		}
		finds = append(finds, find)
	}
	return finds, skips
}

// recordFor returns the first record c could have been created by. matched
// reports that a record's name or prefix matches but its window does not,
// and why.
func recordFor(c Candidate, recs []store.PendingCreation) (rec *store.PendingCreation, matched bool, why string) {
	for i := range recs {
		r := &recs[i]
		if r.Type != c.Type {
			continue
		}
		from, to := r.StartedAt.Add(-CreationSkew), r.FinishedAt.Add(CreationSkew)
		switch {
		case r.Name != "":
			if r.Name != c.Name {
				continue
			}
		case r.NamePrefix != "":
			at, ok := GeneratedAt(r.NamePrefix, c.Name)
			if !ok {
				continue
			}
			// The suffix has whole seconds here: widen by one.
			if at.Before(from.Add(-time.Second)) || at.After(to) {
				matched, why = true, fmt.Sprintf("its name says it was made at %s, outside run %d's window", at.Format(time.RFC3339), r.RunNumber)
				continue
			}
		default:
			continue
		}
		if c.CreatedAt.Before(from) || c.CreatedAt.After(to) {
			matched, why = true, fmt.Sprintf("created at %s, outside run %d's window %s to %s",
				c.CreatedAt.UTC().Format(time.RFC3339), r.RunNumber, r.StartedAt.Format(time.RFC3339), r.FinishedAt.Format(time.RFC3339))
			continue
		}
		return r, true, ""
	}
	return nil, matched, why
}

func generated(prefix, name string) bool {
	_, ok := GeneratedAt(prefix, name)
	return ok
}

func recordedName(r store.PendingCreation) string {
	if r.Name != "" {
		return r.Name
	}
	return r.NamePrefix + "*"
}

// FindCreated looks up, by the records' names and prefixes, the resources
// of their ByName types that exist, with their creation time and live tags
// (S3: ListBuckets gives each bucket's CreationDate; DynamoDB, IAM, Lambda
// and CloudWatch Logs: a describe by name, or a listing by prefix).
func (o *Orphans) FindCreated(ctx context.Context, recs []store.PendingCreation) ([]Candidate, error) {
	var out []Candidate
	listedBuckets := map[string]bool{}
	for _, r := range recs {
		if !Creations[r.Type].ByName || r.Name == "" && r.NamePrefix == "" {
			continue
		}
		c := o.clientsFor(r.Region)
		var found []Candidate
		var err error
		switch r.Type {
		case "aws_s3_bucket":
			if listedBuckets[r.Region] {
				continue
			}
			listedBuckets[r.Region] = true
			found, err = listBuckets(ctx, c, r.Region)
		case "aws_dynamodb_table":
			found, err = describeTable(ctx, c, r)
		case "aws_iam_role":
			found, err = findRoles(ctx, c, r)
		case "aws_lambda_function":
			found, err = getFunction(ctx, c, r)
		case "aws_cloudwatch_log_group":
			found, err = findLogGroups(ctx, c, r)
		}
		if err != nil && Creations[r.Type].Tagging == TaggedAtCreation {
			// The tagged inventory finds it as well, only later: a lookup
			// that fails must not hold the project's applies back.
			o.log.Warn("cannot look a resource up by name; the tagged inventory will find it", zap.String("type", r.Type),
				zap.String("name", recordedName(r)), zap.Error(err))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("looking up the %s %s: %w", r.Type, recordedName(r), err)
		}
		for _, cand := range found {
			if !anyRecordNames(cand, recs) {
				continue
			}
			a, _ := ParseARN(cand.ARN)
			tags, err := deleters[ResourceType(cand.ARN)].tags(ctx, c, a)
			if isGone(err) {
				continue
			}
			if err != nil && Creations[r.Type].Tagging == TaggedAtCreation {
				o.log.Warn("cannot read a resource's tags; the tagged inventory will find it", zap.String("arn", cand.ARN), zap.Error(err))
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading the tags of %s: %w", cand.ARN, err)
			}
			cand.Tags = tags
			out = append(out, cand)
		}
	}
	return out, nil
}

func listBuckets(ctx context.Context, c *serviceClients, region string) ([]Candidate, error) {
	var out []Candidate
	var token *string
	for {
		page, err := c.s3.ListBuckets(ctx, &s3.ListBucketsInput{ContinuationToken: token})
		if err != nil {
			return nil, err
		}
		for _, b := range page.Buckets {
			name := awssdk.ToString(b.Name)
			out = append(out, Candidate{Type: "aws_s3_bucket", Name: name, Region: region, CreatedAt: awssdk.ToTime(b.CreationDate), ARN: "arn:aws:s3:::" + name})
		}
		if awssdk.ToString(page.ContinuationToken) == "" {
			return out, nil
		}
		token = page.ContinuationToken
	}
}

func describeTable(ctx context.Context, c *serviceClients, r store.PendingCreation) ([]Candidate, error) {
	if r.Name == "" {
		return nil, nil
	}
	out, err := c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: awssdk.String(r.Name)})
	if isGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []Candidate{{Type: r.Type, Name: r.Name, Region: r.Region, CreatedAt: awssdk.ToTime(out.Table.CreationDateTime), ARN: awssdk.ToString(out.Table.TableArn)}}, nil
}

func findRoles(ctx context.Context, c *serviceClients, r store.PendingCreation) ([]Candidate, error) {
	if r.Name != "" {
		out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(r.Name)})
		if isGone(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []Candidate{{Type: r.Type, Name: r.Name, Region: r.Region, CreatedAt: awssdk.ToTime(out.Role.CreateDate), ARN: awssdk.ToString(out.Role.Arn)}}, nil
	}
	var found []Candidate
	pages := iam.NewListRolesPaginator(c.iam, &iam.ListRolesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, role := range page.Roles {
			if name := awssdk.ToString(role.RoleName); generated(r.NamePrefix, name) {
				found = append(found, Candidate{Type: r.Type, Name: name, Region: r.Region, CreatedAt: awssdk.ToTime(role.CreateDate), ARN: awssdk.ToString(role.Arn)})
			}
		}
	}
	return found, nil
}

func getFunction(ctx context.Context, c *serviceClients, r store.PendingCreation) ([]Candidate, error) {
	if r.Name == "" {
		return nil, nil
	}
	out, err := c.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: awssdk.String(r.Name)})
	if isGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Lambda keeps no creation time: a function the run created was last
	// modified by it, inside its window.
	var modified time.Time
	last := awssdk.ToString(out.Configuration.LastModified)
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if modified, err = time.Parse(layout, last); err == nil {
			break
		}
	}
	if err != nil {
		// An unreadable time is outside every window: the function is
		// left alone (and to the tagged inventory).
		modified = time.Time{}
	}
	return []Candidate{{Type: r.Type, Name: r.Name, Region: r.Region, CreatedAt: modified, ARN: awssdk.ToString(out.Configuration.FunctionArn)}}, nil
}

func findLogGroups(ctx context.Context, c *serviceClients, r store.PendingCreation) ([]Candidate, error) {
	prefix := r.Name
	if prefix == "" {
		prefix = r.NamePrefix
	}
	var found []Candidate
	pages := cloudwatchlogs.NewDescribeLogGroupsPaginator(c.logs, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: awssdk.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range page.LogGroups {
			name := awssdk.ToString(g.LogGroupName)
			found = append(found, Candidate{Type: r.Type, Name: name, Region: r.Region,
				CreatedAt: time.UnixMilli(awssdk.ToInt64(g.CreationTime)).UTC(), ARN: strings.TrimSuffix(awssdk.ToString(g.Arn), ":*")})
		}
	}
	return found, nil
}

// anyRecordNames reports whether a record names c or a prefix of it,
// whatever the window (MatchCreations judges that).
func anyRecordNames(c Candidate, recs []store.PendingCreation) bool {
	for _, r := range recs {
		if r.Type == c.Type && (r.Name != "" && r.Name == c.Name || r.Name == "" && generated(r.NamePrefix, c.Name)) {
			return true
		}
	}
	return false
}

// DeleteCreated deletes a find the configuration does not declare. Its
// live tags are read again first: it is deleted only while they are none
// or this project's, as when it was matched.
func (o *Orphans) DeleteCreated(ctx context.Context, userID, projectID string, c Candidate) Removal {
	arn := c.ARN
	if arn == "" && c.Type == "aws_s3_bucket" {
		arn = "arn:aws:s3:::" + c.Name
	}
	typ := ResourceType(arn)
	r := Removal{ARN: arn, Type: typ, Region: c.Region}
	d, ok := deleters[typ]
	if !ok {
		r.Skipped = "tenantform does not delete resources of type " + c.Type
		return r
	}
	a, _ := ParseARN(arn)
	cl := o.clientsFor(c.Region)
	live, err := d.tags(ctx, cl, a)
	if isGone(err) {
		r.Skipped = "already gone"
		return r
	}
	if err != nil {
		r.Error = fmt.Sprintf("reading its tags: %v", err)
		return r
	}
	if owner, ok := ownerOf(live); ok && !owner.is(store.Key{UserID: userID, ProjectID: projectID}) || !ok && len(live) > 0 {
		r.Skipped = "it has been tagged since, and not as this project's"
		return r
	}
	steps, err := d.plan(ctx, cl, a)
	if isGone(err) {
		r.Skipped = "already gone"
		return r
	}
	if err != nil {
		r.Error = fmt.Sprintf("planning its deletion: %v", err)
		return r
	}
	for _, s := range steps {
		r.Steps = append(r.Steps, s.what)
		if err := s.do(ctx); err != nil && !isGone(err) {
			r.Error = fmt.Sprintf("%s: %v", s.what, err)
			return r
		}
	}
	r.Deleted = true
	return r
}
