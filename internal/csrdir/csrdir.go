// Package csrdir is the one home of a CSR directory, as `escert csr` writes it for a
// company's PKI team and `escert bootstrap --issuer pki` reads it back:
//
//	request.json          what was asked: the cluster-wide choices and every request
//	PKI-REQUEST.md        for the PKI team: per layer, the usages and names and why
//	instances.yml         the instances file the requests were made from
//	transport/<name>.csr  the requests, grouped by layer: each group may go to its
//	http/<name>.csr       own issuing CA, or both to one
//	keys/<name>/<cert>.key  the private keys (mode 0600, directory 0700): never sent
//
// Files makes such a directory's files and Read reads one back, refusing as bad input
// one that was edited out of shape (a request without its key, a key of another
// request).
package csrdir

import (
	"bytes"
	"crypto"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/spec"
)

// The files of a CSR directory.
const (
	RequestFile   = "request.json"
	NotesFile     = "PKI-REQUEST.md"
	InstancesFile = "instances.yml"
	KeysDir       = "keys"
)

// formatVersion is request.json's format; Read refuses others.
const formatVersion = 1

// Request is request.json: the choices every certificate was requested with and the
// requests themselves. It never holds a secret.
type Request struct {
	Format  int       `json:"format"`
	Tool    string    `json:"tool"`
	Created time.Time `json:"created"`
	Cluster string    `json:"cluster_name"`
	// TrustRestrictions: the transport requests ask for the node-name otherName the
	// trust restrictions match.
	TrustRestrictions bool   `json:"trust_restrictions"`
	Localhost         bool   `json:"localhost"`
	Key               string `json:"key"`
	// ConfigDir, for a renewal, is the config directory of the node whose
	// certificates the requests renew; the signed ones go nowhere else.
	ConfigDir    string  `json:"es_config,omitempty"`
	Certificates []Entry `json:"certificates"`
}

// Entry is one certificate request.
type Entry struct {
	Instance   string     `json:"instance"`
	Dir        string     `json:"dir"` // the instance's file name
	Base       string     `json:"base"`
	Layer      spec.Layer `json:"layer"`
	Subject    string     `json:"subject"`
	DNSNames   []string   `json:"dns,omitempty"`
	IPs        []string   `json:"ip,omitempty"`
	OtherNames []string   `json:"other_names,omitempty"`
	Usages     []string   `json:"extended_key_usage"`
	CSR        string     `json:"csr"`
	KeyFile    string     `json:"key"`
	// Replaces, for a renewal, is the SHA-256 of the certificate the request renews:
	// a node whose certificate changed since is asked again, not overwritten.
	Replaces string `json:"replaces_sha256,omitempty"`
}

// ID names a request in messages: node1's transport certificate is "node1/transport".
func (e Entry) ID() string { return e.Dir + "/" + e.Base }

// CSRPath is where the request of certificate base of an instance goes: below its
// layer, so a PKI team that signs the layers with different CAs gets one folder each.
func CSRPath(layer spec.Layer, dir, base string) string {
	name := dir
	if base != string(layer) {
		name += "-" + base
	}
	return path.Join(string(layer), name+".csr")
}

// KeyPath is where the private key of a request goes.
func KeyPath(dir, base string) string { return path.Join(KeysDir, dir, base+".key") }

// Input is what Files makes a CSR directory from.
type Input struct {
	Certificates []spec.Certificate
	Options      spec.Options
	Instances    []byte // the instances file, copied as instances.yml
	Key          fips.KeySpec
	Policy       fips.Policy
	Rand         io.Reader
	Now          time.Time
	Tool         string
	// Progress, when set, is called once per request made.
	Progress func()
	// ConfigDir and Replaces (by Entry.ID) make the requests a node's renewal.
	ConfigDir string
	Replaces  map[string]string
	// Keys (by Entry.ID) are pending keys to ask again with, instead of new ones: a
	// daily renewal run re-requests with the key whose certificate is still awaited.
	Keys map[string]crypto.Signer
}

// Files makes a key and a request for each certificate, and the directory's other
// files.
func Files(in Input) ([]atomicfs.File, *Request, error) {
	req := &Request{
		Format: formatVersion, Tool: in.Tool, Created: in.Now.UTC(), Cluster: in.Options.ClusterName,
		TrustRestrictions: in.Options.TrustRestrictions, Localhost: in.Options.Localhost, Key: in.Key.String(),
		ConfigDir: in.ConfigDir,
	}
	var files []atomicfs.File
	if in.Instances != nil {
		files = append(files, atomicfs.File{Path: InstancesFile, Mode: atomicfs.PublicMode, Data: in.Instances})
	}
	for _, c := range in.Certificates {
		e := EntryOf(c)
		e.Replaces = in.Replaces[e.ID()]
		key := in.Keys[e.ID()]
		if key == nil {
			var err error
			if key, err = ca.GenerateKey(in.Rand, in.Policy, in.Key); err != nil {
				return nil, nil, err
			}
		}
		der, err := ca.NewCSR(in.Rand, in.Policy, c.Leaf(in.Now), key)
		if err != nil {
			return nil, nil, fmt.Errorf("instance %q: %w", c.Instance, err)
		}
		keyPEM, err := ca.MarshalKeyPEM(in.Rand, key, nil)
		if err != nil {
			return nil, nil, err
		}
		files = append(files,
			atomicfs.File{Path: e.CSR, Mode: atomicfs.PublicMode, Data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})},
			atomicfs.File{Path: e.KeyFile, Mode: atomicfs.SecretMode, Data: keyPEM})
		req.Certificates = append(req.Certificates, e)
		if in.Progress != nil {
			in.Progress()
		}
	}
	data, err := json.MarshalIndent(req, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	files = append(files,
		atomicfs.File{Path: RequestFile, Mode: atomicfs.PublicMode, Data: append(data, '\n')},
		atomicfs.File{Path: NotesFile, Mode: atomicfs.PublicMode, Data: Notes(req)})
	return files, req, nil
}

