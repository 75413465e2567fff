// Command peers is `make bench`: it runs the same bootstrap workload with the shipped
// binary (bin/escert, as a process) and with pinned mkcert and cfssl, alternating them
// round by round so the shared machine's noise hits every contender alike, and prints
// the medians, the ratios, the crypto floor of the same work measured in-process, a
// cron job's commands against `escert version`, and issue 14's targets as met or not.
// Nothing is asserted: the numbers are for a reader.
//
//	go run ./bench/peers [-nodes 100,1000] [-rounds 5,3] [-big 10000] [-work DIR] ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	escert, work, cache, goCmd, tee string
	nodes, rounds                   []int
	big, cronRounds, floorRuns      int
	peers                           map[string]bool
}

func parseFlags(args []string) (config, error) {
	var c config
	var nodes, rounds, peerList string
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.StringVar(&c.escert, "escert", "bin/escert", "the escert binary to measure (make build's)")
	fs.StringVar(&nodes, "nodes", "100,1000", "workload sizes, in nodes")
	fs.StringVar(&rounds, "rounds", "", "rounds per size of -nodes, or one number for every size (default 5 below 1,000 nodes, 3 from 1,000)")
	fs.IntVar(&c.big, "big", 10000, "nodes of the single escert-defaults run for peak RSS (0 skips it)")
	fs.IntVar(&c.cronRounds, "cron-rounds", 21, "rounds of the cron check (0 skips it)")
	fs.IntVar(&c.floorRuns, "floor-runs", 5, "timings of each crypto floor operation (the median is kept)")
	fs.StringVar(&peerList, "peers", "mkcert,cfssl", "peers to run against: mkcert, cfssl, both, or empty for none")
	fs.StringVar(&c.work, "work", "", "directory the runs write under, e.g. /dev/shm (default $TMPDIR or /tmp)")
	fs.StringVar(&c.cache, "cache", "", "where the peers are installed (default ${XDG_CACHE_HOME:-$HOME/.cache}/escert-bench)")
	fs.StringVar(&c.goCmd, "go", "go", "the go command that installs the peers")
	fs.StringVar(&c.tee, "tee", "", "also write the report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if c.nodes, err = parseInts(nodes); err != nil {
		return c, fmt.Errorf("-nodes %w", err)
	}
	switch {
	case rounds == "":
		// The large runs take minutes each; three of them are enough to see the spread.
		for _, n := range c.nodes {
			r := 5
			if n >= 1000 {
				r = 3
			}
			c.rounds = append(c.rounds, r)
		}
	default:
		if c.rounds, err = parseInts(rounds); err != nil {
			return c, fmt.Errorf("-rounds %w", err)
		}
	}
	switch {
	case len(c.rounds) == 1:
		for len(c.rounds) < len(c.nodes) {
			c.rounds = append(c.rounds, c.rounds[0])
		}
	case len(c.rounds) != len(c.nodes):
		return c, fmt.Errorf("-rounds has %d numbers for the %d sizes of -nodes", len(c.rounds), len(c.nodes))
	}
	if c.floorRuns < 1 {
		return c, errors.New("-floor-runs must be at least 1")
	}
	c.peers = map[string]bool{}
	for p := range strings.SplitSeq(peerList, ",") {
		switch p = strings.TrimSpace(p); p {
		case "mkcert", "cfssl":
			c.peers[p] = true
		case "":
		default:
			return c, fmt.Errorf("-peers: unknown peer %q (mkcert, cfssl)", p)
		}
	}
	if c.work == "" {
		c.work = os.TempDir()
	}
	if c.cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return c, fmt.Errorf("peer cache: %w (set -cache)", err)
		}
		c.cache = filepath.Join(dir, "escert-bench")
	}
	if c.escert, err = filepath.Abs(c.escert); err != nil {
		return c, fmt.Errorf("-escert: %w", err)
	}
	return c, nil
}

