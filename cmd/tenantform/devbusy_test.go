package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A second `tenantform dev` is told in one sentence what is busy, before
// anything starts: the port, or the data directory's PostgreSQL.
func TestDevRefusesBusyPortAndDataDir(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	err = checkDevResourcesFree(Config{Port: port, DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d is already in use", port)) || strings.Contains(err.Error(), "\n") {
		t.Errorf("busy port: %v", err)
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pg"), 0o700); err != nil {
		t.Fatal(err)
	}
	// This test process stands for the running PostgreSQL.
	if err := os.WriteFile(filepath.Join(dir, "pg", "postmaster.pid"), []byte(fmt.Sprintf("%d\n%s\n", os.Getpid(), dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	err = checkDevResourcesFree(Config{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "is in use by another tenantform dev") || strings.Contains(err.Error(), "\n") {
		t.Errorf("busy data directory: %v", err)
	}
	// A stale pid file (no such process) is PostgreSQL's to recover from.
	if err := os.WriteFile(filepath.Join(dir, "pg", "postmaster.pid"), []byte("2147483646\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkDevResourcesFree(Config{DataDir: dir}); err != nil {
		t.Errorf("stale pid file: %v", err)
	}
}
