package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/treestate"
)

func TestCARotatePhasesOnANodeAndItsClientBundle(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out, "-q"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	config := filepath.Join(dir, "config")
	os.Mkdir(config, 0o750)
	writeFile(t, config, "elasticsearch.yml", "cluster.name: prod\n")
	if r := escert(t, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	caDir, clients := filepath.Join(out, "ca"), filepath.Join(out, "clients")
	oldFP, _ := os.ReadFile(filepath.Join(clients, "http-ca.sha256"))
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"issue", "--es-config", config}, ExitInput, "no CA rotation in progress"},
		{[]string{"begin", "--es-config", config, "--clients", clients}, ExitOK, "now trusts the old and the new CA"},
		{[]string{"begin", "--es-config", config}, ExitOK, "using the new transport CA"},
		{[]string{"finish", "--es-config", config}, ExitInput, "run `escert ca rotate issue`"},
		{[]string{"issue", "--es-config", config}, ExitOK, "renewed transport"},
		{[]string{"finish", "--es-config", config, "--clients", clients}, ExitOK, "now trusts the new CA only"},
		{[]string{"finish", "--promote"}, ExitOK, "promoted the new CA"},
		{[]string{"issue", "--es-config", config}, ExitInput, "no CA rotation in progress"},
	}
	for i, s := range steps {
		r := escert(t, nil, append([]string{"ca", "rotate"}, append(s.args, "--ca-dir", caDir)...)...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Fatalf("step %d %v: exit %d, want %d and %q\nstdout: %s\nstderr: %s", i+1, s.args, r.code, s.code, s.want, r.stdout, r.stderr)
		}
		if i == 1 {
			data, _ := os.ReadFile(filepath.Join(clients, "http-ca.crt"))
			if n := strings.Count(string(data), "BEGIN CERTIFICATE"); n != 2 {
				t.Errorf("after begin the client bundle holds %d CAs, want old and new", n)
			}
		}
	}
	data, _ := os.ReadFile(filepath.Join(clients, "http-ca.crt"))
	newFP, _ := os.ReadFile(filepath.Join(clients, "http-ca.sha256"))
	if strings.Count(string(data), "BEGIN CERTIFICATE") != 1 || string(newFP) == string(oldFP) {
		t.Error("after finish the client bundle must hold the new CA alone, with its fingerprint")
	}
	if r := escert(t, nil, "check", "--es-config", config); r.code > 1 {
		t.Errorf("check after rotation: exit %d\n%s", r.code, r.stdout)
	}
	if r := escert(t, nil, "renew", "--es-config", config, "--ca-dir", caDir, "--force"); r.code != ExitOK {
		t.Errorf("renew from the promoted CA directory: exit %d, %s", r.code, r.stderr)
	}
}

// rotationFixture bootstraps three nodes and installs the first n into config
// directories of their own.
func rotationFixture(t *testing.T, n int) (configs []string, caDir, clients string) {
	t.Helper()
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out, "-q"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	for i := range n {
		config := filepath.Join(dir, fmt.Sprintf("config%d", i+1))
		os.Mkdir(config, 0o750)
		writeFile(t, config, "elasticsearch.yml", "cluster.name: prod\n")
		if r := escert(t, nil, "install", "--bundle", filepath.Join(out, "nodes", fmt.Sprintf("node%d", i+1)), "--es-config", config, "--owner", "-"); r.code != ExitOK {
			t.Fatal(r.stderr)
		}
		configs = append(configs, config)
	}
	return configs, filepath.Join(out, "ca"), filepath.Join(out, "clients")
}

