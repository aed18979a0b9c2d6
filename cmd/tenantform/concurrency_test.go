package main

import (
	"io/fs"
	"strings"
	"testing"
)

// fakeSystem serves files to memoryLimitBytes.
func fakeSystem(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
}

// TestConcurrencyFollowsMemory: the default TF_CONCURRENCY is what the
// cgroup's (else the machine's) memory holds at TF_RUN_MEMORY_MB a run.
func TestConcurrencyFollowsMemory(t *testing.T) {
	t.Parallel()
	const meminfo = "MemTotal:       25165824 kB\nMemFree:        1000 kB\n" // 24 GiB
	for _, tc := range []struct {
		name  string
		files map[string]string
		env   map[string]string
		want  int
	}{
		{"Standard-1X dyno (512 MB): one run, with a warning", map[string]string{"/sys/fs/cgroup/memory.max": "536870912\n", "/proc/meminfo": meminfo}, nil, 1},
		{"Standard-2X dyno (1 GB)", map[string]string{"/sys/fs/cgroup/memory.max": "1073741824\n", "/proc/meminfo": meminfo}, nil, 1},
		{"Performance-M dyno (2.5 GB)", map[string]string{"/sys/fs/cgroup/memory.max": "2684354560\n", "/proc/meminfo": meminfo}, nil, 3},
		{"Performance-L dyno (14 GB): capped", map[string]string{"/sys/fs/cgroup/memory.max": "15032385536\n", "/proc/meminfo": meminfo}, nil, 8},
		{"cgroup v2 without a limit: the machine", map[string]string{"/sys/fs/cgroup/memory.max": "max\n", "/proc/meminfo": "MemTotal: 3145728 kB\n"}, nil, 4},
		{"cgroup v1 limit", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "2147483648\n", "/proc/meminfo": meminfo}, nil, 2},
		{"cgroup v1 unlimited: the machine", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n", "/proc/meminfo": "MemTotal: 3145728 kB\n"}, nil, 4},
		{"nothing readable: the old default", map[string]string{}, nil, 2},
		{"a bigger run budget", map[string]string{"/sys/fs/cgroup/memory.max": "2684354560\n"}, map[string]string{"TF_RUN_MEMORY_MB": "1200"}, 2},
		{"set by hand", map[string]string{"/sys/fs/cgroup/memory.max": "536870912\n"}, map[string]string{"TF_CONCURRENCY": "5"}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memoryLimitBytes(fakeSystem(tc.files))
			e := env{"DATABASE_URL": "postgres://x@localhost/x", "JWT_SECRET": "0123456789abcdef0123456789abcdef"}
			for k, v := range tc.env {
				e[k] = v
			}
			c, err := parseConfig(modeReconcile, e.get)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.concurrency(mem, 8); got != tc.want {
				t.Errorf("concurrency = %d, want %d (memory limit %d MB)", got, tc.want, mem>>20)
			}
		})
	}
	// Two runs per CPU at most: a 2-CPU machine with 24 GiB runs 4.
	c, err := parseConfig(modeReconcile, env{"DATABASE_URL": "postgres://x@localhost/x", "JWT_SECRET": "0123456789abcdef0123456789abcdef"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.concurrency(memoryLimitBytes(fakeSystem(map[string]string{"/proc/meminfo": meminfo})), 2); got != 4 {
		t.Errorf("24 GiB and 2 CPUs: concurrency %d, want 4", got)
	}
	if _, err := parseConfig(modeReconcile, env{"DATABASE_URL": "postgres://x@localhost/x", "JWT_SECRET": "0123456789abcdef0123456789abcdef",
		"TF_CONCURRENCY": "lots"}.get); err == nil || !strings.Contains(err.Error(), `TF_CONCURRENCY="lots" is not a whole number`) {
		t.Errorf("TF_CONCURRENCY=lots: %v", err)
	}
}
