package tf

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/state.json is `terraform state pull` after a real apply
// (record-state.sh, terraform 1.11.4). The addresses are those `terraform
// state list` printed for it, less the data source.
func TestParseStateRecorded(t *testing.T) {
	raw, err := os.ReadFile("testdata/state.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseState(raw)
	if err != nil {
		t.Fatal(err)
	}
	td := func(addr string) StateResource { return StateResource{Address: addr, Type: "terraform_data"} }
	want := []StateResource{
		td(`module.child["x"].terraform_data.inner`),
		td(`terraform_data.counted[0]`),
		td(`terraform_data.counted[1]`),
		td(`terraform_data.keyed["a"]`),
		td(`terraform_data.keyed["b \"quoted\" $${x}"]`),
		td(`terraform_data.single`),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseState(t *testing.T) {
	raw := `{
  "version": 4, "terraform_version": "1.11.4", "serial": 3, "lineage": "l",
  "resources": [
    {"module": "module.app[0]", "mode": "managed", "type": "aws_s3_bucket", "name": "b",
     "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
     "instances": [
       {"index_key": "logs", "attributes": {"arn": "arn:aws:s3:::logs", "bucket": "logs"}},
       {"index_key": "data", "attributes": {"arn": "arn:aws:s3:::data"}, "deposed": "00000001"}
     ]},
    {"mode": "data", "type": "aws_caller_identity", "name": "me", "instances": [{"attributes": {"arn": "arn:aws:iam::1:user/x"}}]},
    {"mode": "managed", "type": "random_id", "name": "r", "instances": [{"attributes": {"arn": 7, "hex": "ab"}}]},
    {"mode": "managed", "type": "aws_iam_role", "name": "gone", "instances": []}
  ]
}`
	got, err := ParseState([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := []StateResource{
		{Address: `module.app[0].aws_s3_bucket.b["data"]`, Type: "aws_s3_bucket", ARN: "arn:aws:s3:::data", Deposed: "00000001"},
		{Address: `module.app[0].aws_s3_bucket.b["logs"]`, Type: "aws_s3_bucket", ARN: "arn:aws:s3:::logs"},
		{Address: `random_id.r`, Type: "random_id"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	for _, empty := range []string{"", "  \n"} {
		if got, err := ParseState([]byte(empty)); err != nil || got != nil {
			t.Errorf("ParseState(%q) = %v, %v; want nothing", empty, got, err)
		}
	}
	for raw, wantErr := range map[string]string{
		`{"version": 3, "modules": []}`: "format version 3",
		`{"resources": []}`:             "format version missing",
		`{"version": 4`:                 "parsing state",
		`{"version": 4, "resources": [{"mode": "managed", "type": "t_x", "name": "n", "instances": [{"index_key": 1.5}]}]}`:  "not an integer",
		`{"version": 4, "resources": [{"mode": "managed", "type": "t_x", "name": "n", "instances": [{"index_key": true}]}]}`: "neither",
		`{"version": 4, "resources": [{"mode": "managed", "name": "n"}]}`:                                                    "without type",
	} {
		if _, err := ParseState([]byte(raw)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseState(%s): err = %v, want %q", raw, err, wantErr)
		}
	}
}

func TestQuoteKey(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         `"plain"`,
		"a\"b\\c":       `"a\"b\\c"`,
		"${x}%{y}":      `"$${x}%%{y}"`,
		"$x %":          `"$x %"`,
		"tab\tnl\n\x01": `"tab\tnl\n\u0001"`,
		"":              `""`,
	} {
		if got := quoteKey(in); got != want {
			t.Errorf("quoteKey(%q) = %s, want %s", in, got, want)
		}
	}
}
