// Package bundle turns instances and an issuer into the files an operator drops into
// each node's config directory: keystores, PEM files, the elasticsearch.keystore, the
// settings block, client CA files and a manifest. Each instance's files go to a Sink
// as soon as they are made (an atomicfs.Tree staging the output directory), so
// memory does not grow with the number of nodes; only the manifest does.
package bundle

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/target"
)

// Format is how node keys and certificates are written.
type Format string

// The output formats.
const (
	P12 Format = "p12" // one PKCS#12 per layer, used as keystore and truststore
	PEM Format = "pem" // key, certificate chain and CA files
)

// Options shape a bundle.
type Options struct {
	Format           Format
	Key              fips.KeySpec
	Policy           fips.Policy
	Spec             spec.Options
	KeystoreVersion  int    // elasticsearch.keystore format version
	KeystorePassword []byte // empty: no password, as Elasticsearch creates it
	// TransportVerification is xpack.security.transport.ssl.verification_mode.
	TransportVerification string
	Rand                  io.Reader
	Now                   func() time.Time
	Workers               int    // parallel instances; 0 means one per CPU
	Progress              func() // called once per finished instance
	Version               string // escert version, recorded in the manifest
	// FIPS adds the settings a FIPS 140 mode Elasticsearch needs to the block.
	FIPS bool
	// RequiredProviders, under FIPS, is xpack.security.fips_mode.required_providers
	// (esconfig.RequiredProviders); nil leaves the setting out.
	RequiredProviders []string
	// Target is the engine the node bundles are for (empty: Elasticsearch). An
	// OpenSearch node bundle has PEM files, an opensearch.yml block and no keystore.
	Target target.Target
	// OpenSearchVersion is the version the OpenSearch nodes run, which picks the
	// settings' spellings (one per setting: both at once stop the node).
	OpenSearchVersion esconfig.Version
	// Restriction, when set, is what the transport trust restrictions admit instead
	// of the cluster's node otherNames (spec.NodeNameRestriction): the nodes' DNS
	// names, when a company CA's profile dropped the otherName.
	Restriction *spec.Restriction
}

// Result is a built bundle: the manifest and the warnings. Files holds the files when
// Build collected them in memory; BuildInto leaves it empty.
type Result struct {
	Files    []atomicfs.File
	Manifest manifest.Manifest
	Warnings []string
}

// Request is what a bundle is built from.
type Request struct {
	Issuer    issuer.Issuer
	Instances []spec.Instance
	// CAFiles are included as they are (the ca/ folder of a bootstrap); nil when the
	// CAs live elsewhere, as with `escert cert --ca-dir`.
	CAFiles        []atomicfs.File
	CAKeyEncrypted bool
	// BootstrapPassword is the elastic user's initial password, put in every node's
	// keystore; empty for nodes added to a running cluster, which ignore it.
	BootstrapPassword string
	// Bootstrap is a cluster's first bundle, which for OpenSearch brings the internal
	// users' passwords and the admin certificate.
	Bootstrap bool
}

// Sink takes a bundle's files as they are made; Add may be called concurrently.
// AddStream takes a file too large to hold in memory whole (the manifest).
// *atomicfs.Tree is the one that writes them.
type Sink interface {
	Add(files ...atomicfs.File) error
	AddStream(path string, mode fs.FileMode, write func(io.Writer) error) error
}

// memory is the Sink of Build: it keeps the files.
type memory struct {
	mu    sync.Mutex
	files []atomicfs.File
}

func (m *memory) Add(files ...atomicfs.File) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files = append(m.files, files...)
	return nil
}

func (m *memory) AddStream(path string, mode fs.FileMode, write func(io.Writer) error) error {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return err
	}
	return m.Add(atomicfs.File{Path: path, Mode: mode, Data: b.Bytes()})
}

// Build builds the bundle of every instance of the request, in parallel, in memory:
// for bundles small enough to hold (a few nodes, tests). Result.Files has every file.
func Build(ctx context.Context, req Request, opts Options) (*Result, error) {
	var m memory
	res, err := BuildInto(ctx, req, opts, &m)
	if err != nil {
		return nil, err
	}
	res.Files = m.files
	return res, nil
}