func run(ctx context.Context, args []string) (err error) {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if _, err := os.Stat(c.escert); err != nil {
		return fmt.Errorf("%w (run make build first)", err)
	}
	out := io.Writer(os.Stdout)
	if c.tee != "" {
		f, err := os.Create(c.tee)
		if err != nil {
			return fmt.Errorf("-tee: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("-tee: %w", cerr)
			}
		}()
		out = io.MultiWriter(os.Stdout, f)
	}
	work, err := os.MkdirTemp(c.work, "escert-bench-")
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(work)

	vs, err := variants()
	if err != nil {
		return err
	}
	tools := map[string]string{}
	for _, p := range peers {
		if c.peers[p.bin] || (p.bin == "cfssljson" && c.peers["cfssl"]) {
			if tools[p.bin], err = p.install(ctx, c.goCmd, c.cache); err != nil {
				return err
			}
		}
	}
	if c.peers["cfssl"] {
		if tools["openssl"], err = exec.LookPath("openssl"); err != nil {
			return fmt.Errorf("the cfssl contender needs openssl for its PKCS#12 files: %w", err)
		}
	}

	r := &report{w: out, cores: runtime.GOMAXPROCS(0), defaults: vs[0]}
	r.header(ctx, c, work, tools)

	fmt.Fprintf(os.Stderr, "timing the crypto floor's operations (%d times each)\n", c.floorRuns)
	var versions []int
	for _, v := range vs {
		versions = append(versions, v.keystore)
	}
	u, err := measureUnits(c.floorRuns, versions)
	if err != nil {
		return err
	}
	r.units(u, vs, c.floorRuns)

	for i, n := range c.nodes {
		nodes := workload(n)
		instances := filepath.Join(work, fmt.Sprintf("instances-%d.yml", n))
		if err := os.WriteFile(instances, instancesYAML(nodes), 0o644); err != nil {
			return fmt.Errorf("instances: %w", err)
		}
		var cs []contender
		for _, v := range vs {
			cs = append(cs, escertContender(c.escert, instances, v))
		}
		if c.peers["mkcert"] {
			cs = append(cs, mkcertContender(tools["mkcert"], nodes))
		}
		if c.peers["cfssl"] {
			cs = append(cs, cfsslContender(cfsslTools{cfssl: tools["cfssl"], cfssljson: tools["cfssljson"], openssl: tools["openssl"]}, nodes))
		}
		res, err := alternate(ctx, cs, n, c.rounds[i], work)
		if err != nil {
			return err
		}
		r.size(n, c.rounds[i], res, u)
	}

	if c.big > 0 {
		instances := filepath.Join(work, fmt.Sprintf("instances-%d.yml", c.big))
		if err := os.WriteFile(instances, instancesYAML(workload(c.big)), 0o644); err != nil {
			return fmt.Errorf("instances: %w", err)
		}
		res, err := alternate(ctx, []contender{escertContender(c.escert, instances, vs[0])}, c.big, 1, work)
		if err != nil {
			return err
		}
		r.big(c.big, res[0], u)
	}

	if c.cronRounds > 0 {
		fmt.Fprintf(os.Stderr, "cron check, %d rounds\n", c.cronRounds)
		dir := filepath.Join(work, "cron")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("cron check: %w", err)
		}
		res, err := cronCheck(ctx, c.escert, root, dir, c.cronRounds)
		if err != nil {
			return err
		}
		r.cron(c.cronRounds, res)
	}
	r.targets()
	return nil
}

// result is one contender's runs at one size.
type result struct {
	c     contender
	walls []float64 // seconds, in round order
	peak  int64     // bytes, the largest of its runs
}

// alternate runs every contender once per round, the order rotating by one each
// round so none always runs first (on a cold cache) or last. Each run gets a fresh
// directory, removed after it is measured.
func alternate(ctx context.Context, cs []contender, n, rounds int, work string) ([]result, error) {
	res := make([]result, len(cs))
	for i := range cs {
		res[i].c = cs[i]
	}
	for r := range rounds {
		for k := range cs {
			i := (k + r) % len(cs)
			dir := filepath.Join(work, fmt.Sprintf("run-%d-%d-%d", n, r, i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				return nil, fmt.Errorf("run dir: %w", err)
			}
			if cs[i].setup != nil {
				if err := cs[i].setup(dir); err != nil {
					return nil, err
				}
			}
			var m meter
			start := time.Now()
			err := cs[i].run(ctx, dir, &m)
			wall := time.Since(start).Seconds()
			if err != nil {
				return nil, fmt.Errorf("%s, %d nodes: %w", cs[i].name, n, err)
			}
			fmt.Fprintf(os.Stderr, "%d nodes, round %d/%d: %-36s %7.2f s %8s\n", n, r+1, rounds, cs[i].name, wall, megabytes(m.peak))
			res[i].walls = append(res[i].walls, wall)
			res[i].peak = max(res[i].peak, m.peak)
			if err := os.RemoveAll(dir); err != nil {
				return nil, fmt.Errorf("remove run dir: %w", err)
			}
		}
	}
	return res, nil
}

// moduleRoot finds the checkout the program runs in (make runs it from the top), for
// the test data the cron check installs.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod above the working directory (run from the checkout)")
		}
		dir = parent
	}
}
