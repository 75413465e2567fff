package spec

import (
	"fmt"
	"net"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests over the profiles table itself: whatever is added to it later must keep these
// properties, which the layer separation of Elasticsearch's security depends on.

func TestProfilesCoverEveryKindAndOnlyKnownKinds(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		if len(Profiles(k)) == 0 {
			t.Errorf("kind %s has no profile", k)
		}
	}
	for k := range profiles {
		if !slices.Contains(kinds, k) {
			t.Errorf("profiles has kind %q that is not in kinds", k)
		}
	}
	if Profiles("unknown") != nil {
		t.Error("Profiles of an unknown kind is not empty")
	}
}

func TestEveryProfileHasALayerAUsageAndAUniqueBase(t *testing.T) {
	t.Parallel()
	for k, list := range profiles {
		bases := map[string]bool{}
		for _, p := range list {
			if p.Layer != Transport && p.Layer != HTTP {
				t.Errorf("%s/%s: layer %q", k, p.Base, p.Layer)
			}
			if !p.ServerAuth && !p.ClientAuth {
				t.Errorf("%s/%s: neither server nor client usage", k, p.Base)
			}
			if p.Base == "" || strings.ContainsAny(p.Base, `/\. `) {
				t.Errorf("%s: bad base name %q", k, p.Base)
			}
			if bases[p.Base] {
				t.Errorf("%s: base %q twice: the files would overwrite each other", k, p.Base)
			}
			bases[p.Base] = true
		}
	}
}

func TestTransportProfilesServeBothEndsAndOnlyNodes(t *testing.T) {
	t.Parallel()
	for k, list := range profiles {
		for _, p := range list {
			if p.Layer != Transport {
				continue
			}
			if !p.ServerAuth || !p.ClientAuth {
				t.Errorf("%s/%s: transport certificate without both server and client usage (node-to-node TLS is mutual)", k, p.Base)
			}
			if k != Elasticsearch {
				t.Errorf("%s/%s: only Elasticsearch nodes may get transport certificates", k, p.Base)
			}
			if p.OnlyWhen != nil {
				t.Errorf("%s/%s: transport certificate is conditional", k, p.Base)
			}
		}
	}
	var transport int
	for _, p := range profiles[Elasticsearch] {
		if p.Layer == Transport {
			transport++
		}
	}
	if transport != 1 {
		t.Errorf("elasticsearch has %d transport profiles, want 1", transport)
	}
}

func TestClientCertificatesNeverOpenTheTransportLayer(t *testing.T) {
	t.Parallel()
	for k, list := range profiles {
		for _, p := range list {
			if p.ClientAuth && !p.ServerAuth && p.Layer != HTTP {
				t.Errorf("%s/%s: client certificate on layer %s", k, p.Base, p.Layer)
			}
		}
	}
}

func TestNodeNamesOnlyOnTransportAndHTTPNamesOnlyOnServers(t *testing.T) {
	t.Parallel()
	for k, list := range profiles {
		for _, p := range list {
			if p.NodeName && p.Layer != Transport {
				t.Errorf("%s/%s: node otherName on layer %s: trust restrictions match transport certificates only", k, p.Base, p.Layer)
			}
			if p.HTTPNames && (p.Layer != HTTP || !p.ServerAuth) {
				t.Errorf("%s/%s: http names on a certificate that is not an HTTP server certificate", k, p.Base)
			}
		}
	}
}

func TestServerKindsHaveAnHTTPServerCertificate(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		var server bool
		for _, p := range profiles[k] {
			server = server || (p.ServerAuth && p.Layer == HTTP && p.HTTPNames)
		}
		if server != k.hasServer() {
			t.Errorf("%s: has an HTTP server certificate = %v, hasServer() = %v", k, server, k.hasServer())
		}
		wantServer := k != Beats && k != Client
		if server != wantServer {
			t.Errorf("%s: HTTP server certificate = %v, want %v", k, server, wantServer)
		}
	}
}

// certificates calls Certificates and fails the test on error.
func certificates(t *testing.T, inst Instance, opts Options) []Certificate {
	t.Helper()
	if inst.Filename == "" {
		inst.Filename = inst.Name
	}
	if inst.Type == "" {
		inst.Type = Elasticsearch
	}
	certs, err := Certificates(inst, opts)
	if err != nil {
		t.Fatalf("Certificates(%s): %v", inst.Name, err)
	}
	return certs
}

func byBase(t *testing.T, certs []Certificate, base string) Certificate {
	t.Helper()
	for _, c := range certs {
		if c.Base == base {
			return c
		}
	}
	t.Fatalf("no %s certificate among %d", base, len(certs))
	return Certificate{}
}