// BuildInto builds the bundle of every instance of the request, in parallel, handing
// each instance's files to out as soon as they are made. On error, out may hold part
// of the bundle: the caller discards it.
func BuildInto(ctx context.Context, req Request, opts Options, out Sink) (*Result, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	iss, instances, bootstrapPassword := req.Issuer, req.Instances, req.BootstrapPassword
	res := &Result{Manifest: newManifest(iss, req, opts)}
	var paths []string // every file written, for the manifest
	add := func(files ...atomicfs.File) error {
		for _, f := range files {
			paths = append(paths, f.Path)
		}
		return out.Add(files...)
	}
	if err := add(req.CAFiles...); err != nil {
		return nil, err
	}
	opts.Rand = concurrentReader(opts.Rand)
	var oss *openSearch
	if opts.Target == target.OpenSearch {
		if opts.Format != PEM {
			return nil, errors.New("OpenSearch bundles are PEM files: use --format pem")
		}
		var err error
		if oss, err = prepareOpenSearch(req, opts); err != nil {
			return nil, err
		}
		res.Manifest.Target = string(target.OpenSearch)
		res.Manifest.NodesDN = oss.nodesDN
		if !req.Bootstrap && len(oss.nodesDN) > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("plugins.security.nodes_dn in the new block lists only %s: before the node starts, add it to nodes_dn on every running node (a restart each) and add theirs to this block; until then the cluster refuses the node", strings.Join(oss.nodesDN, "; ")))
		}
	}
	needKeystores := oss == nil && slices.ContainsFunc(instances, func(i spec.Instance) bool { return i.Type == spec.Elasticsearch })
	keystores := startKeystores(needKeystores, opts, out)
	// Always wait for the keystores' goroutine: it writes to out, which the caller
	// discards on error.
	defer keystores.finish()
	infos := make([]manifest.InstanceInfo, len(instances))
	warnings := make([][]string, len(instances))
	var pathsMu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	for i, inst := range instances {
		g.Go(func() (err error) {
			// A panic in a worker would kill the process from its goroutine, with the
			// staging directory (CA keys) left behind: make it this instance's error.
			defer func() {
				if r := recover(); r != nil {
					err = &PanicError{Where: fmt.Sprintf("instance %q", inst.Name), Value: r, Stack: debug.Stack()}
				}
			}()
			b, err := buildInstance(gctx, iss, inst, bootstrapPassword, keystores, oss, opts)
			if err != nil {
				return fmt.Errorf("instance %q: %w", inst.Name, err)
			}
			if err := out.Add(b.files...); err != nil {
				return err
			}
			pathsMu.Lock()
			paths = append(paths, b.info.Files...)
			pathsMu.Unlock()
			infos[i], warnings[i] = b.info, b.warnings
			if opts.Progress != nil {
				opts.Progress()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := keystores.finish(); err != nil {
		return nil, err
	}
	res.Manifest.Instances = infos
	for _, w := range warnings {
		res.Warnings = append(res.Warnings, w...)
	}
	httpCA := iss.Trust(spec.HTTP)
	res.Manifest.HTTPCAFingerprint = ca.Fingerprint(httpCA[0])
	final := []atomicfs.File{
		{Path: "clients/http-ca.crt", Mode: atomicfs.PublicMode, Data: ca.EncodeCertificates(httpCA...)},
		{Path: "clients/http-ca.sha256", Mode: atomicfs.PublicMode, Data: []byte(ca.Fingerprint(httpCA[0]) + "\n")},
	}
	if oss != nil && req.Bootstrap {
		files, err := oss.clusterFiles(ctx, iss, &res.Manifest, opts)
		if err != nil {
			return nil, err
		}
		final = append(final, files...)
	}
	if bootstrapPassword != "" && oss == nil {
		final = append(final, atomicfs.File{Path: BootstrapPasswordFile, Mode: atomicfs.SecretMode, Data: []byte(bootstrapPassword + "\n")})
		res.Manifest.BootstrapPasswordFile = BootstrapPasswordFile
	}
	if bootstrapPassword != "" || (oss != nil && req.Bootstrap) {
		// Client settings belong to a cluster's bootstrap only: `escert cert` adding a
		// node must not mint new Kibana encryption keys.
		files, warning, err := clientSettings(&res.Manifest, httpCA, opts)
		if err != nil {
			return nil, err
		}
		final = append(final, files...)
		if warning != "" {
			res.Warnings = append(res.Warnings, warning)
		}
	}
	if err := add(final...); err != nil {
		return nil, err
	}
	res.Manifest.Files = paths
	sort.Strings(res.Manifest.Files)
	if err := out.AddStream(manifest.File, atomicfs.PublicMode, res.Manifest.EncodeTo); err != nil {
		return nil, err
	}
	return res, nil
}

// BootstrapPasswordFile holds the elastic user's initial password, outside nodes/ so
// that copying a node bundle never spreads it further than the keystores already do.
const BootstrapPasswordFile = "elastic-bootstrap-password"

type instanceBundle struct {
	files    []atomicfs.File
	info     manifest.InstanceInfo
	warnings []string
}

func buildInstance(ctx context.Context, iss issuer.Issuer, inst spec.Instance, bootstrapPassword string, keystores *keystores, oss *openSearch, opts Options) (*instanceBundle, error) {
	certs, err := spec.Certificates(inst, opts.Spec)
	if err != nil {
		return nil, err
	}
	b := &instanceBundle{info: manifest.InstanceInfo{Name: inst.Name, Filename: inst.Filename, Type: string(inst.Type)}}
	node := inst.Type == spec.Elasticsearch
	root := "clients/" + inst.Filename
	if node {
		root = "nodes/" + inst.Filename
	}
	b.info.Dir = root
	var ks *eskeystore.Keystore
	if node && oss == nil {
		ks, err = eskeystore.New(opts.KeystoreVersion, opts.Rand)
		if err != nil {
			return nil, err
		}
	}
	add := func(name string, mode fs.FileMode, data []byte) {
		p := path.Join(root, name)
		b.files = append(b.files, atomicfs.File{Path: p, Mode: mode, Data: data})
		b.info.Files = append(b.info.Files, p)
	}
	for _, c := range certs {
		key, chain, err := issuer.Obtain(ctx, iss, c, opts.Rand, opts.Policy, opts.Key)
		if err != nil {
			return nil, fmt.Errorf("%s certificate: %w", c.Base, err)
		}
		certDir := ""
		if node {
			certDir = "certs/"
		}
		files, settings, err := keyFiles(c, key, chain, iss.Trust(c.Layer), node, opts)
		if err != nil {
			return nil, fmt.Errorf("%s certificate: %w", c.Base, err)
		}
		for _, f := range files {
			add(certDir+f.Path, f.Mode, f.Data)
		}
		for name, value := range settings {
			if err := ks.Set(name, []byte(value)); err != nil {
				return nil, err
			}
		}
		b.info.Certificates = append(b.info.Certificates, certInfo(c, chain[0], files, root+"/"+certDir))
		if c.ServerAuth && c.Layer == spec.HTTP && len(inst.DNS)+len(inst.IPs)+len(inst.HTTPDNS)+len(inst.HTTPIPs) == 0 {
			b.warnings = append(b.warnings, fmt.Sprintf("instance %q has no dns or ip: clients on other hosts cannot verify its %s certificate; add dns/ip (or http_dns/http_ip) to the instances file", inst.Name, c.Base))
		}
	}
	if !node {
		add("http-ca.crt", atomicfs.PublicMode, ca.EncodeCertificates(iss.Trust(spec.HTTP)...))
		return b, nil
	}
	for _, layer := range []spec.Layer{spec.Transport, spec.HTTP} {
		add("certs/"+string(layer)+"-ca.crt", atomicfs.PublicMode, ca.EncodeCertificates(iss.Trust(layer)...))
	}
	if oss != nil {
		for _, f := range oss.nodeFiles(opts) {
			add(f.Path, f.Mode, f.Data)
		}
		return b, nil
	}
	if r, ok := opts.restriction(); ok {
		add("certs/"+TrustRestrictionsFile, atomicfs.PublicMode, TrustRestrictions(opts.Spec.ClusterName, r))
	}
	if bootstrapPassword != "" {
		if err := ks.Set("bootstrap.password", []byte(bootstrapPassword)); err != nil {
			return nil, err
		}
	}
	add("elasticsearch.yml", atomicfs.PublicMode, []byte(SettingsBlock(opts)))
	// The keystore is sealed now or, before the build's key is derived, later by
	// another goroutine: nothing touches it after this.
	b.info.KeystoreSettings = ks.Names()
	ksPath := path.Join(root, "elasticsearch.keystore")
	b.info.Files = append(b.info.Files, ksPath)
	if err := keystores.seal(inst.Name, ksPath, ks); err != nil {
		return nil, err
	}
	return b, nil
}

// keyFiles writes one certificate's key material in the bundle format and returns the
// secure settings (passwords) Elasticsearch needs to open it.
func keyFiles(c spec.Certificate, key crypto.Signer, chain, trust []*x509.Certificate, node bool, opts Options) ([]atomicfs.File, map[string]string, error) {
	if node && opts.Format == P12 {
		password, err := RandomPassword(opts.Rand)
		if err != nil {
			return nil, nil, err
		}
		var trusted []p12.TrustedCert
		for i, t := range trust {
			alias := string(c.Layer) + "_ca"
			if i > 0 {
				alias = fmt.Sprintf("%s_ca_%d", c.Layer, i+1)
			}
			trusted = append(trusted, p12.TrustedCert{Alias: alias, Cert: t})
		}
		data, err := p12.Encode(opts.Rand, password, &p12.KeyEntry{Alias: c.Base, Key: key, Chain: chain}, trusted)
		if err != nil {
			return nil, nil, err
		}
		prefix := esconfig.SSLPrefix(string(c.Layer))
		settings := map[string]string{prefix + "keystore.secure_password": password}
		if c.Layer == spec.Transport {
			settings[prefix+"truststore.secure_password"] = password
		}
		return []atomicfs.File{{Path: c.Base + ".p12", Mode: atomicfs.SecretMode, Data: data}}, settings, nil
	}
	// PEM keys are left unencrypted and protected by file mode, as
	// elasticsearch-certutil --pem writes them: Elasticsearch 7.x on JDK 17 and every
	// FIPS JVM cannot read an encrypted PKCS#8 key.
	keyPEM, err := ca.MarshalKeyPEM(opts.Rand, key, nil)
	if err != nil {
		return nil, nil, err
	}
	return []atomicfs.File{
		{Path: c.Base + ".crt", Mode: atomicfs.PublicMode, Data: ca.EncodeCertificates(chain...)},
		{Path: c.Base + ".key", Mode: atomicfs.SecretMode, Data: keyPEM},
	}, nil, nil
}

// passwordAlphabet avoids characters that YAML, shells or Java property files would
// need quoted, so an operator can paste a password anywhere.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomPassword returns 24 random alphanumeric characters (about 142 bits).
func RandomPassword(rand io.Reader) (string, error) {
	const n = 24
	out := make([]byte, 0, n)
	buf := make([]byte, 64)
	for len(out) < n {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, c := range buf {
			// Rejection sampling keeps every character equally likely.
			if int(c) < 256-256%len(passwordAlphabet) && len(out) < n {
				out = append(out, passwordAlphabet[int(c)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}

// concurrentReader makes r safe for the parallel workers. crypto/rand.Reader is passed
// through as it is: it is safe for concurrent use, and BoringCrypto takes its own
// (validated) random source only when handed crypto/rand.Reader itself; any wrapper
// makes it panic outside tests ("boringcrypto: invalid code execution").
func concurrentReader(r io.Reader) io.Reader {
	if r == nil || r == rand.Reader {
		return rand.Reader
	}
	return &lockedReader{r: r}
}

// PanicError is a worker's panic, turned into an error: a bug in escert, not in the
// input.
type PanicError struct {
	Where string // what was being built: an instance, the keystore key
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: internal error, a bug in escert (nothing was written; set ESCERT_DEBUG=1 for the stack trace and report it): %v", e.Where, e.Value)
}

// lockedReader serializes a reader that may not be safe for concurrent use, such as a
// test's deterministic one.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// clientSettings makes kibana.yml, the Beats and Logstash outputs and a curl line
// for clients/, from the manifest built so far; with no host to point them at, none
// and a warning.
func clientSettings(m *manifest.Manifest, httpCA []*x509.Certificate, opts Options) ([]atomicfs.File, string, error) {
	files, err := clientconfig.Files(clientconfig.Input{Manifest: m, HTTPCA: ca.EncodeCertificates(httpCA...), Rand: opts.Rand})
	switch {
	case errors.Is(err, clientconfig.ErrNoHosts):
		return nil, "no client settings written: " + err.Error() + " (escert client-config --es-hosts)", nil
	case err != nil:
		return nil, "", fmt.Errorf("client settings: %w", err)
	}
	return files, "", nil
}

// MemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) for building the
// bundle of n instances. A build holds one instance's files per worker and the
// manifest, which grows by under 4 KiB an instance; Go's collector would otherwise let
// the heap reach twice that before collecting (103 MB of RSS for 10,000 nodes, 79 MB
// under this limit, for the same CPU time). The limit stays above what the build
// keeps, so the collector never runs back to back; were an instance to need more,
// the limit being soft, it would only collect more often.
func MemoryLimit(instances int) int64 {
	return 32<<20 + int64(instances)*4<<10
}
