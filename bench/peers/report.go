package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// report prints the sections as they finish and keeps what the targets need.
type report struct {
	w     io.Writer
	cores int

	defaults *variant // the variant the targets judge

	hundred  *pair // escert defaults' and mkcert's medians at 100 nodes
	thousand *pair // escert defaults' median and floor / cores at 1,000 nodes
	large    *bigRun
	renewal  *pair // needs-renewal's and version's medians
}

// pair is a measured time and the one it is judged against, in seconds.
type pair struct {
	x, ref float64
	strict float64 // the floor without x509's signature checks, where one applies
}

// bigRun is the single large run's size, wall time and peak RSS.
type bigRun struct {
	nodes int
	wall  float64
	peak  int64
}

func (r *report) printf(format string, args ...any) {
	fmt.Fprintf(r.w, format, args...)
}

// header says what ran where: a benchmark on a shared machine means little without
// the load, the cores and the filesystem the files went to.
func (r *report) header(ctx context.Context, c config, work string, tools map[string]string) {
	r.printf("# make bench: escert against mkcert and cfssl, in one run (issue 14)\n\n")
	r.printf("- %s; %s %s/%s; GOMAXPROCS %d (NumCPU %d); cpu %s\n", time.Now().UTC().Format(time.RFC3339),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, r.cores, runtime.NumCPU(), cpuModel())
	r.printf("- load average at start: %s\n", loadAverage())
	r.printf("- escert: %s (%s)\n", c.escert, firstLine(ctx, c.escert, "version"))
	var ps []string
	for _, p := range peers {
		if _, ok := tools[p.bin]; ok {
			ps = append(ps, p.bin+" "+p.version)
		}
	}
	if len(ps) > 0 {
		r.printf("- peers: %s, from %s/bin\n", strings.Join(ps, ", "), c.cache)
	}
	if p, ok := tools["openssl"]; ok {
		r.printf("- openssl: %s (%s)\n", p, firstLine(ctx, p, "version"))
	}
	r.printf("- work dir: %s, on %s\n\n", work, fsName(work))
}

// units prints the floor's unit costs, from which every floor below is counted.
func (r *report) units(u units, vs []*variant, runs int) {
	r.printf("## crypto floor: unit costs (CPU time on one thread, median of %d timings)\n\n", runs)
	r.printf("- certificate, ECDSA P-256: key generation + one CA signature (SHA-256): %s\n", micro(u.ecdsaCert))
	r.printf("- certificate, RSA-2048: key generation + one CA signature (PKCS #1 v1.5, SHA-256): %s\n", micro(u.rsaCert))
	r.printf("- the check of that signature crypto/x509.CreateCertificate makes (ECDSA / RSA): %s / %s\n", micro(u.ecdsaCheck), micro(u.rsaCheck))
	r.printf("- PKCS#12 file: PBKDF2-HMAC-SHA256 (p12.Iterations rounds, 32-byte key) + RFC 7292 MAC key (p12.Iterations SHA-256 hashes of 32 bytes): %s\n", micro(u.p12File))
	seen := map[int]bool{}
	for _, v := range vs {
		if !seen[v.keystore] {
			seen[v.keystore] = true
			r.printf("- keystore key, format %d: PBKDF2-HMAC-SHA512, once per bootstrap: %s\n", v.keystore, micro(u.keystore[v.keystore]))
		}
	}
	r.printf("\nEach size below counts its floor from these: per certificate, per PKCS#12 file, per bootstrap.\n\n")
}

// size prints one workload size's table, raw times and floors.
func (r *report) size(n, rounds int, res []result, u units) {
	r.printf("## %s nodes, %d rounds (every contender once a round, the order rotating)\n\n", thousands(n), rounds)
	mk, def := -1.0, -1.0
	for _, x := range res {
		switch {
		case x.c.name == "mkcert":
			mk = median(x.walls)
		case x.c.floor == r.defaults:
			def = median(x.walls)
		}
	}
	r.printf("| run | median wall | peak RSS | vs mkcert (same run) |\n|---|---|---|---|\n")
	for _, x := range res {
		vs := "n/a (mkcert not run)"
		switch {
		case x.c.name == "mkcert":
			vs = "(reference)"
		case mk > 0:
			vs = versus(mk, median(x.walls))
		}
		r.printf("| %s | %s | %s | %s |\n", x.c.name, seconds(median(x.walls)), megabytes(x.peak), vs)
	}
	r.printf("\nraw seconds, in round order:\n\n")
	for _, x := range res {
		r.printf("- %s:", x.c.name)
		for _, s := range x.walls {
			r.printf(" %.2f", s)
		}
		r.printf("\n")
	}
	w := workOf(n)
	r.printf("\ncrypto floor of this work (%d certificates, %d PKCS#12 files, %d keystore key), against %d cores:\n\n", w.certs, w.p12s, w.keystores, r.cores)
	for _, x := range res {
		if x.c.floor == nil {
			continue
		}
		f := u.floor(x.c.floor, n).Seconds()
		perCore := f / float64(r.cores)
		strict := (f - u.checks(x.c.floor, n).Seconds()) / float64(r.cores)
		med := median(x.walls)
		r.printf("- %s: floor %s CPU, / %d cores = %s; median wall %s = %.2fx floor/cores (%.2fx without x509's signature checks)\n",
			x.c.name, seconds(f), r.cores, seconds(perCore), seconds(med), med/perCore, med/strict)
		if x.c.floor == r.defaults && n == 1000 {
			r.thousand = &pair{x: med, ref: perCore, strict: strict}
		}
	}
	if n == 100 && mk > 0 && def > 0 {
		r.hundred = &pair{x: def, ref: mk}
	}
	r.printf("\n")
}

