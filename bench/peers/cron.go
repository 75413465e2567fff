package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// cronCommand is one command a cron job runs on an installed node, with the exit
// codes that mean it did its work.
type cronCommand struct {
	name string
	args []string
	ok   []int
}

// cronResult is a command's wall times, in seconds.
type cronResult struct {
	name  string
	times []float64
}

// cronCheck bootstraps a few nodes, installs node0 into a config directory that
// starts as Elasticsearch's default elasticsearch.yml, and times the commands a cron
// job runs on it against `escert version`, the cost of starting the binary at all,
// alternating them for rounds rounds.
func cronCheck(ctx context.Context, bin, root, dir string, rounds int) ([]cronResult, error) {
	nodes := workload(3)
	instances := filepath.Join(dir, "instances.yml")
	if err := os.WriteFile(instances, instancesYAML(nodes), 0o644); err != nil {
		return nil, fmt.Errorf("cron check: %w", err)
	}
	out, cfg := filepath.Join(dir, "out"), filepath.Join(dir, "config")
	yml, err := os.ReadFile(filepath.Join(root, "internal/install/testdata/elasticsearch-default.yml"))
	if err != nil {
		return nil, fmt.Errorf("cron check: %w", err)
	}
	if err := os.Mkdir(cfg, 0o755); err != nil {
		return nil, fmt.Errorf("cron check: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "elasticsearch.yml"), yml, 0o644); err != nil {
		return nil, fmt.Errorf("cron check: %w", err)
	}
	var m meter
	for _, args := range [][]string{
		{"bootstrap", "--instances", instances, "--out", out, "-q"},
		{"install", "--bundle", filepath.Join(out, "nodes", nodes[0].name), "--es-config", cfg, "--owner", "-"},
	} {
		if err := m.run(exec.CommandContext(ctx, bin, args...)); err != nil {
			return nil, fmt.Errorf("cron check setup: %w", err)
		}
	}

	cmds := []cronCommand{
		{name: "version", args: []string{"version"}},
		{name: "needs-renewal", args: []string{"needs-renewal", "--es-config", cfg}, ok: []int{1}}, // 1: not yet
		{name: "check", args: []string{"check", "--es-config", cfg}, ok: []int{1}},                 // 1: warnings only
		{name: "inspect", args: []string{"inspect", filepath.Join(cfg, "certs", "transport.p12")}},
	}
	res := make([]cronResult, len(cmds))
	for i, c := range cmds {
		res[i].name = "escert " + c.name
	}
	for r := range rounds {
		for k := range cmds {
			i := (k + r) % len(cmds)
			c := cmds[i]
			start := time.Now()
			if err := m.run(exec.CommandContext(ctx, bin, c.args...), c.ok...); err != nil {
				return nil, fmt.Errorf("cron check: %w", err)
			}
			res[i].times = append(res[i].times, time.Since(start).Seconds())
		}
	}
	return res, nil
}