// EntryOf is the request entry of a certificate spec.
func EntryOf(c spec.Certificate) Entry {
	e := Entry{
		Instance: c.Instance, Dir: c.Dir, Base: c.Base, Layer: c.Layer,
		Subject:  ca.FormatDN(c.RawSubject),
		DNSNames: slices.Clone(c.DNSNames), OtherNames: slices.Clone(c.OtherNames),
		Usages: c.UsageNames(), CSR: CSRPath(c.Layer, c.Dir, c.Base), KeyFile: KeyPath(c.Dir, c.Base),
	}
	for _, ip := range c.IPs {
		e.IPs = append(e.IPs, ip.String())
	}
	return e
}

// Dir is a CSR directory read back.
type Dir struct {
	Path      string
	Request   Request
	Instances []byte
}

// Read reads the CSR directory at dir.
func Read(dir string) (*Dir, error) {
	file := filepath.Join(dir, RequestFile)
	data, err := infile.Read(file, infile.Manifest)
	if err != nil {
		return nil, &fault.InputError{File: file, Problem: infile.Problem(err, "point --csr-dir at the directory `escert csr --out` wrote")}
	}
	req, err := ParseRequest(file, data)
	if err != nil {
		return nil, err
	}
	d := &Dir{Path: dir, Request: *req}
	if d.Request.ConfigDir != "" {
		return d, nil // a node's renewal: its instance is the node
	}
	instances := filepath.Join(dir, InstancesFile)
	if d.Instances, err = infile.Read(instances, infile.Instances); err != nil {
		return nil, &fault.InputError{File: instances, Problem: infile.Problem(err, "it is the instances file the requests were made from: restore it")}
	}
	return d, nil
}

// Forget removes the keys and requests of entries, whose certificates are installed
// now, and rewrites request.json without them: a key left behind would be a second
// copy of a node's secret, and a later renewal must ask with a new one.
func (d *Dir) Forget(w atomicfs.Writer, entries []Entry) error {
	var kept []Entry
	for _, e := range d.Request.Certificates {
		if !slices.ContainsFunc(entries, func(f Entry) bool { return f.ID() == e.ID() }) {
			kept = append(kept, e)
		}
	}
	d.Request.Certificates = kept
	data, err := json.MarshalIndent(d.Request, "", "  ")
	if err != nil {
		return err
	}
	if err := w.WriteFile(filepath.Join(d.Path, RequestFile), append(data, '\n'), atomicfs.PublicMode); err != nil {
		return err
	}
	for _, e := range entries {
		for _, f := range []string{e.KeyFile, e.CSR} {
			if err := os.Remove(filepath.Join(d.Path, filepath.FromSlash(f))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// ParseRequest reads request.json (file names it in errors). Every path in it must
// stay inside the directory: the file is input, and a path such as ../../etc would
// otherwise make escert read or remove files elsewhere.
func ParseRequest(file string, data []byte) (*Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fault.BadFile(file, "not a request escert wrote (%v): run `escert csr` again", err)
	}
	if r.Format != formatVersion {
		return nil, fault.BadFile(file, "format %d, but this escert reads format %d: use the escert that wrote it", r.Format, formatVersion)
	}
	for _, e := range r.Certificates {
		for _, p := range []string{e.CSR, e.KeyFile} {
			if !filepath.IsLocal(filepath.FromSlash(p)) {
				return nil, fault.BadFile(file, "the request %s names %q, outside the directory: run `escert csr` again", e.ID(), p)
			}
		}
	}
	return &r, nil
}

// Key reads the private key of request e, refusing one that is not the request's.
func (d *Dir) Key(e Entry) (crypto.Signer, error) {
	file := filepath.Join(d.Path, filepath.FromSlash(e.KeyFile))
	data, err := infile.Read(file, infile.Key)
	if err != nil {
		return nil, &fault.InputError{File: file, Problem: infile.Problem(err, "the key made with "+e.CSR+" never leaves this machine: run escert where `escert csr` ran, or request again")}
	}
	key, err := ca.ParseKeyPEM(data, nil)
	if err != nil {
		return nil, fault.BadFile(file, "%v", err)
	}
	csrFile := filepath.Join(d.Path, filepath.FromSlash(e.CSR))
	csrPEM, err := infile.Read(csrFile, infile.PEM)
	if err != nil {
		return nil, &fault.InputError{File: csrFile, Problem: infile.Problem(err, "restore the request escert wrote")}
	}
	csr, err := ca.ParseCSR(csrPEM)
	if err != nil {
		return nil, fault.BadFile(csrFile, "%v", err)
	}
	if !publicKeysEqual(csr.PublicKey, key.Public()) {
		return nil, fault.BadFile(file, "is not the key of %s: restore the key `escert csr` made with it", csrFile)
	}
	return key, nil
}

// Find returns the request of certificate base of the instance with file name dir.
func (r *Request) Find(dir, base string) (Entry, bool) {
	i := slices.IndexFunc(r.Certificates, func(e Entry) bool { return e.Dir == dir && e.Base == base })
	if i < 0 {
		return Entry{}, false
	}
	return r.Certificates[i], true
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
