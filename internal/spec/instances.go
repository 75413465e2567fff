// Package spec turns what the operator asks for (an instances.yml file and flags) into
// certificate specs: data that says, for every certificate, its name, layer, subject
// alternative names, usages and lifetime. The same specs drive issuance, whatever
// the issuer, and the manifest.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/escert/escert/internal/fault"
)

// Kind says what an instance is. Instances files in the wild list Kibana, Logstash,
// Beats and Fleet hosts beside the nodes; each kind gets the certificates it needs.
type Kind string

// The instance kinds escert knows.
const (
	Elasticsearch Kind = "elasticsearch"
	Kibana        Kind = "kibana"
	Logstash      Kind = "logstash"
	Fleet         Kind = "fleet"
	APM           Kind = "apm"
	Beats         Kind = "beats"
	Client        Kind = "client"
)

var kinds = []Kind{Elasticsearch, Kibana, Logstash, Fleet, APM, Beats, Client}

// Instance is one entry of an instances file. The first five fields are
// elasticsearch-certutil's `cert --in` format, which escert reads unchanged; the rest
// are escert's optional additions.
type Instance struct {
	Name     string   // plain name (CN=<name>) or a full DN when it contains '='
	Filename string   // bundle directory name; defaults to the name
	IPs      []net.IP // IP SANs on every certificate of the instance
	DNS      []string // DNS SANs on every certificate of the instance
	CN       []string // otherName SANs (type-id 2.5.4.3), as certutil writes them

	Type       Kind     // what the instance is; default elasticsearch
	HTTPDNS    []string // DNS SANs only on the HTTP (server) certificate
	HTTPIPs    []net.IP // IP SANs only on the HTTP (server) certificate
	ClientAuth bool     // also issue a client certificate for mutual TLS to Elasticsearch's HTTP layer

	line int // where the instance starts in the file, for error messages
}

// fields lists the keys an instance may have, in the order the help shows them.
var fields = []string{"name", "filename", "ip", "dns", "cn", "type", "http_dns", "http_ip", "client_auth"}

// filenamePattern is certutil's rule for instance file names.
var filenamePattern = regexp.MustCompile("^[a-zA-Z0-9!@#$%^&{}\\[\\]()_+\\-=,.~'` ]{1,251}$")

// ParseInstances reads an instances file. file names the file in errors.
func ParseInstances(file string, data []byte) ([]Instance, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, &fault.InputError{File: file, Problem: "file is empty: list the nodes under \"instances:\""}
	} else if err != nil {
		return nil, syntaxError(file, err)
	}
	// yaml.Unmarshal reads the first document only: instances after a "---" would be
	// dropped without a word. An empty document (a trailing "---") drops nothing.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, syntaxError(file, err)
		}
		if len(next.Content) > 0 && next.Content[0].Tag != "!!null" {
			return nil, &fault.InputError{File: file, Line: next.Line, Problem: "a second YAML document starts here, and escert reads only one: merge its instances into the first \"instances:\" list and remove the \"---\""}
		}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &fault.InputError{File: file, Line: root.Line, Problem: "expected a mapping with an \"instances\" list"}
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		if key.Value != "instances" {
			return nil, &fault.InputError{File: file, Line: key.Line, Field: key.Value, Problem: "unknown top-level key: only \"instances\" is allowed"}
		}
		if list != nil {
			// yaml.v3 keeps duplicate keys in a node; taking the last would drop instances.
			return nil, &fault.InputError{File: file, Line: key.Line, Field: key.Value, Problem: "given twice: merge the lists into one"}
		}
		list = value
	}
	if list == nil || list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		return nil, &fault.InputError{File: file, Line: root.Line, Field: "instances", Problem: "no instances: list at least one, e.g. \"- name: node1\""}
	}
	var out []Instance
	for _, node := range list.Content {
		inst, err := parseInstance(file, node)
		if err != nil {
			return nil, err
		}
		out = append(out, inst)
	}
	if err := checkUnique(file, out); err != nil {
		return nil, err
	}
	return out, nil
}

func syntaxError(file string, err error) error {
	return &fault.InputError{File: file, Problem: strings.TrimPrefix(err.Error(), "yaml: ") + ": fix the YAML syntax"}
}

