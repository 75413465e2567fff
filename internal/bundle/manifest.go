package bundle

import (
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/spec"
)

// newManifest starts the manifest of a build: the CAs of its issuer, with the files
// of the request's CA directory that hold them.
func newManifest(iss issuer.Issuer, req Request, opts Options) manifest.Manifest {
	m := manifest.Manifest{
		Tool:    "escert " + opts.Version,
		Created: opts.Now().UTC().Truncate(time.Second),
		Cluster: opts.Spec.ClusterName,
		Format:  string(opts.Format),
		Key:     opts.Key.String(),
	}
	if r, ok := opts.restriction(); ok {
		if r.Field == spec.OtherNameField && len(r.Names) == 1 {
			m.TrustPattern = r.Names[0]
		} else {
			m.TrustField, m.TrustNames = r.Field, r.Names
		}
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
			info := manifest.CAInfo{Layer: string(layer), Subject: ca.FormatDN(cert.RawSubject), SHA256: fp, NotAfter: cert.NotAfter.UTC()}
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

func certInfo(c spec.Certificate, leaf *x509.Certificate, files []atomicfs.File, dir string) manifest.CertInfo {
	info := manifest.CertInfo{Name: c.Base, Layer: string(c.Layer), Summary: ca.Summarize(leaf)}
	for _, f := range files {
		info.Files = append(info.Files, dir+f.Path)
	}
	slices.Sort(info.Files)
	return info
}
