package main

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"sigs.k8s.io/yaml"
)

// devPrometheusConfig is the Prometheus configuration that scrapes dev mode.
const devPrometheusConfig = "../../deploy/prometheus/dev.yml"

// devScrape is what deploy/prometheus/dev.yml scrapes.
type devScrape struct {
	scheme, metricsPath, target string
}

func readDevPrometheusConfig(t *testing.T) devScrape {
	t.Helper()
	b, err := os.ReadFile(devPrometheusConfig)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			MetricsPath   string `json:"metrics_path"`
			Scheme        string `json:"scheme"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", devPrometheusConfig, err)
	}
	if len(c.ScrapeConfigs) != 1 || len(c.ScrapeConfigs[0].StaticConfigs) != 1 || len(c.ScrapeConfigs[0].StaticConfigs[0].Targets) != 1 {
		t.Fatalf("%s: want one job with one target, got %+v", devPrometheusConfig, c.ScrapeConfigs)
	}
	j := c.ScrapeConfigs[0]
	return devScrape{scheme: j.Scheme, metricsPath: j.MetricsPath, target: j.StaticConfigs[0].Targets[0]}
}

// deploy/prometheus/dev.yml is a configuration promtool accepts (its rule
// files included), and it scrapes where dev mode serves its metrics by
// default: plain HTTP on 127.0.0.1 at the default PORT, /metrics. (The
// e2e demo test scrapes a running dev mode at that path, without a token.)
func TestDevPrometheusConfig(t *testing.T) {
	t.Parallel()
	s := readDevPrometheusConfig(t)
	cfg, err := parseConfig(modeDev, env{"HOME": t.TempDir()}.get)
	if err != nil {
		t.Fatal(err)
	}
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)); s.target != want {
		t.Errorf("dev.yml scrapes %s; dev mode listens on %s", s.target, want)
	}
	if s.metricsPath != "/metrics" || s.scheme != "http" {
		t.Errorf("dev.yml scrapes %s://…%s; dev mode serves http://…/metrics", s.scheme, s.metricsPath)
	}

	bin, err := exec.LookPath("promtool")
	if err != nil && os.Getenv("TENANTFORM_REQUIRE_PROMTOOL") != "" {
		t.Fatal("promtool is required here (TENANTFORM_REQUIRE_PROMTOOL) but not installed")
	}
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	if out, err := exec.Command(bin, "check", "config", devPrometheusConfig).CombinedOutput(); err != nil {
		t.Errorf("promtool check config %s: %v\n%s", devPrometheusConfig, err, out)
	} else {
		t.Logf("promtool check config:\n%s", out)
	}
}