func parseInstance(file string, node *yaml.Node) (Instance, error) {
	inst := Instance{Type: Elasticsearch, line: node.Line}
	if node.Kind != yaml.MappingNode {
		return inst, &fault.InputError{File: file, Line: node.Line, Problem: "an instance must be a mapping with at least \"name\""}
	}
	// Find the name first so every later error can name the instance.
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "name" {
			inst.Name = strings.TrimSpace(node.Content[i+1].Value)
		}
	}
	fail := func(n *yaml.Node, field, format string, args ...any) error {
		return &fault.InputError{File: file, Line: n.Line, Instance: inst.Name, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		if !slices.Contains(fields, key.Value) {
			return inst, fail(key, key.Value, "unknown field: use one of %s", strings.Join(fields, ", "))
		}
		if seen[key.Value] {
			return inst, fail(key, key.Value, "given twice: keep one")
		}
		seen[key.Value] = true
		var err error
		switch key.Value {
		case "name":
			err = scalar(value)
			if err == nil && value.Tag != "!!str" && value.Tag != "!!int" {
				err = errors.New("must be a string such as node1")
			}
		case "filename":
			err = scalar(value)
			inst.Filename = value.Value
		case "type":
			err = scalar(value)
			inst.Type = Kind(strings.ToLower(value.Value))
			if err == nil && !slices.Contains(kinds, inst.Type) {
				err = fmt.Errorf("%q is not a known type: use one of %s", value.Value, kindList())
			}
		case "client_auth":
			err = value.Decode(&inst.ClientAuth)
			if err != nil {
				err = errors.New("must be true or false")
			}
		case "dns":
			inst.DNS, err = dnsList(value)
		case "http_dns":
			inst.HTTPDNS, err = dnsList(value)
		case "ip":
			inst.IPs, err = ipList(value)
		case "http_ip":
			inst.HTTPIPs, err = ipList(value)
		case "cn":
			inst.CN, err = stringList(value)
		}
		if err != nil {
			return inst, fail(value, key.Value, "%v", err)
		}
	}
	if field, problem := inst.complete(); problem != "" {
		return inst, fail(node, field, "%s", problem)
	}
	return inst, nil
}

// NewInstance builds one instance from command-line values with the same checks as
// an instances file; errors name the flag.
func NewInstance(name, filename string, kind Kind, dns, ips, cn, httpDNS, httpIPs []string, clientAuth bool) (Instance, error) {
	kind = Kind(strings.ToLower(string(kind)))
	inst := Instance{Name: name, Filename: filename, Type: kind, CN: cn, ClientAuth: clientAuth}
	fail := func(field string, err error) (Instance, error) {
		return inst, &fault.InputError{File: "command line", Instance: name, Field: "--" + strings.ReplaceAll(field, "_", "-"), Problem: err.Error()}
	}
	var err error
	if !slices.Contains(kinds, kind) {
		return fail("type", fmt.Errorf("%q is not a known type: use one of %s", kind, kindList()))
	}
	if inst.DNS, err = checkDNSNames(dns); err != nil {
		return fail("dns", err)
	}
	if inst.HTTPDNS, err = checkDNSNames(httpDNS); err != nil {
		return fail("http_dns", err)
	}
	if inst.IPs, err = parseIPs(ips); err != nil {
		return fail("ip", err)
	}
	if inst.HTTPIPs, err = parseIPs(httpIPs); err != nil {
		return fail("http_ip", err)
	}
	if field, problem := inst.complete(); problem != "" {
		return fail(field, errors.New(problem))
	}
	return inst, nil
}

// complete checks the name, derives the file name and checks field combinations. It
// returns the offending field and the problem, or "" when the instance is sound.
func (inst *Instance) complete() (field, problem string) {
	if inst.Name == "" {
		return "name", "missing: every instance needs a name, e.g. \"name: node1\""
	}
	if inst.Name == "ca" {
		return "name", "\"ca\" is reserved for the CA's own files: choose another name"
	}
	_, subject, err := ParseName(inst.Name)
	if err != nil {
		return "name", err.Error()
	}
	for _, cn := range inst.CN {
		if strings.TrimSpace(cn) == "" {
			return "cn", "empty name: remove it or give a value"
		}
	}
	if inst.Filename == "" {
		inst.Filename = inst.Name
		if strings.Contains(inst.Name, "=") {
			inst.Filename = subject.CommonName
		}
	}
	if !filenamePattern.MatchString(inst.Filename) || strings.HasPrefix(inst.Filename, ".") {
		return "filename", fmt.Sprintf("%q is not a valid file name: use 1-251 letters, digits, spaces or !@#$%%^&{}[]()_+-=,.~'` and no leading '.'", inst.Filename)
	}
	if (len(inst.HTTPDNS) > 0 || len(inst.HTTPIPs) > 0) && !inst.Type.hasServer() {
		field := "http_dns"
		if len(inst.HTTPDNS) == 0 {
			field = "http_ip"
		}
		return field, fmt.Sprintf("type %s runs no HTTPS server: remove http_dns/http_ip", inst.Type)
	}
	if inst.ClientAuth && !slices.ContainsFunc(profiles[inst.Type], func(p Profile) bool { return p.ClientAuth && p.Layer == HTTP }) {
		return "client_auth", fmt.Sprintf("type %s gets no client certificate for Elasticsearch's HTTP layer (a node's transport certificate already serves both ends of node-to-node TLS): remove client_auth, or list the client as its own instance of type client", inst.Type)
	}
	return inst.checkSANCount()
}

// MaxSANs caps the subject alternative names of one certificate. Let's Encrypt and
// most public CAs stop at 100, and 100 DNS names of the longest form (253 bytes)
// make a certificate of about 26 KB which, with its CA, still fits the 32 KiB
// handshake message JSSE (Elasticsearch's TLS stack) accepts by default
// (jdk.tls.maxHandshakeMessageSize): many more would be a certificate nodes cannot
// send each other.
const MaxSANs = 100