func bases(certs []Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, c.Base)
	}
	return out
}

var defaultOpts = Options{ClusterName: "escert", TrustRestrictions: true, Localhost: true, Days: 730}

func TestCertificatesPerKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind       Kind
		clientAuth bool
		want       []string // base names, in profile order
	}{
		{Elasticsearch, false, []string{"transport", "http"}},
		{Elasticsearch, true, []string{"transport", "http"}},
		{Kibana, false, []string{"server"}},
		{Kibana, true, []string{"server", "client"}},
		{Logstash, false, []string{"server"}},
		{Logstash, true, []string{"server", "client"}},
		{Fleet, true, []string{"server", "client"}},
		{APM, false, []string{"server"}},
		{APM, true, []string{"server", "client"}},
		{Beats, false, nil},
		{Beats, true, []string{"client"}},
		{Client, false, []string{"client"}},
		{Client, true, []string{"client"}},
	}
	for _, tt := range tests {
		inst := Instance{Name: "x", Filename: "x", Type: tt.kind, ClientAuth: tt.clientAuth}
		certs := certificates(t, inst, defaultOpts)
		if got := bases(certs); !slices.Equal(got, tt.want) {
			t.Errorf("%s client_auth=%v: certificates %q, want %q", tt.kind, tt.clientAuth, got, tt.want)
		}
		for _, c := range certs {
			if c.Kind != tt.kind || c.Instance != "x" || c.Dir != "x" || c.Days != 730 {
				t.Errorf("%s/%s: kind %s instance %q dir %q days %d", tt.kind, c.Base, c.Kind, c.Instance, c.Dir, c.Days)
			}
			if c.Layer == Transport && tt.kind != Elasticsearch {
				t.Errorf("%s/%s: transport certificate", tt.kind, c.Base)
			}
		}
	}
}

func TestCertificatesForAnElasticsearchNode(t *testing.T) {
	t.Parallel()
	inst := Instance{
		Name: "CN=node1,O=Example", Filename: "es-1", Type: Elasticsearch,
		DNS: []string{"node1.example.com"}, IPs: ips("192.0.2.1"), CN: []string{"node1.cluster.local"},
		HTTPDNS: []string{"search.example.com"}, HTTPIPs: ips("203.0.113.1"),
	}
	certs := certificates(t, inst, defaultOpts)
	rawSubject, subject, err := ParseName(inst.Name)
	if err != nil || subject.CommonName != "node1" || !slices.Equal(subject.Organization, []string{"Example"}) {
		t.Fatalf("ParseName(%q) = %+v, %v", inst.Name, subject, err)
	}
	want := []Certificate{
		{
			Instance: "CN=node1,O=Example", Dir: "es-1", Kind: Elasticsearch, Base: "transport", Layer: Transport,
			Subject: subject, RawSubject: rawSubject, DNSNames: []string{"node1.example.com"}, IPs: ips("192.0.2.1"),
			OtherNames: []string{"node1.cluster.local", "es-1.node.escert"},
			ServerAuth: true, ClientAuth: true, Days: 730,
		},
		{
			Instance: "CN=node1,O=Example", Dir: "es-1", Kind: Elasticsearch, Base: "http", Layer: HTTP,
			Subject:    subject,
			RawSubject: rawSubject,
			DNSNames:   []string{"node1.example.com", "search.example.com", "localhost"},
			IPs:        []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("203.0.113.1"), net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			OtherNames: []string{"node1.cluster.local"},
			ServerAuth: true, Days: 730,
		},
	}
	if !reflect.DeepEqual(certs, want) {
		t.Errorf("Certificates =\n%#v\nwant\n%#v", certs, want)
	}
}

func TestOnlyOpenSearchCertificatesAndTheAdminOneMustKeepTheirSubject(t *testing.T) {
	t.Parallel()
	inst := Instance{Name: "node1", Filename: "node1", Type: Elasticsearch, DNS: []string{"node1.example.com"}}
	for _, keep := range []bool{false, true} {
		opts := defaultOpts
		opts.KeepSubject = keep
		for _, c := range certificates(t, inst, opts) {
			if c.KeepSubject != keep {
				t.Errorf("with Options.KeepSubject %v, the %s certificate's KeepSubject = %v", keep, c.Base, c.KeepSubject)
			}
		}
	}
	admin, err := AdminCertificate(defaultOpts)
	if err != nil || !admin.KeepSubject {
		t.Errorf("AdminCertificate: KeepSubject %v, %v; admin_dn names it, so it must be kept", admin.KeepSubject, err)
	}
}

