package manifest_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/golden"
	"github.com/escert/escert/internal/manifest"
)

var created = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// full sets every field, so that the golden file pins each name, order and omission.
func full() *manifest.Manifest {
	return &manifest.Manifest{
		Tool: "escert test", Created: created, Cluster: "prod", Format: "p12", Key: "ecdsa-p256",
		TrustPattern: "*.node.prod.escert",
		CAs: []manifest.CAInfo{
			{Layer: "transport", File: "ca/transport-ca.crt", Subject: "CN=escert prod transport CA", SHA256: "aa11", NotAfter: created.AddDate(10, 0, 0), Encrypted: true},
			{Layer: "transport+http", Subject: "CN=root", SHA256: "bb22", NotAfter: created.AddDate(20, 0, 0)},
		},
		HTTPCAFingerprint: "cc33",
		Instances: []manifest.InstanceInfo{
			{Name: "node1", Filename: "node1", Type: "elasticsearch", Dir: "nodes/node1",
				Certificates: []manifest.CertInfo{{Name: "transport", Layer: "transport", Files: []string{"nodes/node1/certs/transport.p12"}, Summary: ca.Summary{
					Subject: "CN=node1", Issuer: "CN=escert prod transport CA", Serial: "1f", NotBefore: created, NotAfter: created.AddDate(1, 0, 0), Key: "ecdsa-p256", Signature: "ECDSA-SHA256",
					DNSNames: []string{"node1.example.com", "localhost"}, IPs: []string{"192.0.2.11", "127.0.0.1"}, OtherNames: []string{"node1.node.prod.escert"}, KeyUsage: []string{"digitalSignature"}, ExtKeyUsage: []string{"serverAuth", "clientAuth"}, SHA256: "dd44"}}},
				KeystoreSettings: []string{"bootstrap.password", "keystore.seed"},
				Files:            []string{"nodes/node1/certs/transport.p12", "nodes/node1/elasticsearch.keystore"}},
			{Name: "kibana", Filename: "kibana", Type: "kibana", Dir: "clients/kibana",
				Certificates: []manifest.CertInfo{{Name: "server", Layer: "http", Files: []string{"clients/kibana/server.crt", "clients/kibana/server.key"}, Summary: ca.Summary{
					Subject: "CN=kibana", Issuer: "CN=escert prod http CA", Serial: "2e", NotBefore: created, NotAfter: created.AddDate(1, 0, 0), Key: "rsa-3072", Signature: "SHA256-RSA", SHA256: "ee55"}}},
				Files: []string{"clients/kibana/server.crt"}},
		},
		BootstrapPasswordFile: "elastic-bootstrap-password",
		Files:                 []string{"ca/transport-ca.crt", "manifest.json"},
	}
}

// minimal leaves the optional fields empty, so that the golden file pins what is
// omitted.
func minimal() *manifest.Manifest {
	m := full()
	m.Format, m.TrustPattern, m.BootstrapPasswordFile, m.SingleCA = "pem", "", "", true
	m.Instances = m.Instances[1:]
	m.Instances[0].KeystoreSettings = nil
	return m
}

// TestEncodeWritesTheBytesOfEarlierReleases: the golden files were written by the
// encoder of bundle.Manifest before the manifest had a package of its own; tools and
// people read manifest.json, so its bytes must not change by accident.
func TestEncodeWritesTheBytesOfEarlierReleases(t *testing.T) {
	for name, m := range map[string]*manifest.Manifest{"manifest.golden": full(), "manifest-minimal.golden": minimal()} {
		t.Run(name, func(t *testing.T) {
			got, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name), got)
		})
	}
}

func TestDecodeReadsBackWhatEncodeWrote(t *testing.T) {
	for name, m := range map[string]*manifest.Manifest{"full": full(), "minimal": minimal()} {
		t.Run(name, func(t *testing.T) {
			data, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := manifest.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("Decode(Encode(m)) = %+v\nwant %+v", got, m)
			}
		})
	}
}

func TestDecodeRefusesWhatIsNotJSON(t *testing.T) {
	for _, data := range []string{"", "instances: []", `{"instances": 3}`} {
		if m, err := manifest.Decode([]byte(data)); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", data, m)
		}
	}
}

func TestInstanceAndOfTypeFindInstancesInManifestOrder(t *testing.T) {
	m := full()
	m.Instances = append(m.Instances, manifest.InstanceInfo{Name: "node2", Type: "elasticsearch", Dir: "nodes/node2"})
	if got := m.Instance("nodes/node2"); got == nil || got.Name != "node2" {
		t.Errorf("Instance(nodes/node2) = %+v, want node2", got)
	}
	if got := m.Instance("nodes/node3"); got != nil {
		t.Errorf("Instance(nodes/node3) = %+v, want nil", got)
	}
	var names []string
	for _, i := range m.OfType("elasticsearch") {
		names = append(names, i.Name)
	}
	if !reflect.DeepEqual(names, []string{"node1", "node2"}) {
		t.Errorf("OfType(elasticsearch) = %q, want node1, node2", names)
	}
}

func TestEncodeToWritesWhatEncodingTheWholeManifestWrites(t *testing.T) {
	inst := func(name string) manifest.InstanceInfo {
		return manifest.InstanceInfo{Name: name, Filename: name, Type: "elasticsearch", Dir: "nodes/" + name,
			KeystoreSettings: []string{"keystore.seed"}, Files: []string{"nodes/" + name + "/elasticsearch.yml"},
			Certificates: []manifest.CertInfo{{Name: "http", Layer: "http", Files: []string{"nodes/" + name + "/certs/http.p12"}}}}
	}
	for _, tt := range []struct {
		name      string
		instances []manifest.InstanceInfo
	}{
		{"nil", nil},
		{"empty", []manifest.InstanceInfo{}},
		{"one", []manifest.InstanceInfo{inst("node1")}},
		{"three, one named like the mark", []manifest.InstanceInfo{inst("node1"), inst("\n  \"instances\": []"), inst("<b>&")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := manifest.Manifest{Tool: "escert test", Cluster: "c", Instances: tt.instances, Files: []string{"a", "b"}}
			want, err := json.MarshalIndent(&m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			var got bytes.Buffer
			if err := m.EncodeTo(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("EncodeTo wrote\n%s\nwant\n%s", got.Bytes(), want)
			}
		})
	}
}
