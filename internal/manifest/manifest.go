// Package manifest is the record of what a bundle holds, manifest.json at the root of
// `escert bootstrap`'s output: the CAs, every instance with its certificates and
// files, names, fingerprints and expiry dates. It never holds a secret, so it is safe
// to commit or mail. This package is its one home: package bundle writes it, package
// install checks a node bundle against it and package clientconfig derives the client
// settings from it, all through Encode and Decode.
package manifest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/escert/escert/internal/ca"
)

// File is the manifest's name in a bundle's root directory.
const File = "manifest.json"

// Manifest records what a bundle holds.
type Manifest struct {
	Tool                  string         `json:"tool"`
	Created               time.Time      `json:"created"`
	Cluster               string         `json:"cluster_name"`
	Format                string         `json:"format"` // p12 or pem
	Key                   string         `json:"key"`
	SingleCA              bool           `json:"single_ca"`
	TrustPattern          string         `json:"transport_trust_pattern,omitempty"`
	CAs                   []CAInfo       `json:"cas"`
	HTTPCAFingerprint     string         `json:"http_ca_sha256"`
	Instances             []InstanceInfo `json:"instances"`
	BootstrapPasswordFile string         `json:"bootstrap_password_file,omitempty"`
	Files                 []string       `json:"files"`
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
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(data, '\n'), nil
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
