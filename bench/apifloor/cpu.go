package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Where a request's CPU goes: the server's process and PostgreSQL's (the
// postmaster and every backend and helper it started). Read from
// /proc/<pid>/stat before and after each wrk run, so a round says how
// many microseconds of each a request cost. The floor runs inside this
// process, whose only other work during a run is waiting for wrk.

// clockTick is USER_HZ, 100 on every Linux this runs on.
const clockTick = 10 * time.Millisecond

// processCPU is utime+stime of pid, or 0 when it cannot be read.
func processCPU(pid int) time.Duration { return statTicks(pid, 11, 12) }

// reapedCPU is cutime+cstime of pid: the CPU of its children that exited
// and were waited for (PostgreSQL's backends and workers that ended).
func reapedCPU(pid int) time.Duration { return statTicks(pid, 13, 14) }

// statTicks sums fields of /proc/<pid>/stat, counted from the one after
// the command (state is 0), as CPU time.
func statTicks(pid int, fields ...int) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command may hold spaces: the fields start after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	var ticks int64
	for _, i := range fields {
		if i >= len(f) {
			return 0
		}
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick
}

// parentOf is the parent pid of pid, or 0.
func parentOf(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// postgresCPU is the CPU of the postmaster whose pid is in
// clusterDir/postmaster.pid and of all its children, alive or ended.
func postgresCPU(clusterDir string) time.Duration {
	b, err := os.ReadFile(filepath.Join(clusterDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	postmaster, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	total := processCPU(postmaster) + reapedCPU(postmaster)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentOf(pid) != postmaster {
			continue
		}
		total += processCPU(pid)
	}
	return total
}
