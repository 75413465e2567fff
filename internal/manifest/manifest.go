// Package manifest is the record of what a bundle holds, manifest.json at the root of
// `escert bootstrap`'s output: the CAs, every instance with its certificates and
// files, names, fingerprints and expiry dates. It never holds a secret, so it is safe
// to commit or mail. This package is its one home: package bundle writes it, package
// install checks a node bundle against it and package clientconfig derives the client
// settings from it, all through Encode and Decode.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/escert/escert/internal/ca"
)

// File is the manifest's name in a bundle's root directory.
const File = "manifest.json"

// Manifest records what a bundle holds.
type Manifest struct {
	Tool         string    `json:"tool"`
	Created      time.Time `json:"created"`
	Cluster      string    `json:"cluster_name"`
	Format       string    `json:"format"` // p12 or pem
	Key          string    `json:"key"`
	SingleCA     bool      `json:"single_ca"`
	TrustPattern string    `json:"transport_trust_pattern,omitempty"`
	// TrustField and TrustNames are what the trust restrictions admit when it is not
	// TrustPattern on the node otherName: the nodes' DNS names, for certificates
	// from a company CA whose profile dropped the otherName.
	TrustField            string         `json:"transport_trust_field,omitempty"`
	TrustNames            []string       `json:"transport_trust_names,omitempty"`
	CAs                   []CAInfo       `json:"cas"`
	HTTPCAFingerprint     string         `json:"http_ca_sha256"`
	Instances             []InstanceInfo `json:"instances"`
	BootstrapPasswordFile string         `json:"bootstrap_password_file,omitempty"`
	// Target is the engine the node bundles are for; empty means Elasticsearch, as
	// in every manifest written before OpenSearch was a target.
	Target string `json:"target,omitempty"`
	// OpenSearch's first bundle: the internal users' passwords file, the admin
	// certificate securityadmin.sh signs in with, and the node certificates' DNs.
	PasswordsFile string    `json:"passwords_file,omitempty"`
	Admin         *CertInfo `json:"admin_certificate,omitempty"`
	NodesDN       []string  `json:"nodes_dn,omitempty"`
	Files         []string  `json:"files"`
}

// CAInfo describes one CA certificate of the bundle.
type CAInfo struct {
	Layer     string    `json:"layer"`
	File      string    `json:"file,omitempty"`
	Subject   string    `json:"subject"`
	SHA256    string    `json:"sha256"`
	NotAfter  time.Time `json:"not_after"`
	Encrypted bool      `json:"key_encrypted"`
}

// InstanceInfo describes one instance's bundle.
type InstanceInfo struct {
	Name             string     `json:"name"`
	Filename         string     `json:"filename"`
	Type             string     `json:"type"`
	Dir              string     `json:"dir"`
	Certificates     []CertInfo `json:"certificates"`
	KeystoreSettings []string   `json:"keystore_settings,omitempty"`
	Files            []string   `json:"files"`
}

// CertInfo describes one issued certificate and the files that hold it.
type CertInfo struct {
	Name  string   `json:"name"`
	Layer string   `json:"layer"`
	Files []string `json:"files"`
	ca.Summary
}

// Encode is the manifest as manifest.json holds it: indented JSON and a final newline.
func (m *Manifest) Encode() ([]byte, error) {
	var b bytes.Buffer
	if err := m.EncodeTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// instancesMark is where the instances go in the encoding of a manifest whose list
// is empty: a key at the top level, so no string value can hold it (its quotes
// would be escaped).
const instancesMark = "\n  \"instances\": []"

// EncodeTo writes what Encode returns, byte for byte, one instance at a time: the
// manifest of 10,000 nodes is some 30 MB of JSON, which encoding it whole would
// hold twice over (encoding/json indents a compact copy) on top of the manifest.
func (m *Manifest) EncodeTo(w io.Writer) error {
	shell := *m
	shell.Instances = []InstanceInfo{}
	head, err := json.MarshalIndent(&shell, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if m.Instances == nil {
		// json writes a nil list as null, an empty one as []: keep the difference.
		if head, err = json.MarshalIndent(m, "", "  "); err != nil {
			return fmt.Errorf("encode manifest: %w", err)
		}
	}
	at := bytes.Index(head, []byte(instancesMark))
	if len(m.Instances) == 0 || at < 0 {
		_, err := w.Write(append(head, '\n'))
		return err
	}
	bw := bufio.NewWriter(w)
	bw.Write(head[:at+len(instancesMark)-1]) // through the list's '['
	for i := range m.Instances {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		inst, err := json.MarshalIndent(&m.Instances[i], "    ", "  ")
		if err != nil {
			return fmt.Errorf("encode manifest: instance %q: %w", m.Instances[i].Name, err)
		}
		bw.Write(inst)
	}
	bw.WriteString("\n  ]")
	bw.Write(head[at+len(instancesMark):])
	bw.WriteByte('\n')
	return bw.Flush()
}

// Decode reads a manifest.json. Its error is encoding/json's, for the caller to say
// which file was not a manifest and what that means where it was found.
func Decode(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Instance returns the instance whose bundle is the directory dir ("nodes/node1"),
// nil when the manifest lists none there.
func (m *Manifest) Instance(dir string) *InstanceInfo {
	for i := range m.Instances {
		if m.Instances[i].Dir == dir {
			return &m.Instances[i]
		}
	}
	return nil
}

// OfType returns the instances of a type ("elasticsearch", "kibana"), in manifest order.
func (m *Manifest) OfType(t string) []InstanceInfo {
	var out []InstanceInfo
	for _, i := range m.Instances {
		if i.Type == t {
			out = append(out, i)
		}
	}
	return out
}