// mostNames are the options under which escert adds the most names of its own.
var mostNames = Options{ClusterName: "c", TrustRestrictions: true, Localhost: true}

// checkSANCount refuses an instance whose certificates would carry more than MaxSANs
// names, counting the localhost names and node name escert may add, and names the
// field with the most entries.
func (inst *Instance) checkSANCount() (field, problem string) {
	certs, err := Certificates(*inst, mostNames)
	if err != nil {
		return "name", err.Error()
	}
	largest, n := "", 0
	for _, c := range certs {
		if m := len(c.DNSNames) + len(c.IPs) + len(c.OtherNames); m > n {
			largest, n = c.Base, m
		}
	}
	if n > MaxSANs {
		field, most := "dns", len(inst.DNS)
		for _, f := range []struct {
			name string
			n    int
		}{{"ip", len(inst.IPs)}, {"cn", len(inst.CN)}, {"http_dns", len(inst.HTTPDNS)}, {"http_ip", len(inst.HTTPIPs)}} {
			if f.n > most {
				field, most = f.name, f.n
			}
		}
		return field, fmt.Sprintf("%d distinct names on the %s certificate (dns, ip, cn, http_dns and http_ip together, with the localhost names and node name escert may add): a certificate holds at most %d, as public CAs allow and Elasticsearch's TLS stack can still send: list fewer, e.g. one wildcard such as *.example.com", n, largest, MaxSANs)
	}
	return "", ""
}

func checkUnique(file string, list []Instance) error {
	names := map[string]bool{}
	files := map[string]bool{}
	for _, inst := range list {
		if names[inst.Name] {
			return &fault.InputError{File: file, Line: inst.line, Instance: inst.Name, Field: "name", Problem: "duplicate name: every instance needs its own"}
		}
		names[inst.Name] = true
		// Case-insensitive: two bundles that differ only in case collide on macOS and
		// Windows file systems, where operators often unpack them.
		key := strings.ToLower(inst.Filename)
		if files[key] {
			return &fault.InputError{File: file, Line: inst.line, Instance: inst.Name, Field: "filename", Problem: fmt.Sprintf("duplicate filename %q: set a distinct \"filename\"", inst.Filename)}
		}
		files[key] = true
	}
	return nil
}

func kindList() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func scalar(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("must be a single value")
	}
	return nil
}

// stringList accepts a single value or a list, as certutil's parser does.
func stringList(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return nil, errors.New("must be a list of strings")
			}
			out = append(out, item.Value)
		}
		return out, nil
	}
	return nil, errors.New("must be a string or a list of strings")
}

func ipList(n *yaml.Node) ([]net.IP, error) {
	values, err := stringList(n)
	if err != nil {
		return nil, err
	}
	return parseIPs(values)
}

func parseIPs(values []string) ([]net.IP, error) {
	var ips []net.IP
	for _, v := range values {
		ip := net.ParseIP(strings.TrimSpace(v))
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IP address: use an IPv4 or IPv6 address such as 192.0.2.10 (host names go under dns)", v)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

func dnsList(n *yaml.Node) ([]string, error) {
	values, err := stringList(n)
	if err != nil {
		return nil, err
	}
	return checkDNSNames(values)
}

// checkDNSNames lower-cases and checks host names.
func checkDNSNames(in []string) ([]string, error) {
	values := slices.Clone(in)
	for i, v := range values {
		v = strings.ToLower(strings.TrimSpace(v))
		if err := CheckDNSName(v); err != nil {
			return nil, err
		}
		values[i] = v
	}
	return values, nil
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckDNSName accepts a host name as RFC 1123 allows it, with an optional leading
// "*." wildcard label as RFC 6125 allows in certificates.
func CheckDNSName(name string) error {
	fix := "use a host name such as node1.example.com"
	if net.ParseIP(name) != nil {
		return fmt.Errorf("%q is an IP address: put it under ip", name)
	}
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a valid DNS name: %s", name, fix)
	}
	if strings.HasSuffix(name, ".") {
		// A SAN with the root dot never matches: verifiers compare without it.
		return fmt.Errorf("%q ends with a dot: write it without the trailing dot", name)
	}
	labels := strings.Split(name, ".")
	if len(labels) > 1 && allNumeric(labels) {
		return fmt.Errorf("%q looks like an IP address but is not one: fix it and put it under ip", name)
	}
	for i, label := range labels {
		if i == 0 && label == "*" && len(labels) > 2 {
			continue
		}
		if !dnsLabel.MatchString(label) {
			return fmt.Errorf("%q is not a valid DNS name: %s", name, fix)
		}
	}
	return nil
}

// allNumeric reports a dotted all-digit name such as 192.0.2.300: a mistyped IP,
// which no resolver would accept as a host name either.
func allNumeric(labels []string) bool {
	for _, l := range labels {
		if strings.Trim(l, "0123456789") != "" {
			return false
		}
	}
	return true
}

func (k Kind) hasServer() bool {
	for _, p := range profiles[k] {
		if p.ServerAuth {
			return true
		}
	}
	return false
}
