package bundle

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/ossecurity"
	"github.com/escert/escert/internal/passwords"
	"github.com/escert/escert/internal/spec"
)

// openSearch is what every node bundle of an OpenSearch cluster shares: the node
// certificates' DNs (plugins.security.nodes_dn), the admin certificate's DN
// (authcz.admin_dn) and, for a cluster's first bundle, the internal users with
// their generated passwords.
type openSearch struct {
	nodesDN       []string
	adminDN       string
	users         passwords.Entries
	internalUsers []byte // internal_users.yml; nil for nodes added later
}

// AdminDir holds the admin certificate and key, outside nodes/ and clients/: whoever
// has them administers the cluster's security.
const AdminDir = clientconfig.AdminDir

// prepareOpenSearch works out the DNs and, on a first bundle, the users. The DNs are
// the strings the security plugin compares, Java's RFC 2253 form of each node's
// subject, so escaping and attribute order are the certificates' own.
func prepareOpenSearch(req Request, opts Options) (*openSearch, error) {
	adminRaw, _, err := spec.ParseName(spec.AdminName(opts.Spec.ClusterName))
	if err != nil {
		return nil, fmt.Errorf("--cluster-name: %w", err)
	}
	o := &openSearch{adminDN: ca.FormatDNAsJava(adminRaw)}
	for _, inst := range req.Instances {
		raw, _, err := spec.ParseName(inst.Name)
		if err != nil {
			return nil, fmt.Errorf("instance %q: %w", inst.Name, err)
		}
		if ca.FormatDNAsJava(raw) == o.adminDN {
			return nil, fmt.Errorf("instance %q: its DN is the admin certificate's (%s), which would make its certificates the cluster's superuser: rename it", inst.Name, o.adminDN)
		}
		if inst.Type == spec.Elasticsearch {
			o.nodesDN = append(o.nodesDN, ca.FormatDNAsJava(raw))
		}
	}
	if !req.Bootstrap {
		return o, nil
	}
	var users []ossecurity.User
	for _, name := range ossecurity.Users {
		pw, err := passwords.Generate(opts.Rand)
		if err != nil {
			return nil, err
		}
		o.users = o.users.With(name, pw)
		users = append(users, ossecurity.User{Name: name, Password: pw})
	}
	if o.internalUsers, err = ossecurity.InternalUsers(users); err != nil {
		return nil, err
	}
	return o, nil
}

// openSearchNodeFiles are the files of a node bundle beside its certificates: the
// opensearch.yml block and, on a first bundle, the internal users for the security
// index's first start.
func (o *openSearch) nodeFiles(opts Options) []atomicfs.File {
	files := []atomicfs.File{{Path: "opensearch.yml", Mode: atomicfs.PublicMode, Data: []byte(OpenSearchBlock(opts, o.nodesDN, o.adminDN))}}
	if o.internalUsers != nil {
		// Hashes, not passwords, but offline guessing needs only the hash.
		files = append(files, atomicfs.File{Path: ossecurity.Dir + "/" + ossecurity.InternalUsersFile, Mode: atomicfs.SecretMode, Data: o.internalUsers})
	}
	return files
}

// clusterFiles are a first bundle's files outside nodes/: the passwords and the admin
// certificate, recorded in the manifest.
func (o *openSearch) clusterFiles(ctx context.Context, iss issuer.Issuer, m *manifest.Manifest, opts Options) ([]atomicfs.File, error) {
	cert, err := spec.AdminCertificate(opts.Spec)
	if err != nil {
		return nil, err
	}
	key, chain, err := issuer.Obtain(ctx, iss, cert, opts.Rand, opts.Policy, opts.Key)
	if err != nil {
		return nil, fmt.Errorf("admin certificate: %w", err)
	}
	keyPEM, err := ca.MarshalKeyPEM(opts.Rand, key, nil)
	if err != nil {
		return nil, err
	}
	files := []atomicfs.File{
		{Path: passwords.File, Mode: atomicfs.SecretMode, Data: passwords.RenderInternalUsers(opts.Spec.ClusterName, o.users)},
		{Path: path.Join(AdminDir, "admin.crt"), Mode: atomicfs.PublicMode, Data: ca.EncodeCertificates(chain...)},
		{Path: path.Join(AdminDir, "admin.key"), Mode: atomicfs.SecretMode, Data: keyPEM},
	}
	info := certInfo(cert, chain[0], files[1:], "")
	m.Admin = &info
	m.PasswordsFile = passwords.File
	return files, nil
}

// osSSL starts the security plugin's TLS settings, which the block sets.
const osSSL = "plugins.security.ssl."

// OpenSearchBlock is the opensearch.yml block that turns the security plugin's TLS
// on for a node bundle, with paths relative to the config directory: PEM files (the
// plugin reads PKCS#8 keys only, since 2.9), node-to-node mutual TLS restricted to
// the node certificates' DNs, HTTPS, the admin certificate's DN, and the security
// index made from opensearch-security/ on the first start.
func OpenSearchBlock(opts Options, nodesDN []string, adminDN string) string {
	var lines []string
	set := func(key, value string) { lines = append(lines, key+": "+value) }
	lines = append(lines, esconfig.BlockBegin,
		"# Managed by escert: re-running `escert install` replaces this block. Keys are PKCS#8",
		"# PEM files under certs/, readable by OpenSearch only.")
	for _, layer := range []string{esconfig.Transport, esconfig.HTTP} {
		prefix := osSSL + layer + "."
		if layer == esconfig.HTTP {
			set(prefix+"enabled", "true")
		}
		set(prefix+"pemcert_filepath", "certs/"+layer+".crt")
		set(prefix+"pemkey_filepath", "certs/"+layer+".key")
		set(prefix+"pemtrustedcas_filepath", "certs/"+layer+"-ca.crt")
		if layer == esconfig.Transport {
			// As Elasticsearch's verification_mode: certificate checks the chain (and
			// nodes_dn who may join); full checks host names too. 2.19 moved the
			// setting into the server, deprecating the plugin's spelling.
			key := prefix + "enforce_hostname_verification"
			if newSpellings(opts) {
				key = "transport.ssl.enforce_hostname_verification"
			}
			set(key, fmt.Sprint(opts.TransportVerification == "full"))
		}
	}
	// Renewal swaps files in place; 2.19 reloads them within 5 seconds, earlier
	// versions when the admin certificate calls the reloadcerts API, which this
	// setting opens.
	if newSpellings(opts) {
		set(nodetls.OpenSearchHotReload, "true")
	} else {
		set(nodetls.OpenSearchReloadEnabled, "true")
	}
	set("plugins.security.nodes_dn", yamlList(nodesDN))
	set("plugins.security.authcz.admin_dn", yamlList([]string{adminDN}))
	set("plugins.security.allow_default_init_securityindex", "true")
	lines = append(lines, esconfig.BlockEnd)
	return strings.Join(lines, "\n") + "\n"
}

// newSpellings: OpenSearch 2.19 and later, with certificate hot reload and the
// server's transport.ssl.enforce_hostname_verification.
func newSpellings(opts Options) bool { return opts.OpenSearchVersion.AtLeast(2, 19, 0) }
