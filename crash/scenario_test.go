//go:build crash || crashshort

package crash

import (
	"fmt"
	"strings"

	"github.com/tenantform/tenantform/tf/policy"
)

// The projects of the scenario. Every spec version renames what the
// project holds, so a spec change replaces it (a destroy, then a create):
// each change opens a create window and a destroy window. Names are
// unique across users (S3 bucket names are global).

var users = []string{"u1", "u2", "u3", "u4"}

// kind is a resource kind as the check lists the emulator.
type kind string

const (
	bucket       kind = "bucket"        // an S3 bucket with a fixed name
	bucketPrefix kind = "bucket-prefix" // an S3 bucket named from a prefix
	table        kind = "table"
	role         kind = "role"
	rolePolicy   kind = "role-policy" // role/policy
	logGroup     kind = "log-group"
)

// want is one resource a project's spec declares.
type want struct {
	kind kind
	name string // the name, or the prefix of a bucketPrefix
}

type projectDef struct {
	user, name string
	// ttl, in minutes; 0 is the default (long).
	ttl   int
	kinds []kind
}

func (d projectDef) key() string { return d.user + "/" + d.name }

var projects = []projectDef{
	{user: "u1", name: "fixed", kinds: []kind{bucket}},
	{user: "u1", name: "prefix", kinds: []kind{bucketPrefix}},
	{user: "u2", name: "table", kinds: []kind{table}},
	{user: "u2", name: "role", kinds: []kind{role, rolePolicy}},
	{user: "u3", name: "logs", kinds: []kind{logGroup}},
	{user: "u3", name: "mixed", kinds: []kind{bucket, table}},
	{user: "u4", name: "prefix2", kinds: []kind{bucketPrefix, logGroup}},
	{user: "u4", name: "expiring", kinds: []kind{bucket, table}, ttl: 2},
	{user: "u1", name: "doomed", kinds: []kind{bucket, table}},
	{user: "u3", name: "prefix3", kinds: []kind{bucketPrefix, table}},
	{user: "u2", name: "store", kinds: []kind{bucket}},
}

// spec is version v of a project: its main.tf and what it declares.
func (d projectDef) spec(v int) (string, []want) {
	var tf strings.Builder
	var wants []want
	base := d.family() + fmt.Sprint(v)
	for _, k := range d.kinds {
		switch k {
		case bucket:
			fmt.Fprintf(&tf, "resource \"aws_s3_bucket\" \"b\" {\n  bucket = %q\n  force_destroy = true\n}\n", base)
			wants = append(wants, want{bucket, base})
		case bucketPrefix:
			fmt.Fprintf(&tf, "resource \"aws_s3_bucket\" \"p\" {\n  bucket_prefix = %q\n  force_destroy = true\n}\n", base+"-")
			wants = append(wants, want{bucketPrefix, base + "-"})
		case table:
			fmt.Fprintf(&tf, `resource "aws_dynamodb_table" "t" {
  name           = %q
  hash_key       = "id"
  billing_mode   = "PROVISIONED"
  read_capacity  = 1
  write_capacity = 1
  attribute {
    name = "id"
    type = "S"
  }
}
`, base)
			wants = append(wants, want{table, base})
		case role:
			fmt.Fprintf(&tf, `resource "aws_iam_role" "r" {
  name = %q
  path = %q
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}
`, base, policy.IAMPath(d.user, d.name))
			wants = append(wants, want{role, base})
		case rolePolicy:
			fmt.Fprintf(&tf, `resource "aws_iam_role_policy" "rp" {
  name = "crash-read"
  role = aws_iam_role.r.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::%s/*" }]
  })
}
`, base)
			wants = append(wants, want{rolePolicy, base + "/crash-read"})
		case logGroup:
			fmt.Fprintf(&tf, "resource \"aws_cloudwatch_log_group\" \"g\" {\n  name = %q\n}\n", base)
			wants = append(wants, want{logGroup, base})
		}
	}
	return tf.String(), wants
}

// family is what every name of the project's versions starts with: the
// project's name prefix (tenantform runs in role mode here, where every
// AWS name of a project must start with policy.NamePrefix; a bucket_prefix
// leaves the tenant 17 characters), its name, "-v".
func (d projectDef) family() string {
	return policy.NamePrefix(d.user, d.name) + d.name + "-v"
}

// scenarioName: a name of the scenario's projects (the check judges
// those only): every project's name prefix starts with "tf-".
func scenarioName(name string) bool {
	return strings.HasPrefix(name, "tf-")
}

// hasKind: the project declares k.
func (d projectDef) hasKind(ks ...kind) bool {
	for _, k := range d.kinds {
		for _, w := range ks {
			if k == w {
				return true
			}
		}
	}
	return false
}
