package policy

import (
	"fmt"
	"path"
	"strings"
)

// fileKind says how a submitted file is treated.
type fileKind int

const (
	refusedFile  fileKind = iota
	nativeConfig          // .tf: parsed as native HCL
	jsonConfig            // .tf.json: parsed as JSON syntax
	dataFile              // templates, assets, Lambda sources: never parsed as configuration
)

// reservedPrefix marks the files tenantform writes next to the tenant's,
// in the project directory and in module directories.
const reservedPrefix = "tenantform_"

// maxNameLength bounds one path segment, maxPathLength a whole name and
// maxDirDepth the directories above a file: short enough for any file
// system and log line.
const (
	maxNameLength = 100
	maxPathLength = 255
	maxDirDepth   = 5
)

// loadedSuffixes are files terraform loads on its own from a module
// directory (variable values, tests, mocks) although they are not
// configuration the policy checks.
var loadedSuffixes = []string{".tfvars", ".tfvars.json", ".tftest.hcl", ".tftest.json", ".tfmock.hcl", ".tfquery.hcl", ".tfstack.hcl", ".tfdeploy.hcl"}

// classify checks a submitted file name and says how to treat the file.
// Names are slash-separated paths relative to the project directory
// ("main.tf", "modules/api/main.tf", "src/index.js"). A name is refused
// when it could escape the project directory, hide among the files
// Terraform or tenantform own, or be loaded by Terraform in a way the
// check does not cover. The message explains the refusal.
func classify(name string) (fileKind, string) {
	switch {
	case name == "":
		return refusedFile, "a file name is empty"
	case strings.Contains(name, `\`):
		return refusedFile, `file names must use "/" between directories, never "\"`
	case strings.HasPrefix(name, "/"):
		return refusedFile, `file names must be relative to the project directory: no leading "/"`
	case len(name) > maxPathLength:
		return refusedFile, fmt.Sprintf("file names must be at most %d characters long", maxPathLength)
	}
	if msg := platformFileRefusal(name); msg != "" {
		return refusedFile, msg
	}
	segments := strings.Split(name, "/")
	if len(segments)-1 > maxDirDepth {
		return refusedFile, fmt.Sprintf("files may be at most %d directories deep", maxDirDepth)
	}
	for _, seg := range segments {
		switch {
		case seg == "":
			return refusedFile, `file names must not contain empty directory names ("//" or a trailing "/")`
		case seg == "." || seg == ".." || strings.Contains(seg, ".."):
			return refusedFile, `file names must not contain ".."`
		case strings.HasPrefix(seg, "."):
			return refusedFile, `file and directory names must not start with ".": hidden files such as .terraform belong to Terraform and tenantform`
		case len(seg) > maxNameLength:
			return refusedFile, fmt.Sprintf("each file or directory name must be at most %d characters long", maxNameLength)
		case !plainChars(seg):
			return refusedFile, `file names may only contain letters, digits, ".", "-", "_" and "/" between directories`
		}
	}
	for _, seg := range segments {
		if strings.HasPrefix(strings.ToLower(seg), reservedPrefix) {
			return refusedFile, fmt.Sprintf("names starting with %q are reserved for the files tenantform generates", reservedPrefix)
		}
	}
	base := segments[len(segments)-1]
	switch {
	case isOverride(base):
		return refusedFile, "override files (override.tf, *_override.tf) are not allowed: Terraform would merge them into the configuration tenantform generates"
	case strings.HasSuffix(base, ".tf"):
		return nativeConfig, ""
	case strings.HasSuffix(base, ".tf.json"):
		return jsonConfig, ""
	}
	for _, suffix := range loadedSuffixes {
		if strings.HasSuffix(base, suffix) {
			return refusedFile, fmt.Sprintf("%s files are not accepted: Terraform would load them; set variables in the project instead", suffix)
		}
	}
	return dataFile, ""
}

func plainChars(name string) bool {
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

// isOverride reports Terraform's override file names, which are merged over
// the other files instead of being added to them.
func isOverride(name string) bool {
	for _, ext := range []string{".tf", ".tf.json"} {
		stem, ok := strings.CutSuffix(name, ext)
		if ok && (stem == "override" || strings.HasSuffix(stem, "_override")) {
			return true
		}
	}
	return false
}

// moduleDir is the directory of a configuration file relative to the
// project directory: "" for the root module.
func moduleDir(name string) string {
	dir := path.Dir(name)
	if dir == "." || dir == "/" {
		return ""
	}
	return dir
}

// resolve joins a relative path to a directory of the project and cleans
// it. It reports false when the result leaves the project directory or
// passes through a hidden entry (.terraform, .tenantform): every file a
// submission holds is a regular file written by tenantform, so after ".."
// is resolved no symlink can lead elsewhere, except under those entries.
func resolve(dir, rel string) (string, bool) {
	if strings.HasPrefix(rel, "/") || strings.ContainsAny(rel, "\\\x00") {
		return "", false
	}
	p := path.Clean(path.Join(dir, rel))
	if p == "." {
		return "", true
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return "", false
		}
	}
	return p, true
}

// submissionFile is the File of violations about the submission as a whole
// (too many files, too many bytes); unnamedFile stands for an empty name.
const (
	submissionFile = "(submission)"
	unnamedFile    = "(unnamed file)"
)

func displayName(name string) string {
	if name == "" {
		return unnamedFile
	}
	return name
}
