package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/metrics"
)

// The reconciler serves its registry at /metrics on METRICS_PORT, and a
// taken port fails start-up with a message naming the setting.
func TestServeMetricsOnMetricsPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	reg := newMetrics(metrics.NewReconciler(nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := serveMetrics(ctx, Config{MetricsPort: port}, metrics.Handler(reg, nil), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if err := serveMetrics(ctx, Config{MetricsPort: port}, metrics.Handler(reg, nil), zap.NewNop()); err == nil || !strings.Contains(err.Error(), "METRICS_PORT") {
		t.Errorf("a second server on the taken port: %v, want an error naming METRICS_PORT", err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "tenantform_build_info{") || !strings.Contains(string(body), "tenantform_reconciles_total") {
		t.Errorf("GET /metrics: %d\n%.300s", resp.StatusCode, body)
	}
}