func TestNodeOtherNameOnlyWithTrustRestrictions(t *testing.T) {
	t.Parallel()
	inst := Instance{Name: "node1", Filename: "node1", Type: Elasticsearch, DNS: []string{"node1.example.com"}}
	on := certificates(t, inst, Options{ClusterName: "prod", TrustRestrictions: true})
	if got := byBase(t, on, "transport").OtherNames; !slices.Equal(got, []string{"node1.node.prod"}) {
		t.Errorf("transport otherNames with trust restrictions = %q, want [node1.node.prod]", got)
	}
	if got := byBase(t, on, "http").OtherNames; len(got) != 0 {
		t.Errorf("http otherNames = %q, want none: the node name belongs on transport only", got)
	}
	off := certificates(t, inst, Options{ClusterName: "prod"})
	for _, c := range off {
		if len(c.OtherNames) != 0 {
			t.Errorf("%s otherNames without trust restrictions = %q, want none", c.Base, c.OtherNames)
		}
	}
	// Kinds other than Elasticsearch never carry it, whatever the options.
	for _, k := range []Kind{Kibana, Logstash, Fleet, APM, Beats, Client} {
		for _, c := range certificates(t, Instance{Name: "x", Type: k, ClientAuth: true, DNS: []string{"x.example.com"}}, defaultOpts) {
			if slices.Contains(c.OtherNames, NodeName("x", "escert")) {
				t.Errorf("%s/%s carries the node otherName", k, c.Base)
			}
		}
	}
}

func TestNodeOtherNameUsesTheFilename(t *testing.T) {
	t.Parallel()
	// Trust restrictions match <filename>.node.<cluster>; a DN name must not leak into it.
	inst := Instance{Name: "CN=node1,OU=search,O=Example", Filename: "node1", Type: Elasticsearch}
	c := byBase(t, certificates(t, inst, Options{ClusterName: "c1", TrustRestrictions: true}), "transport")
	if !slices.Equal(c.OtherNames, []string{"node1.node.c1"}) {
		t.Errorf("otherNames = %q, want [node1.node.c1]", c.OtherNames)
	}
}

func TestLocalhostNamesOnlyOnHTTPServerCertificates(t *testing.T) {
	t.Parallel()
	isLocal := func(c Certificate) bool {
		return slices.Contains(c.DNSNames, "localhost") ||
			slices.ContainsFunc(c.IPs, func(ip net.IP) bool { return ip.IsLoopback() })
	}
	for _, k := range kinds {
		inst := Instance{Name: "x", Type: k, ClientAuth: true, DNS: []string{"x.example.com"}}
		for _, localhost := range []bool{true, false} {
			opts := defaultOpts
			opts.Localhost = localhost
			for _, c := range certificates(t, inst, opts) {
				want := localhost && c.ServerAuth && c.Layer == HTTP
				if got := isLocal(c); got != want {
					t.Errorf("%s/%s Localhost=%v: localhost names = %v, want %v (DNS %q, IPs %v)", k, c.Base, localhost, got, want, c.DNSNames, c.IPs)
				}
				if want && (!slices.Contains(c.DNSNames, "localhost") ||
					!slices.ContainsFunc(c.IPs, net.IPv4(127, 0, 0, 1).Equal) ||
					!slices.ContainsFunc(c.IPs, net.IPv6loopback.Equal)) {
					t.Errorf("%s/%s: localhost names incomplete: DNS %q, IPs %v", k, c.Base, c.DNSNames, c.IPs)
				}
			}
		}
	}
}

func TestHTTPNamesOnlyOnHTTPServerCertificates(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{Elasticsearch, Kibana, Logstash, Fleet, APM} {
		inst := Instance{
			Name: "x", Type: k, ClientAuth: true, DNS: []string{"x.internal"}, IPs: ips("10.0.0.1"),
			HTTPDNS: []string{"public.example.com"}, HTTPIPs: ips("203.0.113.9"),
		}
		for _, c := range certificates(t, inst, Options{ClusterName: "c", TrustRestrictions: true}) {
			want := c.ServerAuth && c.Layer == HTTP
			gotDNS := slices.Contains(c.DNSNames, "public.example.com")
			gotIP := slices.ContainsFunc(c.IPs, net.ParseIP("203.0.113.9").Equal)
			if gotDNS != want || gotIP != want {
				t.Errorf("%s/%s: http_dns %v http_ip %v, want %v", k, c.Base, gotDNS, gotIP, want)
			}
			// The instance-wide names are on every certificate.
			if !slices.Contains(c.DNSNames, "x.internal") || !slices.ContainsFunc(c.IPs, net.ParseIP("10.0.0.1").Equal) {
				t.Errorf("%s/%s: instance names missing: DNS %q IPs %v", k, c.Base, c.DNSNames, c.IPs)
			}
		}
	}
}

