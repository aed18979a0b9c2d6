package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// systemCPUs is how many CPUs the process may use.
func systemCPUs() int { return runtime.GOMAXPROCS(0) }

// The default TF_CONCURRENCY follows memory, not cores: one terraform run
// with the real hashicorp/aws provider peaks at about 605 MB (terraform
// ~200 MB, the provider ~400 MB; measured with a DynamoDB table and an IAM
// role, see BENCHMARKS.md), while the reconciler itself needs about 70 MB.
// A fixed default of 2 needed 1.3 GB and could not run even one plan on a
// 512 MB dyno.
const (
	// defaultRunMemoryMB is the memory budgeted per concurrent run
	// (TF_RUN_MEMORY_MB): the measured peak with some headroom.
	defaultRunMemoryMB = 700
	// reconcilerMemoryMB is kept for the reconciler process itself.
	reconcilerMemoryMB = 100
	// maxAutoConcurrency caps the derived default: beyond it CPU, not
	// memory, is what runs contend for on the sizes people deploy.
	maxAutoConcurrency = 8
)

// concurrency is TF_CONCURRENCY when set, else (auto) what memoryBytes
// holds at TF_RUN_MEMORY_MB a run, and no more than two runs per CPU
// (a plan is CPU-bound while it evaluates).
func (c Config) concurrency(memoryBytes uint64, cpus int) int {
	if c.TFConcurrency > 0 {
		return c.TFConcurrency
	}
	return max(1, min(autoConcurrency(memoryBytes, c.TFRunMemoryMB), 2*cpus))
}

// systemMemoryLimit is memoryLimitBytes of this machine.
func systemMemoryLimit() uint64 { return memoryLimitBytes(os.ReadFile) }

// memoryLimitBytes is the memory this process may use: its cgroup's limit
// (v2 memory.max, or v1 memory.limit_in_bytes) when there is one, else the
// machine's memory (MemTotal), read through readSystemFile. 0 when none
// can be read.
func memoryLimitBytes(readSystemFile func(string) ([]byte, error)) uint64 {
	if b, err := readSystemFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return n
		}
		// "max": no limit in this cgroup; fall through to the machine.
	} else if b, err := readSystemFile("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		// cgroup v1 writes a huge number (page-rounded 2^63-1) for "no limit".
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n < 1<<60 {
			return n
		}
	}
	b, err := readSystemFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// autoConcurrency is the default TF_CONCURRENCY for memory limitBytes and
// runMB per run: as many runs as fit beside the reconciler, at least 1
// (a dyno too small for one run still gets one, and the start log says
// it does not fit), at most maxAutoConcurrency. Unknown memory gives 2,
// the former fixed default.
func autoConcurrency(limitBytes uint64, runMB int) int {
	if limitBytes == 0 || runMB <= 0 {
		return 2
	}
	mb := int(limitBytes >> 20)
	n := (mb - reconcilerMemoryMB) / runMB
	return max(1, min(n, maxAutoConcurrency))
}
