package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