func TestCertificatesDeduplicateNames(t *testing.T) {
	t.Parallel()
	inst := Instance{
		Name: "node1", Type: Elasticsearch,
		DNS:     []string{"node1.example.com", "localhost", "node1.example.com"},
		IPs:     ips("127.0.0.1", "192.0.2.1", "::ffff:192.0.2.1"),
		HTTPDNS: []string{"node1.example.com", "search.example.com"},
		HTTPIPs: ips("::1", "192.0.2.1"),
	}
	http := byBase(t, certificates(t, inst, defaultOpts), "http")
	if want := []string{"node1.example.com", "localhost", "search.example.com"}; !slices.Equal(http.DNSNames, want) {
		t.Errorf("DNS names = %q, want %q", http.DNSNames, want)
	}
	if want := ips("127.0.0.1", "192.0.2.1", "::1"); !reflect.DeepEqual(http.IPs, want) {
		t.Errorf("IPs = %v, want %v", http.IPs, want)
	}
}

func TestCertificatesDoNotAliasTheInstance(t *testing.T) {
	t.Parallel()
	inst := Instance{Name: "node1", Type: Elasticsearch, DNS: []string{"a.example.com"}, CN: []string{"cn1"}, IPs: ips("192.0.2.1")}
	certs := certificates(t, inst, defaultOpts)
	certs[0].DNSNames[0] = "changed"
	certs[0].OtherNames[0] = "changed"
	if inst.DNS[0] != "a.example.com" || inst.CN[0] != "cn1" {
		t.Error("changing a certificate changed the instance")
	}
	if certs[1].DNSNames[0] != "a.example.com" || certs[1].OtherNames[0] != "cn1" {
		t.Error("changing one certificate changed another")
	}
}

func TestCertificateWithoutNamesFallsBackToTheCommonName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		inst Instance
		opts Options
		base string
		want []string
	}{
		{
			name: "client without names",
			inst: Instance{Name: "app", Type: Client},
			opts: defaultOpts, base: "client", want: []string{"app"},
		},
		{
			name: "client with a DN name takes the CN",
			inst: Instance{Name: "CN=app,O=Example", Filename: "app", Type: Client},
			opts: defaultOpts, base: "client", want: []string{"app"},
		},
		{
			name: "node without names and without trust restrictions",
			inst: Instance{Name: "node1", Type: Elasticsearch},
			opts: Options{ClusterName: "c"}, base: "transport", want: []string{"node1"},
		},
		{
			name: "node without names but with trust restrictions has the node name only",
			inst: Instance{Name: "node1", Type: Elasticsearch},
			opts: Options{ClusterName: "c", TrustRestrictions: true}, base: "transport", want: []string{"node1.node.c"},
		},
		{
			name: "http without names or localhost",
			inst: Instance{Name: "node1", Type: Elasticsearch},
			opts: Options{ClusterName: "c", TrustRestrictions: true}, base: "http", want: []string{"node1"},
		},
		{
			name: "http with localhost has no fallback",
			inst: Instance{Name: "node1", Type: Elasticsearch},
			opts: Options{ClusterName: "c", Localhost: true}, base: "http", want: nil,
		},
		{
			name: "a DNS name means no fallback",
			inst: Instance{Name: "app", Type: Client, DNS: []string{"app.example.com"}},
			opts: defaultOpts, base: "client", want: nil,
		},
	}
	for _, tt := range tests {
		c := byBase(t, certificates(t, tt.inst, tt.opts), tt.base)
		if !slices.Equal(c.OtherNames, tt.want) {
			t.Errorf("%s: otherNames = %q, want %q", tt.name, c.OtherNames, tt.want)
		}
		if len(c.DNSNames)+len(c.IPs)+len(c.OtherNames) == 0 {
			t.Errorf("%s: certificate without any SAN", tt.name)
		}
	}
}

func TestCertificatesRefusesABadName(t *testing.T) {
	t.Parallel()
	if _, err := Certificates(Instance{Name: "O=Example", Type: Elasticsearch}, defaultOpts); err == nil {
		t.Error("Certificates accepted a DN without CN")
	}
}