func TestCARotateBeginRefusedWritesNothing(t *testing.T) {
	configs, caDir, clients := rotationFixture(t, 1)
	empty := t.TempDir()
	zero := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(zero, "http-ca.crt")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a typo'd --es-config", []string{"--es-config", configs[0] + "x", "--clients", clients}, "--es-config " + configs[0] + "x: no such file or directory: point it at the node's config directory"},
		{"--es-config naming a directory that is not a node's", []string{"--es-config", empty}, "elasticsearch.yml: cannot read it: point --es-config at the node's config directory"},
		{"a bad --clients", []string{"--es-config", configs[0], "--clients", filepath.Join(empty, "clients")}, "--clients must name a bundle's clients/ directory"},
		{"/dev/zero as the clients' CA", []string{"--es-config", configs[0], "--clients", zero}, "larger than a PEM file can be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dirs := []string{caDir, configs[0], clients}
			var before []map[string]string
			for _, d := range dirs {
				before = append(before, treestate.Of(t, d, atomicfs.LockFile))
			}
			r := escert(t, nil, append([]string{"ca", "rotate", "begin", "--ca-dir", caDir}, tc.args...)...)
			if r.code != ExitInput || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("exit %d, want %d and one line saying %q\nstdout: %s\nstderr: %s", r.code, ExitInput, tc.want, r.stdout, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(caDir, "next")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused begin left the new CA behind: %v", err)
			}
			for i, d := range dirs {
				if !maps.Equal(treestate.Of(t, d, atomicfs.LockFile), before[i]) {
					t.Errorf("a refused begin changed %s", d)
				}
			}
		})
	}
}

// finish --promote retires the old CA, which a node that has not finished still
// presents or trusts: it waits for every node the rotation began on.
func TestCARotatePromoteWaitsForEveryNodeTheRotationBeganOn(t *testing.T) {
	configs, caDir, _ := rotationFixture(t, 2)
	rotate := func(args ...string) result {
		return escert(t, nil, append([]string{"ca", "rotate"}, append(args, "--ca-dir", caDir)...)...)
	}
	host, _ := os.Hostname()
	node2 := fmt.Sprintf("node2 (%s:%s)", host, configs[1])
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"begin"}, ExitOK, "created the new transport CA"},
		{[]string{"finish", "--promote"}, ExitInput, "no node recorded a phase of this rotation"},
		{[]string{"begin", "--es-config", configs[0]}, ExitOK, "now trusts the old and the new CA"},
		{[]string{"begin", "--es-config", configs[1]}, ExitOK, "now trusts the old and the new CA"},
		{[]string{"issue", "--es-config", configs[0]}, ExitOK, "renewed transport"},
		{[]string{"finish", "--es-config", configs[0]}, ExitOK, "now trusts the new CA only"},
		{[]string{"finish", "--promote"}, ExitInput, "the rotation has not finished on " + node2 + ": issue pending: run those phases there first, or pass --allow-pending"},
		{[]string{"finish", "--allow-pending"}, ExitUsage, "--allow-pending goes with --promote"},
		{[]string{"issue", "--es-config", configs[1]}, ExitOK, "renewed transport"},
		{[]string{"finish", "--promote"}, ExitInput, node2 + ": finish pending"},
		{[]string{"finish", "--es-config", configs[1], "--promote"}, ExitOK, "promoted the new CA"},
	}
	for i, s := range steps {
		r := rotate(s.args...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Fatalf("step %d %v: exit %d, want %d and %q\nstdout: %s\nstderr: %s", i+1, s.args, r.code, s.code, s.want, r.stdout, r.stderr)
		}
		if r.code == ExitInput {
			if retired, _ := filepath.Glob(filepath.Join(caDir, "retired-*")); len(retired) > 0 {
				t.Fatalf("step %d: a refused promotion retired the CA", i+1)
			}
		}
	}
}

func TestCARotatePromoteAllowPendingRetiresTheOldCAAnyway(t *testing.T) {
	configs, caDir, _ := rotationFixture(t, 1)
	for _, phase := range []string{"begin", "issue"} {
		if r := escert(t, nil, "ca", "rotate", phase, "--ca-dir", caDir, "--es-config", configs[0]); r.code != ExitOK {
			t.Fatalf("%s: %s", phase, r.stderr)
		}
	}
	r := escert(t, nil, "ca", "rotate", "finish", "--ca-dir", caDir, "--promote", "--allow-pending")
	host, _ := os.Hostname()
	warning := fmt.Sprintf("warning: promoting anyway (--allow-pending): not finished on node1 (%s:%s): finish pending", host, configs[0])
	if r.code != ExitOK || !strings.Contains(r.stderr, warning) || !strings.Contains(r.stdout, "promoted the new CA") {
		t.Fatalf("exit %d, want 0 and the warning %q\nstdout: %s\nstderr: %s", r.code, warning, r.stdout, r.stderr)
	}
}
