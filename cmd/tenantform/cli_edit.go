package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"sigs.k8s.io/yaml"
)

// projectsEdit is `tenantform projects edit NAME`, as kubectl edit: the
// project's spec opens in $EDITOR as YAML, and what is saved is PUT with
// If-Match naming the generation that was opened, so a change someone
// else made meanwhile is never overwritten (412, and the edit is kept in a
// file to apply again).
func projectsEdit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects edit", "projects edit NAME", stderr, getenv)
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	name := cc.args[0]
	var cur struct {
		Generation int64           `json:"generation"`
		Spec       json.RawMessage `json:"spec"`
	}
	if _, err := cc.c.getJSON(ctx, cc.c.projectPath(name), &cur); err != nil {
		return err
	}
	doc, err := yaml.JSONToYAML(cur.Spec)
	if err != nil {
		return fmt.Errorf("cannot show the spec as YAML: %w", err)
	}
	dir, err := os.MkdirTemp("", "tenantform-edit-")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, name+".yaml")
	header := fmt.Sprintf("# The spec of %s/%s, generation %d. Save and quit to apply it;\n# an unchanged or empty file changes nothing.\n", cc.c.user, name, cur.Generation)
	if err := os.WriteFile(path, append([]byte(header), doc...), 0o600); err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	if err := runEditor(ctx, getenv, path, stderr); err != nil {
		return err
	}
	edited, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	edited = bytes.TrimPrefix(edited, []byte(header))
	if len(bytes.TrimSpace(edited)) == 0 || bytes.Equal(edited, doc) {
		fmt.Fprintf(stdout, "edit cancelled: project %s/%s is unchanged\n", cc.c.user, name)
		return nil
	}
	body, err := yaml.YAMLToJSON(edited)
	if err != nil {
		keep = true
		return fmt.Errorf("the edited spec is not valid YAML (%v); it is kept in %s", err, path)
	}
	raw, status, err := cc.c.doWith(ctx, http.MethodPut, cc.c.projectPath(name), json.RawMessage(body),
		http.Header{"If-Match": {strconv.Quote(strconv.FormatInt(cur.Generation, 10))}})
	if err != nil {
		keep = true
		if status == http.StatusPreconditionFailed {
			return fmt.Errorf("project %s/%s changed since generation %d was opened; nothing was applied. Your edit is kept in %s: run edit again, or apply it with `tenantform projects apply -f %s %s`",
				cc.c.user, name, cur.Generation, path, path, name)
		}
		return fmt.Errorf("%w (your edit is kept in %s)", err, path)
	}
	if cc.c.document() {
		return printDocument(stdout, cc.c.output, raw)
	}
	var p clientProject
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "project %s/%s edited (generation %d)\n", p.UserID, p.ProjectID, p.Generation)
	return nil
}

// runEditor opens path in TENANTFORM_EDITOR, EDITOR or vi, through the
// shell so that an editor with flags ("code --wait") works.
func runEditor(ctx context.Context, getenv func(string) string, path string, stderr io.Writer) error {
	editor := getenv("TENANTFORM_EDITOR")
	if editor == "" {
		editor = getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", editor+` "$1"`, "editor", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stderr, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("the editor (%s) exited with status %d; nothing was applied", editor, ee.ExitCode())
		}
		return fmt.Errorf("cannot run the editor (%s): %w; set EDITOR", editor, err)
	}
	return nil
}
