package policy

import (
	"fmt"
	"strings"
)

// fileKind says how a submitted file is treated.
type fileKind int

const (
	refusedFile  fileKind = iota
	nativeConfig          // .tf: parsed as native HCL
	jsonConfig            // .tf.json: parsed as JSON syntax
	dataFile              // read by the configuration with file() or templatefile(), never parsed as configuration
)

// reservedPrefix marks the files tenantform writes next to the tenant's.
const reservedPrefix = "tenantform_"

// maxNameLength keeps names short enough for any file system and log line.
const maxNameLength = 100

// dataExtensions are the files a tenant may submit for file() and
// templatefile() to read: Lambda code, web pages, policies, templates.
// Terraform does not load them as configuration.
var dataExtensions = []string{".js", ".py", ".json", ".txt", ".html", ".tpl", ".tftpl"}

// specialJSONSuffixes end in ".json" but Terraform (or terraform test)
// would load them: variable values and test files.
var specialJSONSuffixes = []string{".tfvars.json", ".tftest.json"}

// classify checks a submitted file name and says how to treat the file. A
// name is refused when it could escape the project directory, hide among
// the files Terraform or tenantform own, or be loaded by Terraform in a way
// the check does not cover. The message explains the refusal.
func classify(name string) (fileKind, string) {
	switch {
	case name == "":
		return refusedFile, "a file name is empty"
	case strings.ContainsAny(name, `/\`):
		return refusedFile, `file names must be plain names: "/" and "\" (directories) are not allowed`
	case strings.Contains(name, ".."):
		return refusedFile, `file names must not contain ".."`
	case strings.HasPrefix(name, "."):
		return refusedFile, `file names must not start with ".": hidden files such as .terraform belong to Terraform and tenantform`
	case strings.HasPrefix(strings.ToLower(name), reservedPrefix):
		return refusedFile, fmt.Sprintf("file names starting with %q are reserved for the files tenantform generates", reservedPrefix)
	case len(name) > maxNameLength:
		return refusedFile, fmt.Sprintf("file names must be at most %d characters long", maxNameLength)
	case !plainChars(name):
		return refusedFile, `file names may only contain letters, digits, ".", "-" and "_"`
	}
	switch {
	case isOverride(name):
		return refusedFile, "override files (override.tf, *_override.tf) are not allowed: Terraform would merge them into the configuration tenantform generates"
	case strings.HasSuffix(name, ".tf"):
		return nativeConfig, ""
	case strings.HasSuffix(name, ".tf.json"):
		return jsonConfig, ""
	}
	for _, suffix := range specialJSONSuffixes {
		if strings.HasSuffix(name, suffix) {
			return refusedFile, fmt.Sprintf("%s files are not accepted: Terraform would load them; set variables in the project instead", suffix)
		}
	}
	for _, ext := range dataExtensions {
		if strings.HasSuffix(name, ext) {
			return dataFile, ""
		}
	}
	return refusedFile, fmt.Sprintf("only Terraform files (.tf, .tf.json) and data files (%s) are accepted", strings.Join(dataExtensions, ", "))
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