// big prints the single large run.
func (r *report) big(n int, x result, u units) {
	wall := x.walls[0]
	perCore := u.floor(x.c.floor, n).Seconds() / float64(r.cores)
	r.printf("## %s nodes, %s, one run\n\n", thousands(n), x.c.name)
	r.printf("- wall %s, peak RSS %s; floor / %d cores = %s, wall = %.2fx floor/cores\n\n",
		seconds(wall), megabytes(x.peak), r.cores, seconds(perCore), wall/perCore)
	if n == 10000 {
		r.large = &bigRun{nodes: n, wall: wall, peak: x.peak}
	}
}

// cron prints the cron check: each command's median against version's.
func (r *report) cron(rounds int, res []cronResult) {
	r.printf("## cron check: commands on an installed node, %d rounds, alternating\n\n", rounds)
	ref := median(res[0].times)
	r.printf("| command | median wall | vs %s |\n|---|---|---|\n", res[0].name)
	for _, x := range res {
		r.printf("| %s | %s | %.2fx |\n", x.name, seconds(median(x.times)), median(x.times)/ref)
	}
	r.printf("\nraw seconds, in round order:\n\n")
	for _, x := range res {
		r.printf("- %s:", x.name)
		for _, s := range x.times {
			r.printf(" %.3f", s)
		}
		r.printf("\n")
	}
	for _, x := range res {
		if x.name == "escert needs-renewal" {
			r.renewal = &pair{x: median(x.times), ref: ref}
		}
	}
	r.printf("\n")
}

// targets prints issue 14's targets, met or not, with the numbers that decide.
func (r *report) targets() {
	r.printf("## targets (issue 14; printed, never asserted)\n\n")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	if p := r.hundred; p != nil {
		r.printf("- 100 nodes, escert defaults >= 10x faster than mkcert: %s (%s: %.2f s vs mkcert %.2f s)\n",
			verdict(p.ref/p.x >= 10), versus(p.ref, p.x), p.x, p.ref)
	} else {
		r.printf("- 100 nodes, escert defaults >= 10x faster than mkcert: not measured (needs -nodes with 100 and mkcert among -peers)\n")
	}
	if p := r.thousand; p != nil {
		r.printf("- 1,000 nodes, escert defaults within 1.3x the crypto floor / cores: %s (%.2fx: %.2f s vs %.2f s; %.2fx without x509's signature checks)\n",
			verdict(p.x/p.ref <= 1.3), p.x/p.ref, p.x, p.ref, p.x/p.strict)
	} else {
		r.printf("- 1,000 nodes, escert defaults within 1.3x the crypto floor / cores: not measured (needs -nodes with 1000)\n")
	}
	if b := r.large; b != nil {
		r.printf("- 10,000 nodes, the run finishes with peak RSS under 100 MB: %s (%s, %.2f s)\n",
			verdict(b.peak < 100e6), megabytes(b.peak), b.wall)
	} else {
		r.printf("- 10,000 nodes, the run finishes with peak RSS under 100 MB: not measured (needs -big 10000)\n")
	}
	if p := r.renewal; p != nil {
		r.printf("- escert needs-renewal within 2x the wall time of escert version: %s (%.2fx: %.3f s vs %.3f s)\n",
			verdict(p.x/p.ref <= 2), p.x/p.ref, p.x, p.ref)
	} else {
		r.printf("- escert needs-renewal within 2x the wall time of escert version: not measured (-cron-rounds 0)\n")
	}
	r.printf("\nload average at the end: %s\n", loadAverage())
}

// firstLine runs a program's version command and returns the first line it prints.
func firstLine(ctx context.Context, bin string, args ...string) string {
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return "version unknown: " + err.Error()
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// cpuModel is /proc/cpuinfo's first model name.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
