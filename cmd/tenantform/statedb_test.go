package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store/storetest"
)

// TestReconcileRefusesAStateURLOfAnotherDatabase: with
// TF_STATE_DATABASE_URL naming another database, terraform would keep its
// state where the reconciler never looks, and every deletion would skip
// its destroy. The reconciler refuses to start, saying why.
func TestReconcileRefusesAStateURLOfAnotherDatabase(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL":          storetest.NewDatabase(t),
		"TF_STATE_DATABASE_URL": storetest.NewDatabase(t),
		"JWT_SECRET":            strings.Repeat("s", 32),
		"TENANTFORM_DATA_DIR":   t.TempDir(),
		"METRICS_PORT":          "0",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- runReconcile(ctx, nil, &logs, func(k string) string { return env[k] }) }()
	// It must return on its own; one that started reconciling instead is
	// stopped and fails the test.
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "cannot start the reconciler: TF_STATE_DATABASE_URL reaches another database") {
				t.Fatalf("runReconcile = %v; want a refusal naming TF_STATE_DATABASE_URL", err)
			}
			return
		case <-poll.C:
			if strings.Contains(logs.String(), "reconciler starting") {
				cancel()
				<-done
				t.Fatalf("the reconciler started with terraform's state in another database:\n%s", logs.String())
			}
		}
	}
}