func TestCertificateLeafCopiesTheSpec(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	inst := Instance{Name: "node1", Type: Elasticsearch, DNS: []string{"node1.example.com"}, IPs: ips("192.0.2.1")}
	c := byBase(t, certificates(t, inst, Options{ClusterName: "c", TrustRestrictions: true, Days: 365}), "transport")
	leaf := c.Leaf(now)
	if leaf.Subject.CommonName != "node1" || !slices.Equal(leaf.DNSNames, c.DNSNames) ||
		!reflect.DeepEqual(leaf.IPs, c.IPs) || !slices.Equal(leaf.OtherNames, c.OtherNames) ||
		!leaf.ServerAuth || !leaf.ClientAuth {
		t.Errorf("Leaf = %+v does not match the certificate %+v", leaf, c)
	}
	if !leaf.NotBefore.Equal(now) || !leaf.NotAfter.Equal(now.AddDate(0, 0, 365)) {
		t.Errorf("validity %v .. %v, want %v .. %v", leaf.NotBefore, leaf.NotAfter, now, now.AddDate(0, 0, 365))
	}
	// A year that contains 29 February is 366 days long: days count calendar days.
	leap := c.Leaf(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2028, 12, 31, 0, 0, 0, 0, time.UTC); !leap.NotAfter.Equal(want) {
		t.Errorf("365 days from 2028-01-01 = %v, want %v", leap.NotAfter, want)
	}
}

func TestNodeNameAndTrustPattern(t *testing.T) {
	t.Parallel()
	if got := NodeName("node1", "prod"); got != "node1.node.prod" {
		t.Errorf("NodeName = %q", got)
	}
	if got := TrustPattern("prod"); got != "*.node.prod" {
		t.Errorf("TrustPattern = %q", got)
	}
	// The pattern matches every node name of its cluster and none of another, read
	// as the shell-style wildcard Elasticsearch's trust restrictions use.
	pattern := TrustPattern("prod")
	for name, want := range map[string]bool{
		NodeName("node1", "prod"):    true,
		NodeName("es-2", "prod"):     true,
		NodeName("node1", "prod2"):   false,
		NodeName("node1", "staging"): false,
		"node1.prod":                 false,
		"node1.node.prod.evil":       false,
	} {
		if got, _ := path.Match(pattern, name); got != want {
			t.Errorf("%s matches %s = %v, want %v", pattern, name, got, want)
		}
	}
}

func TestCheckClusterName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"escert", "prod-eu_1", "A", "0cluster", strings.Repeat("a", 100)} {
		if err := CheckClusterName(name); err != nil {
			t.Errorf("CheckClusterName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", "-prod", "_prod", "prod.eu", "prod eu", "prod*", "prod/eu", "prød", strings.Repeat("a", 101)} {
		err := CheckClusterName(name)
		if err == nil {
			t.Errorf("CheckClusterName(%q) accepted", name)
			continue
		}
		if want := `cluster name "` + name + `": use letters, digits, '-' and '_' (as in cluster.name)`; err.Error() != want {
			t.Errorf("CheckClusterName(%q) = %q, want %q", name, err, want)
		}
	}
}

func TestCertificatesRemovesRepeatedNamesKeepingFirstOccurrences(t *testing.T) {
	// 400,000 distinct names, each given twice (an IP once as IPv4, once as IPv6-mapped).
	// BenchmarkCertificatesDeduplicates shows the cost stays linear.
	const n = 400_000
	inst := repeatedNames(n)
	certs, err := Certificates(inst, defaultOpts)
	if err != nil || len(certs) != 1 {
		t.Fatalf("Certificates = %d certificates, %v; want the client's one", len(certs), err)
	}
	got := certs[0]
	if len(got.DNSNames) != n || len(got.IPs) != n {
		t.Fatalf("%d DNS names and %d IPs after removing repeats, want %d each", len(got.DNSNames), len(got.IPs), n)
	}
	if got.DNSNames[0] != "n0.example.com" || got.DNSNames[n-1] != fmt.Sprintf("n%d.example.com", n-1) || !got.IPs[1].Equal(net.IPv4(10, 0, 0, 1)) {
		t.Errorf("names out of order: %v ... %v, %v", got.DNSNames[0], got.DNSNames[n-1], got.IPs[1])
	}
}

// repeatedNames is a client instance with n distinct DNS names and IPs, each twice.
func repeatedNames(n int) Instance {
	inst := Instance{Name: "x", Filename: "x", Type: Client}
	for i := range n {
		inst.DNS = append(inst.DNS, fmt.Sprintf("n%d.example.com", i), fmt.Sprintf("n%d.example.com", i))
		inst.IPs = append(inst.IPs, net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To16())
	}
	return inst
}

// BenchmarkCertificatesDeduplicates: the time per name must not grow with the number
// of names (compare ns/op of 1k and 100k, divided by 100).
func BenchmarkCertificatesDeduplicates(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		inst := repeatedNames(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Certificates(inst, defaultOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
