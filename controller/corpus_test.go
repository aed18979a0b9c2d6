package controller

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantform/tenantform/tf/policy"
)

// corpusDir holds projects of the kinds the guide's users build
// (testdata/corpus/README.md); the e2e test of the real provider applies
// each of them.
const corpusDir = "../testdata/corpus"

// corpusProject reads one corpus project's files, as a PUT would carry
// them (paths relative to the project, slash-separated).
func corpusProject(t testing.TB, name string) map[string]string {
	t.Helper()
	root := filepath.Join(corpusDir, name)
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatalf("corpus project %s: %v", name, err)
	}
	if len(files) == 0 {
		t.Fatalf("corpus project %s has no files", name)
	}
	return files
}

// corpusProjects are the names of the corpus's projects.
var corpusProjects = []string{"static-site", "http-api", "worker", "module-alias"}

// corpusRules are the default rules with the regions the corpus uses.
func corpusRules() policy.Rules {
	r := policy.DefaultRules()
	r.AllowedRegions = []string{"us-east-1", "us-west-2"}
	return r
}

// Every corpus project passes the upload policy as it stands: they are
// what ordinary tenants write, so a refusal is a false one.
func TestCorpusPassesTheUploadPolicy(t *testing.T) {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) != len(corpusProjects) {
		t.Fatalf("testdata/corpus holds %v, the tests know %v", dirs, corpusProjects)
	}
	for _, name := range corpusProjects {
		if v := policy.Check(corpusProject(t, name), corpusRules()); len(v) > 0 {
			t.Errorf("%s refused at upload: %v", name, v)
		}
	}
}
