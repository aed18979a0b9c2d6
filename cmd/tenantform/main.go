// Command tenantform is the single tenantform binary: the HTTP API (serve),
// the reconciler (reconcile), both together on a laptop (dev), schema
// migrations (migrate), API tokens (token) and its version, and the
// client verbs (projects, runs, logs) that speak to a server over HTTP.
//
// This package is the only one that reads the environment: it parses every
// setting once into Config and hands each package the part it needs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `tenantform converges users' desired Terraform projects, kept in PostgreSQL, to AWS.

Usage:
  tenantform <command> [flags]

Commands:
  serve       run the HTTP API on $PORT (Heroku "web")
  reconcile   run the reconciler (Heroku "terraform")
  dev         run the API and the reconciler in one process, with a private
              PostgreSQL when DATABASE_URL is unset
  migrate     apply database schema migrations and exit
  token       print an API token: token --user U [--admin] [--ttl 1h]
  aws-setup   print the AWS role, ABAC policy and permissions boundary:
              aws-setup --account-id ID --external-id X
  version     print the version
  help        print this help

Client commands (talk to a server at $TENANTFORM_URL with $TENANTFORM_TOKEN):
  projects    list|get|apply|delete|extend|approve projects ("projects -h")
  runs        a project's terraform runs: runs PROJECT
  logs        a run's log tail, or -f to follow a running run: logs PROJECT [RUN] [-f]

Configuration comes from environment variables; see README.md.
Run "tenantform <command> -h" for a command's flags.
`

// errUsage marks a command-line mistake: exit status 2, as flag uses.
var errUsage = errors.New("usage")

func main() {
	// Terraform running the provider double dev mode installed (emulator
	// builds only; see dev_provider.go).
	if isProviderDoubleExec(os.Args[0]) {
		os.Exit(serveProviderDouble())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run is main without the process: it returns the exit status, so tests
// can drive subcommands in-process where that is enough.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = withSignals(func(ctx context.Context) error { return runServe(ctx, rest, stderr, getenv) })
	case "reconcile":
		err = withSignals(func(ctx context.Context) error { return runReconcile(ctx, rest, stderr, getenv) })
	case "dev":
		err = withSignals(func(ctx context.Context) error { return runDev(ctx, rest, stdout, stderr, getenv) })
	case "migrate":
		err = withSignals(func(ctx context.Context) error { return runMigrate(ctx, rest, stderr, getenv) })
	case "token":
		err = runToken(rest, stdout, stderr, getenv)
	case "projects":
		err = withSignals(func(ctx context.Context) error { return runProjects(ctx, rest, stdout, stderr, getenv) })
	case "runs":
		err = withSignals(func(ctx context.Context) error { return runRuns(ctx, rest, stdout, stderr, getenv) })
	case "logs":
		err = withSignals(func(ctx context.Context) error { return runLogs(ctx, rest, stdout, stderr, getenv) })
	case "aws-setup":
		err = runAWSSetup(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "tenantform", buildVersion())
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tenantform: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		// A bare errUsage follows a message already printed (flag's own);
		// a wrapped one carries its message.
		if err != errUsage {
			fmt.Fprintf(stderr, "tenantform %s: %v\n", cmd, err)
		}
		return 2
	default:
		fmt.Fprintf(stderr, "tenantform %s: %v\n", cmd, err)
		return 1
	}
}

// withSignals runs f with a context cancelled by SIGINT or SIGTERM (Heroku
// stops dynos with SIGTERM, then SIGKILL 30 s later). After the first
// signal the default handling is restored, so a second Ctrl-C ends the
// process at once.
func withSignals(f func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	again := make(chan struct{})
	ctx = context.WithValue(ctx, secondSignalKey{}, (<-chan struct{})(again))
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		stop()
		// A second signal interrupts running terraform at once (the
		// reconciler sends it SIGINT, so state locks are released); a
		// third ends the process.
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigs)
		select {
		case <-sigs:
			close(again)
		case <-done:
			return
		}
		select {
		case <-sigs:
			os.Exit(130)
		case <-done:
		}
	}()
	return f(ctx)
}

type secondSignalKey struct{}

// secondSignal is closed when a second Ctrl-C (or SIGTERM) arrives after
// the first stopped ctx; nil outside withSignals.
func secondSignal(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(secondSignalKey{}).(<-chan struct{})
	return ch
}

// newFlagSet returns a FlagSet for a subcommand that reports its own
// errors and usage on stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tenantform "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tenantform %s\n", synopsis)
		fs.PrintDefaults()
		printEnvironmentHelp(stderr, mode(name))
	}
	return fs
}

// parseFlags parses args and refuses positional arguments, which no
// subcommand takes.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}
