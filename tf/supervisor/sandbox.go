package supervisor

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Rules is what one terraform command may touch. Paths are
// absolute; missing ones are skipped (/lib64 exists on some systems
// only).
type Rules struct {
	RODirs  []string `json:"ro_dirs,omitempty"`
	ROFiles []string `json:"ro_files,omitempty"`
	RWDirs  []string `json:"rw_dirs,omitempty"`
	RWFiles []string `json:"rw_files,omitempty"`
	TCP     []uint16 `json:"tcp,omitempty"`
}

// restrictThread puts the calling thread, and so every process it starts
// from now on, under the rules, for good: Landlock cannot be lifted, and
// no_new_privs (which it needs) means no setuid binary can escape it. Only
// this thread: the supervisor's other threads must stay free to signal
// and reap. The caller has locked its goroutine to the thread.
func (r *Rules) restrictThread() error {
	rules := []landlock.Rule{
		landlock.RODirs(r.RODirs...).IgnoreIfMissing(),
		landlock.ROFiles(r.ROFiles...).IgnoreIfMissing(),
		// Refer: terraform and the provider installer rename files
		// between directories of the workdir and of the plugin cache.
		landlock.RWDirs(r.RWDirs...).WithRefer().IgnoreIfMissing(),
		landlock.RWFiles(r.RWFiles...).IgnoreIfMissing(),
	}
	for _, p := range r.TCP {
		rules = append(rules, landlock.ConnectTCP(p))
	}
	// V7 restricts files, TCP bind and connect, signals and abstract unix
	// sockets. BestEffort drops only what an older kernel lacks; the
	// engine refused to sandbox below MinSandboxABI.
	fd, flags, err := landlock.V7.BestEffort().NewRulesetFD(rules...)
	if err != nil {
		return fmt.Errorf("landlock ruleset: %w", err)
	}
	if fd < 0 {
		return errors.New("landlock: the kernel restricts nothing")
	}
	defer syscall.Close(fd)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if err := llsys.LandlockRestrictSelf(fd, flags); err != nil {
		return fmt.Errorf("landlock_restrict_self: %w", err)
	}
	return nil
}
