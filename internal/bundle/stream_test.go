package bundle_test

import (
	"bytes"
	"context"
	"crypto/fips140"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// progressSink records, for each instance directory it receives, how many instances
// had finished when its files arrived.
type progressSink struct {
	mu       sync.Mutex
	finished int
	arrived  map[string]int
	files    []atomicfs.File
}

func (s *progressSink) Add(files ...atomicfs.File) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files {
		if strings.HasPrefix(f.Path, "nodes/") {
			dir := strings.Join(strings.SplitN(f.Path, "/", 3)[:2], "/")
			if _, ok := s.arrived[dir]; !ok {
				s.arrived[dir] = s.finished
			}
		}
	}
	s.files = append(s.files, files...)
	return nil
}

func (s *progressSink) AddStream(path string, mode fs.FileMode, write func(io.Writer) error) error {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return err
	}
	return s.Add(atomicfs.File{Path: path, Mode: mode, Data: b.Bytes()})
}

func (s *progressSink) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished++
}

// testIssuance is testInstances and a local issuer for them.
func testIssuance(t *testing.T, opts bundle.Options) ([]spec.Instance, *issuer.Local) {
	t.Helper()
	instances, err := spec.ParseInstances("i.yml", []byte(testInstances))
	if err != nil {
		t.Fatal(err)
	}
	local, err := issuer.NewLocal(opts.Rand, opts.Policy, opts.Key, cluster, 3650, false, opts.Now)
	if err != nil {
		t.Fatal(err)
	}
	return instances, local
}

func TestBuildIntoHandsEachInstanceOverAsSoonAsItIsMade(t *testing.T) {
	opts := options(bundle.P12)
	opts.Workers = 1
	instances, local := testIssuance(t, opts)
	sink := &progressSink{arrived: map[string]int{}}
	opts.Progress = sink.finish
	res, err := bundle.BuildInto(context.Background(), bundle.Request{Issuer: local, Instances: instances, BootstrapPassword: "x"}, opts, sink)
	if err != nil {
		t.Fatal(err)
	}
	// With one worker, node k's files must reach the sink while k instances are
	// done: a build that held every bundle until the end would hand them all over
	// with all instances finished.
	for k, dir := range []string{"nodes/node1", "nodes/node2", "nodes/node3"} {
		if got, ok := sink.arrived[dir]; !ok || got != k {
			t.Errorf("%s arrived after %d finished instances (present %v), want %d", dir, got, ok, k)
		}
	}
	if len(res.Files) != 0 {
		t.Errorf("BuildInto kept %d files in its Result; it must keep none", len(res.Files))
	}
	var written []string
	for _, f := range sink.files {
		if f.Path != "manifest.json" {
			written = append(written, f.Path)
		}
	}
	slices.Sort(written)
	if !slices.Equal(written, res.Manifest.Files) {
		t.Errorf("manifest lists %q,\nsink got %q", res.Manifest.Files, written)
	}
}

func TestNodeKeystoresOfOneBuildShareOneDerivationAndOpenWithThePassword(t *testing.T) {
	b := build(t, options(bundle.P12), false)
	var salts [][]byte
	for _, f := range b.res.Files {
		if path.Base(f.Path) != "elasticsearch.keystore" {
			continue
		}
		if _, err := eskeystore.Decode(f.Data, b.ksPassword); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		salts = append(salts, keystoreSalt(t, f.Data))
	}
	if len(salts) != 3 {
		t.Fatalf("found %d node keystores, want 3", len(salts))
	}
	for i, s := range salts[1:] {
		if !bytes.Equal(s, salts[0]) {
			t.Errorf("keystore %d has its own salt: the build derived the key more than once", i+1)
		}
	}
}

// keystoreSalt is the salt of a keystore of format 5 or later: after the codec header
// (magic, name, version), the hasPassword byte, the data length and the salt length.
func keystoreSalt(t *testing.T, data []byte) []byte {
	t.Helper()
	const at = 4 + 1 + len("elasticsearch.keystore") + 4 + 1 + 4 + 4
	if len(data) < at+64 {
		t.Fatalf("keystore of %d bytes is too short", len(data))
	}
	return data[at : at+64]
}

func TestAKeystoreKeyThatCannotBeDerivedFailsTheBuildInOneLine(t *testing.T) {
	if !fips140.Enforced() {
		t.Skip("only FIPS 140-only mode refuses a keystore password (one under 14 bytes) after the keystore is made")
	}
	opts := options(bundle.P12)
	opts.KeystorePassword = []byte("short")
	instances, local := testIssuance(t, opts)
	sink := &progressSink{arrived: map[string]int{}}
	_, err := bundle.BuildInto(context.Background(), bundle.Request{Issuer: local, Instances: instances, BootstrapPassword: "x"}, opts, sink)
	if err == nil || !strings.Contains(err.Error(), "elasticsearch.keystore: keystore password must be at least 14 bytes") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line naming elasticsearch.keystore and the rule", err)
	}
	for _, f := range sink.files {
		if path.Base(f.Path) == "elasticsearch.keystore" {
			t.Errorf("%s was written although the key could not be derived", f.Path)
		}
	}
}
