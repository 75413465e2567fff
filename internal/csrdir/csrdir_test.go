package csrdir

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/spec"
)

var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// write makes a CSR directory for two nodes in a temporary directory.
func write(t *testing.T) (string, *Request) {
	t.Helper()
	instances := []byte("instances:\n  - name: node1\n    dns: [node1.example.com]\n  - name: node2\n    ip: [192.0.2.2]\n")
	parsed, err := spec.ParseInstances("instances.yml", instances)
	if err != nil {
		t.Fatal(err)
	}
	opts := spec.Options{ClusterName: "prod", TrustRestrictions: true, Localhost: true}
	var certs []spec.Certificate
	for _, inst := range parsed {
		cs, err := spec.Certificates(inst, opts)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cs...)
	}
	files, req, err := Files(Input{Certificates: certs, Options: opts, Instances: instances, Key: fips.DefaultKey, Rand: rand.Reader, Now: now, Tool: "escert test"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "csr")
	if err := (atomicfs.Writer{}).WriteInto(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir, req
}

func TestReadGivesBackEveryRequestWithItsKey(t *testing.T) {
	dir, req := write(t)
	d, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Request.Certificates) != 4 || d.Request.Cluster != "prod" || string(d.Instances) == "" {
		t.Fatalf("read back %+v", d.Request)
	}
	for _, e := range req.Certificates {
		found, ok := d.Request.Find(e.Dir, e.Base)
		if !ok {
			t.Fatalf("no request %s", e.ID())
		}
		if _, err := d.Key(found); err != nil {
			t.Errorf("%s: %v", e.ID(), err)
		}
	}
	e, _ := d.Request.Find("node1", "transport")
	if e.CSR != "transport/node1.csr" || e.KeyFile != "keys/node1/transport.key" || strings.Join(e.OtherNames, ",") != "node1.node.prod" || strings.Join(e.Usages, ",") != "serverAuth,clientAuth" {
		t.Errorf("node1's transport request: %+v", e)
	}
}

func TestKeyRefusesAKeyThatIsNotTheRequests(t *testing.T) {
	dir, _ := write(t)
	d, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(filepath.Join(dir, "keys", "node2", "transport.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "node1", "transport.key"), other, 0o600); err != nil {
		t.Fatal(err)
	}
	e, _ := d.Request.Find("node1", "transport")
	_, err = d.Key(e)
	var in *fault.InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "is not the key of") {
		t.Fatalf("got %v, want bad input saying the key is another request's", err)
	}
}

func TestForgetRemovesTheInstalledKeysOnly(t *testing.T) {
	dir, _ := write(t)
	d, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := d.Request.Find("node1", "transport")
	if err := d.Forget(atomicfs.Writer{}, []Entry{e}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, e.KeyFile)); !os.IsNotExist(err) {
		t.Error("the forgotten key is still there")
	}
	again, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Request.Find("node1", "transport"); ok || len(again.Request.Certificates) != 3 {
		t.Errorf("request.json after Forget: %+v", again.Request.Certificates)
	}
	if _, ok := again.Request.Find("node1", "http"); !ok {
		t.Error("Forget dropped a request it was not given")
	}
}

func TestParseRequestRefusesWhatEscertDidNotWrite(t *testing.T) {
	for name, data := range map[string]string{
		"another format":         `{"format": 2}`,
		"an unknown field":       `{"format": 1, "extra": true}`,
		"a path outside the dir": `{"format": 1, "certificates": [{"dir": "x", "base": "y", "csr": "../../etc/passwd", "key": "keys/x/y.key"}]}`,
		"not JSON":               `format: 1`,
	} {
		if _, err := ParseRequest("request.json", []byte(data)); fault.KindOf(err) != fault.Input {
			t.Errorf("%s: got %v, want bad input", name, err)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"format": 1, "cluster_name": "prod", "certificates": [{"dir": "n", "base": "transport", "csr": "transport/n.csr", "key": "keys/n/transport.key"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRequest("request.json", data)
		if err != nil {
			if fault.KindOf(err) != fault.Input {
				t.Fatalf("error of kind %v: %v", fault.KindOf(err), err)
			}
			return
		}
		for _, e := range r.Certificates {
			if !filepath.IsLocal(e.CSR) || !filepath.IsLocal(e.KeyFile) {
				t.Fatalf("accepted a path outside the directory: %+v", e)
			}
		}
	})
}
