package bundle

import (
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/install"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// Manifest records what a bundle holds: nodes, files, names, fingerprints and expiry
// dates. It never holds a secret: it is safe to commit or mail.
type Manifest struct {
	Tool                  string         `json:"tool"`
	Created               time.Time      `json:"created"`
	Cluster               string         `json:"cluster_name"`
	Format                Format         `json:"format"`
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

func newManifest(iss issuer.Issuer, req Request, opts Options) Manifest {
	m := Manifest{
		Tool:    "escert " + opts.Version,
		Created: opts.Now().UTC().Truncate(time.Second),
		Cluster: opts.Spec.ClusterName,
		Format:  opts.Format,
		Key:     opts.Key.String(),
	}
	if opts.Spec.TrustRestrictions {
		m.TrustPattern = spec.TrustPattern(opts.Spec.ClusterName)
	}
	// A CA both layers trust is listed once; the layers share one CA only when they
	// are issued by the same one, not when their CAs merely chain to one root.
	if t, h := iss.Trust(spec.Transport), iss.Trust(spec.HTTP); len(t) > 0 && len(h) > 0 {
		m.SingleCA = t[0].Equal(h[0])
	}
	seen := map[string]int{}
	for _, layer := range []spec.Layer{spec.Transport, spec.HTTP} {
		for _, cert := range iss.Trust(layer) {
			fp := ca.Fingerprint(cert)
			if at, ok := seen[fp]; ok {
				m.CAs[at].Layer = "transport+http"
				continue
			}
			seen[fp] = len(m.CAs)
			info := CAInfo{Layer: string(layer), Subject: ca.FormatDN(cert.RawSubject), SHA256: fp, NotAfter: cert.NotAfter.UTC()}
			for _, f := range req.CAFiles {
				if certs, err := ca.ParseCertificates(f.Data); err == nil && strings.HasSuffix(f.Path, ".crt") && certs[0].Equal(cert) {
					info.File = f.Path
					info.Encrypted = req.CAKeyEncrypted
				}
			}
			m.CAs = append(m.CAs, info)
		}
	}
	return m
}

func certInfo(c spec.Certificate, leaf *x509.Certificate, files []install.File, dir string) CertInfo {
	info := CertInfo{Name: c.Base, Layer: string(c.Layer), Summary: ca.Summarize(leaf)}
	for _, f := range files {
		info.Files = append(info.Files, dir+f.Path)
	}
	slices.Sort(info.Files)
	return info
}
