package spec

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"reflect"

	"slices"
	"strings"
	"testing"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/golden"

	"github.com/escert/escert/internal/ca"
)

// ips parses IP literals for expected values.
func ips(s ...string) []net.IP {
	var out []net.IP
	for _, v := range s {
		ip := net.ParseIP(v)
		if ip == nil {
			panic("bad test IP " + v)
		}
		out = append(out, ip)
	}
	return out
}

// withoutLines clears the unexported line numbers so results compare with literals.
func withoutLines(list []Instance) []Instance {
	for i := range list {
		list[i].line = 0
	}
	return list
}

func TestParseInstancesAcceptsValidFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []Instance
	}{
		{
			name: "certutil reference format",
			yaml: `instances:
  - name: "node1"                    # required; CN=<name>, or a full DN when it contains '='
    ip: ["192.0.2.1"]                # optional, IP SANs
    dns: ["node1.example.com"]       # optional, DNS SANs
    cn: ["node1.cluster.local"]      # optional, otherName SAN (OID 2.5.4.3, UTF8String)
    filename: "node1"                # optional
`,
			want: []Instance{{
				Name: "node1", Filename: "node1", Type: Elasticsearch,
				IPs: ips("192.0.2.1"), DNS: []string{"node1.example.com"}, CN: []string{"node1.cluster.local"},
			}},
		},
		{
			name: "certutil multi-node file in block style",
			yaml: `instances:
  - name: node1
    ip:
      - 192.0.2.1
      - 192.0.2.11
    dns:
      - node1.example.com
      - node1
  - name: node2
    ip:
      - 192.0.2.2
    dns:
      - node2.example.com
`,
			want: []Instance{
				{Name: "node1", Filename: "node1", Type: Elasticsearch, IPs: ips("192.0.2.1", "192.0.2.11"), DNS: []string{"node1.example.com", "node1"}},
				{Name: "node2", Filename: "node2", Type: Elasticsearch, IPs: ips("192.0.2.2"), DNS: []string{"node2.example.com"}},
			},
		},
		{
			name: "name only takes defaults",
			yaml: "instances:\n  - name: node1\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch}},
		},
		{
			name: "single strings instead of lists",
			yaml: `instances:
  - name: node1
    ip: 192.0.2.1
    dns: node1.example.com
    cn: node1.cluster.local
`,
			want: []Instance{{
				Name: "node1", Filename: "node1", Type: Elasticsearch,
				IPs: ips("192.0.2.1"), DNS: []string{"node1.example.com"}, CN: []string{"node1.cluster.local"},
			}},
		},
		{
			name: "DN name without filename takes the CN as filename",
			yaml: `instances:
  - name: "CN=node1,OU=search,O=Example"
`,
			want: []Instance{{Name: "CN=node1,OU=search,O=Example", Filename: "node1", Type: Elasticsearch}},
		},
		{
			name: "DN name with filename keeps the filename",
			yaml: `instances:
  - name: "CN=node1,OU=search,O=Example,C=DE"
    filename: es-node-1
`,
			want: []Instance{{Name: "CN=node1,OU=search,O=Example,C=DE", Filename: "es-node-1", Type: Elasticsearch}},
		},
		{
			name: "DN name with the CN last",
			yaml: "instances:\n  - name: \"O=Example, CN=node1\"\n",
			want: []Instance{{Name: "O=Example, CN=node1", Filename: "node1", Type: Elasticsearch}},
		},
		{
			name: "escert fields",
			yaml: `instances:
  - name: kibana
    type: kibana
    dns: kibana.internal
    http_dns: [kibana.example.com]
    http_ip: ["198.51.100.7"]
    client_auth: true
`,
			want: []Instance{{
				Name: "kibana", Filename: "kibana", Type: Kibana, DNS: []string{"kibana.internal"},
				HTTPDNS: []string{"kibana.example.com"}, HTTPIPs: ips("198.51.100.7"), ClientAuth: true,
			}},
		},
		{
			name: "http names on an elasticsearch node",
			yaml: "instances:\n  - name: node1\n    http_dns: search.example.com\n    http_ip: 203.0.113.1\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch, HTTPDNS: []string{"search.example.com"}, HTTPIPs: ips("203.0.113.1")}},
		},
		{
			name: "every kind",
			yaml: `instances:
  - {name: es, type: elasticsearch}
  - {name: kb, type: kibana}
  - {name: ls, type: logstash}
  - {name: fleet, type: fleet}
  - {name: apm, type: apm}
  - {name: filebeat, type: beats, client_auth: true}
  - {name: app, type: client}
`,
			want: []Instance{
				{Name: "es", Filename: "es", Type: Elasticsearch},
				{Name: "kb", Filename: "kb", Type: Kibana},
				{Name: "ls", Filename: "ls", Type: Logstash},
				{Name: "fleet", Filename: "fleet", Type: Fleet},
				{Name: "apm", Filename: "apm", Type: APM},
				{Name: "filebeat", Filename: "filebeat", Type: Beats, ClientAuth: true},
				{Name: "app", Filename: "app", Type: Client},
			},
		},
		{
			name: "type is case-insensitive",
			yaml: "instances:\n  - name: kb\n    type: Kibana\n",
			want: []Instance{{Name: "kb", Filename: "kb", Type: Kibana}},
		},
		{
			name: "IPv6 addresses",
			yaml: `instances:
  - name: node1
    ip: ["2001:db8::1", "::1", "fe80::1ff:fe23:4567:890a"]
    http_ip: "2001:db8:0:0:0:0:0:2"
`,
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch, IPs: ips("2001:db8::1", "::1", "fe80::1ff:fe23:4567:890a"), HTTPIPs: ips("2001:db8::2")}},
		},
		{
			name: "IPv4-mapped IPv6 address",
			yaml: "instances:\n  - name: node1\n    ip: \"::ffff:192.0.2.1\"\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch, IPs: ips("192.0.2.1")}},
		},
		{
			name: "DNS names are trimmed and lower-cased",
			yaml: "instances:\n  - name: node1\n    dns: [\" Node1.Example.COM \", NODE1]\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch, DNS: []string{"node1.example.com", "node1"}}},
		},
		{
			name: "IPs are trimmed",
			yaml: "instances:\n  - name: node1\n    ip: [\" 192.0.2.1 \"]\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch, IPs: ips("192.0.2.1")}},
		},
		{
			name: "name is trimmed",
			yaml: "instances:\n  - name: \"  node1  \"\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch}},
		},
		{
			name: "wildcard and single-label DNS names",
			yaml: "instances:\n  - name: node1\n    dns: [\"*.example.com\", localhost, node-1, 1node, a.b-c.d]\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch, DNS: []string{"*.example.com", "localhost", "node-1", "1node", "a.b-c.d"}}},
		},
		{
			name: "empty and null lists",
			yaml: "instances:\n  - name: node1\n    ip: []\n    dns: ~\n    cn:\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch}},
		},
		{
			name: "filename with certutil's punctuation",
			yaml: "instances:\n  - name: node1\n    filename: \"node 1 (eu-west) [a]_{b}+c=d,e~f'g`h!@#$%^&\"\n",
			want: []Instance{{Name: "node1", Filename: "node 1 (eu-west) [a]_{b}+c=d,e~f'g`h!@#$%^&", Type: Elasticsearch}},
		},
		{
			name: "filename of 251 characters",
			yaml: "instances:\n  - name: node1\n    filename: " + strings.Repeat("a", 251) + "\n",
			want: []Instance{{Name: "node1", Filename: strings.Repeat("a", 251), Type: Elasticsearch}},
		},
		{
			name: "names that differ only in case with distinct filenames",
			yaml: "instances:\n  - name: node1\n  - name: NODE1\n    filename: node1-upper\n",
			want: []Instance{
				{Name: "node1", Filename: "node1", Type: Elasticsearch},
				{Name: "NODE1", Filename: "node1-upper", Type: Elasticsearch},
			},
		},
		{
			name: "flow style document with marker and comments",
			yaml: "---\n# cluster prod\ninstances: [{name: node1, ip: 192.0.2.1}, {name: node2}]\n",
			want: []Instance{
				{Name: "node1", Filename: "node1", Type: Elasticsearch, IPs: ips("192.0.2.1")},
				{Name: "node2", Filename: "node2", Type: Elasticsearch},
			},
		},
		{
			name: "client_auth false",
			yaml: "instances:\n  - name: kb\n    type: kibana\n    client_auth: false\n",
			want: []Instance{{Name: "kb", Filename: "kb", Type: Kibana}},
		},
		{
			name: "numbers as names are strings",
			yaml: "instances:\n  - name: 1234\n",
			want: []Instance{{Name: "1234", Filename: "1234", Type: Elasticsearch}},
		},
		{
			name: "UTF-8 otherName",
			yaml: "instances:\n  - name: node1\n    cn: [\"nœud-1.cluster.local\"]\n",
			want: []Instance{{Name: "node1", Filename: "node1", Type: Elasticsearch, CN: []string{"nœud-1.cluster.local"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseInstances("instances.yml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("ParseInstances: %v", err)
			}
			if got = withoutLines(got); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseInstances =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

// invalidFiles are instances files ParseInstances must refuse. The full one-line
// message of each is in testdata/errors.golden (go test -run TestParseInstancesRefuses
// -update rewrites it); the table asserts the parts an operator relies on.
var invalidFiles = []struct {
	name     string
	yaml     string
	line     int    // 0: the error names no line
	instance string // "" : no instance
	field    string // "" : no field
	fix      string // part of the problem text that says what to do
}{
	{
		name: "empty file",
		yaml: "", fix: "file is empty: list the nodes under \"instances:\"",
	},
	{
		name: "only comments",
		yaml: "# nothing here\n", fix: "file is empty",
	},
	{
		name: "YAML syntax error",
		yaml: "instances:\n  - name: node1\n   ip: [192.0.2.1\n", fix: "fix the YAML syntax",
	},
	{
		name: "tab indentation",
		yaml: "instances:\n\t- name: node1\n", fix: "fix the YAML syntax",
	},
	{
		name: "not a mapping",
		yaml: "- name: node1\n", line: 1, fix: "expected a mapping with an \"instances\" list",
	},
	{
		name: "a bare string",
		yaml: "node1\n", line: 1, fix: "expected a mapping",
	},
	{
		name: "unknown top-level key",
		yaml: "instances:\n  - name: node1\nnodes:\n  - name: node2\n", line: 3, field: "nodes",
		fix: "only \"instances\" is allowed",
	},
	{
		name: "instances given twice",
		yaml: "instances:\n  - name: node1\ninstances:\n  - name: node2\n", line: 3, field: "instances",
		fix: "given twice: merge the lists into one",
	},
	{
		name: "no instances key",
		yaml: "{}\n", line: 1, field: "instances", fix: "list at least one",
	},
	{
		name: "instances is null",
		yaml: "instances:\n", line: 1, field: "instances", fix: "list at least one, e.g. \"- name: node1\"",
	},
	{
		name: "instances is an empty list",
		yaml: "instances: []\n", line: 1, field: "instances", fix: "list at least one",
	},
	{
		name: "instances is a mapping",
		yaml: "instances:\n  node1:\n    ip: 192.0.2.1\n", line: 1, field: "instances", fix: "list at least one",
	},
	{
		name: "instance is a string",
		yaml: "instances:\n  - node1\n", line: 2, fix: "an instance must be a mapping with at least \"name\"",
	},
	{
		name: "missing name",
		yaml: "instances:\n  - name: node1\n  - ip: 192.0.2.2\n    dns: node2.example.com\n", line: 3, field: "name",
		fix: "every instance needs a name, e.g. \"name: node1\"",
	},
	{
		name: "empty name",
		yaml: "instances:\n  - name: \"  \"\n", line: 2, field: "name", fix: "every instance needs a name",
	},
	{
		name: "name is a list",
		yaml: "instances:\n  - name: [node1, node2]\n", line: 2, field: "name", fix: "must be a single value",
	},
	{
		name: "reserved name ca",
		yaml: "instances:\n  - name: ca\n", line: 2, instance: "ca", field: "name",
		fix: "\"ca\" is reserved for the CA's own files: choose another name",
	},
	{
		name: "DN without CN",
		yaml: "instances:\n  - name: \"O=Example,OU=search\"\n", line: 2, instance: "O=Example,OU=search", field: "name",
		fix: "add CN=<node name>",
	},
	{
		name: "DN with unsupported attribute",
		yaml: "instances:\n  - name: \"CN=node1,EMAIL=a@example.com\"\n", line: 2, instance: "CN=node1,EMAIL=a@example.com", field: "name",
		fix: "use CN, OU, O, L, ST, C or DC",
	},
	{
		name: "DN with empty value",
		yaml: "instances:\n  - name: \"CN=node1,O=\"\n", line: 2, instance: "CN=node1,O=", field: "name",
		fix: "write it as CN=node1,O=Example",
	},
	{
		name: "DN with a three-letter country",
		yaml: "instances:\n  - name: \"CN=node1,C=DEU\"\n", line: 2, instance: "CN=node1,C=DEU", field: "name",
		fix: "two-letter code",
	},
	{
		name: "duplicate name",
		yaml: "instances:\n  - name: node1\n  - name: node2\n  - name: node1\n    filename: node1-b\n", line: 4, instance: "node1", field: "name",
		fix: "duplicate name: every instance needs its own",
	},
	{
		name: "duplicate filename",
		yaml: "instances:\n  - name: node1\n    filename: shared\n  - name: node2\n    filename: shared\n", line: 4, instance: "node2", field: "filename",
		fix: "set a distinct \"filename\"",
	},
	{
		name: "filenames differing only in case",
		yaml: "instances:\n  - name: Node1\n  - name: node1\n", line: 3, instance: "node1", field: "filename",
		fix: "set a distinct \"filename\"",
	},
	{
		name: "DN name whose CN collides with a plain name",
		yaml: "instances:\n  - name: node1\n  - name: \"CN=node1,O=Example\"\n", line: 3, instance: "CN=node1,O=Example", field: "filename",
		fix: "duplicate filename \"node1\"",
	},
	{
		name: "unknown instance field",
		yaml: "instances:\n  - name: node1\n    hostname: node1.example.com\n", line: 3, instance: "node1", field: "hostname",
		fix: "use one of name, filename, ip, dns, cn, type, http_dns, http_ip, client_auth",
	},
	{
		name: "misspelt field names the instance even when name comes later",
		yaml: "instances:\n  - ips: [192.0.2.1]\n    name: node1\n", line: 2, instance: "node1", field: "ips",
		fix: "unknown field",
	},
	{
		name: "field given twice",
		yaml: "instances:\n  - name: node1\n    dns: a.example.com\n    dns: b.example.com\n", line: 4, instance: "node1", field: "dns",
		fix: "given twice: keep one",
	},
	{
		name: "invalid IPv4",
		yaml: "instances:\n  - name: node1\n    ip: [\"192.0.2.300\"]\n", line: 3, instance: "node1", field: "ip",
		fix: "use an IPv4 or IPv6 address such as 192.0.2.10 (host names go under dns)",
	},
	{
		name: "IP with leading zeros",
		yaml: "instances:\n  - name: node1\n    ip: \"192.000.002.001\"\n", line: 3, instance: "node1", field: "ip",
		fix: "is not an IP address",
	},
	{
		name: "CIDR instead of IP",
		yaml: "instances:\n  - name: node1\n    ip: 192.0.2.0/24\n", line: 3, instance: "node1", field: "ip",
		fix: "is not an IP address",
	},
	{
		name: "host name under ip",
		yaml: "instances:\n  - name: node1\n    ip: [192.0.2.1, node1.example.com]\n", line: 3, instance: "node1", field: "ip",
		fix: "host names go under dns",
	},
	{
		name: "IPv6 with zone",
		yaml: "instances:\n  - name: node1\n    ip: \"fe80::1%eth0\"\n", line: 3, instance: "node1", field: "ip",
		fix: "is not an IP address",
	},
	{
		name: "invalid http_ip",
		yaml: "instances:\n  - name: node1\n    http_ip: [\"2001:db8::g\"]\n", line: 3, instance: "node1", field: "http_ip",
		fix: "is not an IP address",
	},
	{
		name: "DNS name with underscore",
		yaml: "instances:\n  - name: node1\n    dns: [node_1.example.com]\n", line: 3, instance: "node1", field: "dns",
		fix: "use a host name such as node1.example.com",
	},
	{
		name: "DNS name with empty label",
		yaml: "instances:\n  - name: node1\n    dns: node1..example.com\n", line: 3, instance: "node1", field: "dns",
		fix: "is not a valid DNS name",
	},
	{
		name: "DNS name with leading dot",
		yaml: "instances:\n  - name: node1\n    dns: .example.com\n", line: 3, instance: "node1", field: "dns",
		fix: "is not a valid DNS name",
	},
	{
		name: "DNS label too long",
		yaml: "instances:\n  - name: node1\n    dns: " + strings.Repeat("a", 64) + ".example.com\n", line: 3, instance: "node1", field: "dns",
		fix: "is not a valid DNS name",
	},
	{
		name: "DNS name too long",
		yaml: "instances:\n  - name: node1\n    dns: " + strings.Repeat(strings.Repeat("a", 63)+".", 4) + "com\n", line: 3, instance: "node1", field: "dns",
		fix: "is not a valid DNS name",
	},
	{
		name: "empty DNS name",
		yaml: "instances:\n  - name: node1\n    dns: [\"\"]\n", line: 3, instance: "node1", field: "dns",
		fix: "is not a valid DNS name",
	},
	{
		name: "IPv4 under dns",
		yaml: "instances:\n  - name: node1\n    dns: [192.0.2.1]\n", line: 3, instance: "node1", field: "dns",
		fix: "\"192.0.2.1\" is an IP address: put it under ip",
	},
	{
		name: "IPv6 under http_dns",
		yaml: "instances:\n  - name: node1\n    http_dns: [\"::1\"]\n", line: 3, instance: "node1", field: "http_dns",
		fix: "is an IP address: put it under ip",
	},
	{
		name: "wildcard on a two-label name",
		yaml: "instances:\n  - name: node1\n    dns: \"*.com\"\n", line: 3, instance: "node1", field: "dns",
		fix: "is not a valid DNS name",
	},
	{
		name: "wildcard not in the first label",
		yaml: "instances:\n  - name: node1\n    dns: \"node.*.example.com\"\n", line: 3, instance: "node1", field: "dns",
		fix: "is not a valid DNS name",
	},
	{
		name: "URL under dns",
		yaml: "instances:\n  - name: node1\n    dns: \"https://node1.example.com:9200\"\n", line: 3, instance: "node1", field: "dns",
		fix: "is not a valid DNS name",
	},
	{
		name: "dns is a mapping",
		yaml: "instances:\n  - name: node1\n    dns: {a: b}\n", line: 3, instance: "node1", field: "dns",
		fix: "must be a string or a list of strings",
	},
	{
		name: "dns list of lists",
		yaml: "instances:\n  - name: node1\n    dns: [[a.example.com]]\n", line: 3, instance: "node1", field: "dns",
		fix: "must be a list of strings",
	},
	{
		name: "empty cn entry",
		yaml: "instances:\n  - name: node1\n    cn: [node1.local, \" \"]\n", line: 2, instance: "node1", field: "cn",
		fix: "empty name: remove it or give a value",
	},
	{
		name: "filename with leading dot",
		yaml: "instances:\n  - name: node1\n    filename: .hidden\n", line: 2, instance: "node1", field: "filename",
		fix: "no leading '.'",
	},
	{
		name: "filename with slash",
		yaml: "instances:\n  - name: node1\n    filename: nodes/node1\n", line: 2, instance: "node1", field: "filename",
		fix: "use 1-251 letters, digits, spaces or !@#$%^&{}[]()_+-=,.~'`",
	},
	{
		name: "filename escaping with dot-dot",
		yaml: "instances:\n  - name: node1\n    filename: ..\n", line: 2, instance: "node1", field: "filename",
		fix: "is not a valid file name",
	},
	{
		name: "filename with backslash",
		yaml: "instances:\n  - name: node1\n    filename: 'a\\b'\n", line: 2, instance: "node1", field: "filename",
		fix: "is not a valid file name",
	},
	{
		name: "filename too long",
		yaml: "instances:\n  - name: node1\n    filename: " + strings.Repeat("a", 252) + "\n", line: 2, instance: "node1", field: "filename",
		fix: "is not a valid file name",
	},
	{
		name: "name that is not a valid filename",
		yaml: "instances:\n  - name: \"node/1\"\n", line: 2, instance: "node/1", field: "filename",
		fix: "is not a valid file name",
	},
	{
		name: "DN whose CN is not a valid filename",
		yaml: "instances:\n  - name: \"CN=.node1,O=Example\"\n", line: 2, instance: "CN=.node1,O=Example", field: "filename",
		fix: "no leading '.'",
	},
	{
		name: "filename is a list",
		yaml: "instances:\n  - name: node1\n    filename: [a, b]\n", line: 3, instance: "node1", field: "filename",
		fix: "must be a single value",
	},
	{
		name: "unknown type",
		yaml: "instances:\n  - name: node1\n    type: master\n", line: 3, instance: "node1", field: "type",
		fix: "use one of elasticsearch, kibana, logstash, fleet, apm, beats, client",
	},
	{
		name: "type is a list",
		yaml: "instances:\n  - name: node1\n    type: [kibana]\n", line: 3, instance: "node1", field: "type",
		fix: "must be a single value",
	},
	{
		name: "http_dns on a beats instance",
		yaml: "instances:\n  - name: filebeat\n    type: beats\n    http_dns: beats.example.com\n", line: 2, instance: "filebeat", field: "http_dns",
		fix: "type beats runs no HTTPS server: remove http_dns/http_ip",
	},
	{
		name: "null name",
		yaml: "instances:\n  - name: ~\n", line: 2, instance: "~", field: "name",
		fix: "must be a string such as node1",
	},
	{
		name: "http_ip on a client instance",
		yaml: "instances:\n  - name: app\n    type: client\n    http_ip: 192.0.2.1\n", line: 2, instance: "app", field: "http_ip",
		fix: "type client runs no HTTPS server",
	},
	{
		name: "client_auth not a boolean",
		yaml: "instances:\n  - name: kb\n    type: kibana\n    client_auth: maybe\n", line: 4, instance: "kb", field: "client_auth",
		fix: "must be true or false",
	},
	{
		name: "a second YAML document",
		yaml: "instances:\n  - name: node1\n---\ninstances:\n  - name: node2\n", line: 3,
		fix: "a second YAML document starts here, and escert reads only one: merge its instances into the first \"instances:\" list and remove the \"---\"",
	},
	{
		name: "client_auth on an elasticsearch node",
		yaml: "instances:\n  - name: node1\n    client_auth: true\n", line: 2, instance: "node1", field: "client_auth",
		fix: "remove client_auth, or list the client as its own instance of type client",
	},
	{
		name: "more names than a certificate holds",
		yaml: "instances:\n  - name: node1\n    ip: [192.0.2.1, 192.0.2.2]\n    dns: [" + numberedNames("n%d.example.com", 98) + "]\n", line: 2, instance: "node1", field: "dns",
		fix: "103 distinct names on the http certificate",
	},
	{
		name: "error in a later instance names that instance",
		yaml: "instances:\n  - name: node1\n  - name: node2\n    ip: [192.0.2.2, nope]\n", line: 4, instance: "node2", field: "ip",
		fix: "\"nope\" is not an IP address",
	},
}

// numberedNames is a YAML flow list body of n names made from format.
func numberedNames(format string, n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(names, ", ")
}

// refusal runs ParseInstances on yaml and returns "" when it accepts the file, else
// "<field>: <problem>" of its InputError.
func refusal(t *testing.T, yaml string) string {
	t.Helper()
	_, err := ParseInstances("instances.yml", []byte(yaml))
	if err == nil {
		return ""
	}
	var ie *fault.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %T %q is not an *fault.InputError", err, err)
	}
	return fmt.Sprintf("line %d: %s: %s", ie.Line, ie.Field, ie.Problem)
}

func TestParseInstancesRefusesASecondYAMLDocumentOnly(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"instances in a second document", "instances:\n  - name: node1\n---\ninstances:\n  - name: node2\n", "line 3: : a second YAML document starts here"},
		{"a third document", "instances:\n  - name: node1\n---\n---\n- name: node2\n", "line 4: : a second YAML document starts here"},
		{"a trailing empty document", "instances:\n  - name: node1\n---\n# nothing more\n", ""},
		{"a document end marker", "instances:\n  - name: node1\n...\n", ""},
	}
	for _, tt := range tests {
		if got := refusal(t, tt.yaml); !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("%s: ParseInstances refusal %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestClientAuthIsRefusedWhereItGivesNoCertificate(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		for _, clientAuth := range []bool{true, false} {
			got := refusal(t, fmt.Sprintf("instances:\n  - name: x\n    type: %s\n    client_auth: %v\n", k, clientAuth))
			if want := clientAuth && k == Elasticsearch; (got != "") != want || want && !strings.HasPrefix(got, "line 2: client_auth: type elasticsearch gets no client certificate") {
				t.Errorf("%s with client_auth %v: refusal %q, want refused: %v", k, clientAuth, got, want)
			}
		}
	}
}

func TestParseInstancesCapsTheNamesOfOneCertificate(t *testing.T) {
	t.Parallel()
	node := func(lists string) string { return "instances:\n  - name: node1\n" + lists }
	tests := []struct{ name, yaml, want string }{
		// The HTTP certificate adds localhost, 127.0.0.1 and ::1: 97 + 3 = 100.
		{"100 with the localhost names, a repeat counted once", node("    dns: [" + numberedNames("n%d.example.com", 97) + ", n0.example.com]\n"), ""},
		{"101 with the localhost names", node("    dns: [" + numberedNames("n%d.example.com", 98) + "]\n"), "line 2: dns: 101 distinct names on the http certificate"},
		{"the field with most names is named", node("    dns: [a.example.com]\n    ip: [" + numberedNames("10.0.%d.1", 200) + "]\n"), "line 2: ip: 204 distinct names on the http certificate"},
		{"otherNames count on a client", "instances:\n  - name: app\n    type: client\n    cn: [" + numberedNames("app%d", 101) + "]\n", "line 2: cn: 101 distinct names on the client certificate"},
		{"400,000 copies of one name", node("    dns: [" + strings.Repeat("node1.example.com, ", 400_000) + "node1.example.com]\n"), ""},
		{"400,000 distinct names", node("    dns: [" + numberedNames("n%d.example.com", 400_000) + "]\n"), "line 2: dns: 400003 distinct names on the http certificate"},
	}
	for _, tt := range tests {
		if got := refusal(t, tt.yaml); !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("%s: ParseInstances refusal %.200q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseInstancesRefusesInvalidFiles(t *testing.T) {
	t.Parallel()
	var report bytes.Buffer
	for _, tt := range invalidFiles {
		_, err := ParseInstances("instances.yml", []byte(tt.yaml))
		if err == nil {
			t.Errorf("%s: ParseInstances accepted\n%s", tt.name, tt.yaml)
			fmt.Fprintf(&report, "%s: <accepted>\n", tt.name)
			continue
		}
		fmt.Fprintf(&report, "%s: %s\n", tt.name, err)
		var ie *fault.InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: error %T %q is not an *fault.InputError", tt.name, err, err)
			continue
		}
		if ie.File != "instances.yml" || ie.Line != tt.line || ie.Instance != tt.instance || ie.Field != tt.field {
			t.Errorf("%s: error names file %q line %d instance %q field %q, want instances.yml line %d instance %q field %q",
				tt.name, ie.File, ie.Line, ie.Instance, ie.Field, tt.line, tt.instance, tt.field)
		}
		if !strings.Contains(ie.Problem, tt.fix) {
			t.Errorf("%s: problem %q does not say %q", tt.name, ie.Problem, tt.fix)
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "instances.yml") {
			t.Errorf("%s: error %q is not one line starting with the file name", tt.name, msg)
		}
	}
	golden.Check(t, filepath.Join("testdata", "errors.golden"), report.Bytes())
}

func TestParseInstancesRecordsTheLineOfEachInstance(t *testing.T) {
	t.Parallel()
	got, err := ParseInstances("i.yml", []byte("# header\ninstances:\n  - name: node1\n    ip: 192.0.2.1\n\n  - name: node2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].line != 3 || got[1].line != 6 {
		t.Errorf("lines = %d, %d; want 3, 6", got[0].line, got[1].line)
	}
}

func TestNewInstanceAppliesTheFileChecksToFlags(t *testing.T) {
	t.Parallel()
	type args struct {
		name, filename                 string
		kind                           Kind
		dns, ips, cn, httpDNS, httpIPs []string
		clientAuth                     bool
	}
	tests := []struct {
		name    string
		args    args
		want    Instance
		wantErr string
	}{
		{
			name: "plain node",
			args: args{name: "node1", kind: Elasticsearch, dns: []string{"Node1.Example.com"}, ips: []string{"192.0.2.1", "2001:db8::1"}},
			want: Instance{Name: "node1", Filename: "node1", Type: Elasticsearch, DNS: []string{"node1.example.com"}, IPs: ips("192.0.2.1", "2001:db8::1")},
		},
		{
			name: "DN name takes the CN as filename",
			args: args{name: "CN=kb,O=Example", kind: Kibana, httpDNS: []string{"kibana.example.com"}, httpIPs: []string{"192.0.2.9"}, cn: []string{"kb.local"}, clientAuth: true},
			want: Instance{Name: "CN=kb,O=Example", Filename: "kb", Type: Kibana, CN: []string{"kb.local"}, HTTPDNS: []string{"kibana.example.com"}, HTTPIPs: ips("192.0.2.9"), ClientAuth: true},
		},
		{
			name: "explicit filename",
			args: args{name: "node1", filename: "es1", kind: Elasticsearch},
			want: Instance{Name: "node1", Filename: "es1", Type: Elasticsearch},
		},
		{
			name:    "unknown type names the flag",
			args:    args{name: "node1", kind: "master"},
			wantErr: `command line: instance "node1": field --type: "master" is not a known type: use one of elasticsearch, kibana, logstash, fleet, apm, beats, client`,
		},
		{
			name:    "empty type is refused",
			args:    args{name: "node1"},
			wantErr: `command line: instance "node1": field --type: "" is not a known type: use one of elasticsearch, kibana, logstash, fleet, apm, beats, client`,
		},
		{
			name:    "bad DNS name names the flag",
			args:    args{name: "node1", kind: Elasticsearch, dns: []string{"node_1"}},
			wantErr: `command line: instance "node1": field --dns: "node_1" is not a valid DNS name: use a host name such as node1.example.com`,
		},
		{
			name:    "bad http DNS name names the dashed flag",
			args:    args{name: "node1", kind: Elasticsearch, httpDNS: []string{"192.0.2.1"}},
			wantErr: `command line: instance "node1": field --http-dns: "192.0.2.1" is an IP address: put it under ip`,
		},
		{
			name:    "bad IP names the flag",
			args:    args{name: "node1", kind: Elasticsearch, ips: []string{"node1"}},
			wantErr: `command line: instance "node1": field --ip: "node1" is not an IP address: use an IPv4 or IPv6 address such as 192.0.2.10 (host names go under dns)`,
		},
		{
			name:    "bad http IP names the dashed flag",
			args:    args{name: "node1", kind: Elasticsearch, httpIPs: []string{"1.2.3"}},
			wantErr: `command line: instance "node1": field --http-ip: "1.2.3" is not an IP address: use an IPv4 or IPv6 address such as 192.0.2.10 (host names go under dns)`,
		},
		{
			name:    "client certificate for a node names the flag",
			args:    args{name: "node1", kind: Elasticsearch, clientAuth: true},
			wantErr: `command line: instance "node1": field --client-auth: type elasticsearch gets no client certificate for Elasticsearch's HTTP layer (a node's transport certificate already serves both ends of node-to-node TLS): remove client_auth, or list the client as its own instance of type client`,
		},
		{
			name:    "missing name",
			args:    args{kind: Elasticsearch},
			wantErr: `command line: field --name: missing: every instance needs a name, e.g. "name: node1"`,
		},
		{
			name:    "reserved name",
			args:    args{name: "ca", kind: Elasticsearch},
			wantErr: `command line: instance "ca": field --name: "ca" is reserved for the CA's own files: choose another name`,
		},
		{
			name:    "bad filename",
			args:    args{name: "node1", filename: ".x", kind: Elasticsearch},
			wantErr: `command line: instance "node1": field --filename: ".x" is not a valid file name: use 1-251 letters, digits, spaces or !@#$%^&{}[]()_+-=,.~'` + "`" + ` and no leading '.'`,
		},
		{
			name:    "empty cn",
			args:    args{name: "node1", kind: Elasticsearch, cn: []string{""}},
			wantErr: `command line: instance "node1": field --cn: empty name: remove it or give a value`,
		},
		{
			name:    "http names on beats",
			args:    args{name: "fb", kind: Beats, httpIPs: []string{"192.0.2.1"}},
			wantErr: `command line: instance "fb": field --http-ip: type beats runs no HTTPS server: remove http_dns/http_ip`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := tt.args
			got, err := NewInstance(a.name, a.filename, a.kind, a.dns, a.ips, a.cn, a.httpDNS, a.httpIPs, a.clientAuth)
			if tt.wantErr != "" {
				var ie *fault.InputError
				if !errors.As(err, &ie) || err.Error() != tt.wantErr {
					t.Fatalf("NewInstance error = %v, want *fault.InputError %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewInstance: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NewInstance =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestCheckDNSName(t *testing.T) {
	t.Parallel()
	valid := []string{
		"node1", "node1.example.com", "a", "1", "xn--nud-1-bsa.example", "*.example.com", "*.a.b",
		"a-b.c-d", strings.Repeat("a", 63) + ".com",
		// 253 characters: four labels of 61, their dots and a label of 5.
		strings.Repeat(strings.Repeat("a", 61)+".", 4) + strings.Repeat("b", 5),
	}
	for _, name := range valid {
		if err := CheckDNSName(name); err != nil {
			t.Errorf("CheckDNSName(%q) = %v, want nil", name, err)
		}
	}
	invalid := map[string]string{
		"":                      `"" is not a valid DNS name: use a host name such as node1.example.com`,
		"node_1":                `"node_1" is not a valid DNS name: use a host name such as node1.example.com`,
		"-node":                 `"-node" is not a valid DNS name: use a host name such as node1.example.com`,
		"node-":                 `"node-" is not a valid DNS name: use a host name such as node1.example.com`,
		"a..b":                  `"a..b" is not a valid DNS name: use a host name such as node1.example.com`,
		"node1.example.com.":    `"node1.example.com." ends with a dot: write it without the trailing dot`,
		"192.0.2.300":           `"192.0.2.300" looks like an IP address but is not one: fix it and put it under ip`,
		".":                     `"." ends with a dot: write it without the trailing dot`,
		"Node1":                 `"Node1" is not a valid DNS name: use a host name such as node1.example.com`,
		"*":                     `"*" is not a valid DNS name: use a host name such as node1.example.com`,
		"*.com":                 `"*.com" is not a valid DNS name: use a host name such as node1.example.com`,
		"a.*.com":               `"a.*.com" is not a valid DNS name: use a host name such as node1.example.com`,
		"*node.example.com":     `"*node.example.com" is not a valid DNS name: use a host name such as node1.example.com`,
		"node 1":                `"node 1" is not a valid DNS name: use a host name such as node1.example.com`,
		"192.0.2.1":             `"192.0.2.1" is an IP address: put it under ip`,
		"2001:db8::1":           `"2001:db8::1" is an IP address: put it under ip`,
		"nœud.example.com":      `"nœud.example.com" is not a valid DNS name: use a host name such as node1.example.com`,
		strings.Repeat("a", 64): fmt.Sprintf("%q is not a valid DNS name: use a host name such as node1.example.com", strings.Repeat("a", 64)),
		strings.Repeat(strings.Repeat("a", 61)+".", 4) + strings.Repeat("b", 6): fmt.Sprintf("%q is not a valid DNS name: use a host name such as node1.example.com",
			strings.Repeat(strings.Repeat("a", 61)+".", 4)+strings.Repeat("b", 6)),
	}
	for name, want := range invalid {
		err := CheckDNSName(name)
		if err == nil || err.Error() != want {
			t.Errorf("CheckDNSName(%q) = %v, want %q", name, err, want)
		}
	}
}

func FuzzParseInstances(f *testing.F) {
	seeds := []string{
		"",
		"instances:\n  - name: node1\n",
		"instances:\n  - name: \"node1\"\n    ip: [\"192.0.2.1\"]\n    dns: [\"node1.example.com\"]\n    cn: [\"node1.cluster.local\"]\n    filename: \"node1\"\n",
		"instances:\n  - name: CN=node1,O=Example\n  - name: node2\n    filename: n2\n",
		"instances:\n  - name: kb\n    type: kibana\n    http_dns: kb.example.com\n    http_ip: \"::1\"\n    client_auth: true\n",
		"instances: [{name: a}, {name: A}]\n",
		"instances:\n  - name: node1\n  - name: node1\n",
		"instances:\n  - &a {name: x}\n  - *a\n",
		"- a\n- b\n",
		"instances:\n\t- name: x\n",
	}
	for _, tt := range invalidFiles {
		seeds = append(seeds, tt.yaml)
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ParseInstances("fuzz.yml", data)
		if err != nil {
			var ie *fault.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %q is not an *fault.InputError", err, err)
			}
			if ie.File != "fuzz.yml" {
				t.Fatalf("error names file %q", ie.File)
			}
			return
		}
		if len(list) == 0 {
			t.Fatal("accepted a file without instances")
		}
		names := map[string]bool{}
		files := map[string]bool{}
		for _, inst := range list {
			if inst.Name == "" || inst.Filename == "" {
				t.Fatalf("accepted an instance with name %q filename %q", inst.Name, inst.Filename)
			}
			if names[inst.Name] {
				t.Fatalf("accepted duplicate name %q", inst.Name)
			}
			names[inst.Name] = true
			key := strings.ToLower(inst.Filename)
			if files[key] {
				t.Fatalf("accepted duplicate filename %q", inst.Filename)
			}
			files[key] = true
			if strings.ContainsAny(inst.Filename, "/\\") || strings.HasPrefix(inst.Filename, ".") {
				t.Fatalf("accepted unsafe filename %q", inst.Filename)
			}
			if _, _, err := ParseName(inst.Name); err != nil {
				t.Fatalf("accepted name %q that ParseName refuses: %v", inst.Name, err)
			}
			for _, d := range append(slices.Clone(inst.DNS), inst.HTTPDNS...) {
				if err := CheckDNSName(d); err != nil {
					t.Fatalf("accepted DNS name %q: %v", d, err)
				}
			}
			if _, err := Certificates(inst, Options{ClusterName: "fuzz", TrustRestrictions: true, Localhost: true, Days: 1}); err != nil {
				t.Fatalf("accepted instance %q that Certificates refuses: %v", inst.Name, err)
			}
		}
	})
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"node1", "CN=node1", "CN=node1,OU=search,O=Example,L=Berlin,ST=Berlin,C=DE,DC=example,DC=com",
		`CN=node\,1,O=Example`, "O=Example", "CN=", "=", ",", `CN=a\`, "cn = node1 , o = x", "CN=a+OU=b", "C=DEU,CN=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		der, subject, err := ParseName(name)
		if err != nil {
			return
		}
		if subject.CommonName == "" && name != "" {
			t.Fatalf("ParseName(%q) accepted a subject without CN", name)
		}
		if !strings.Contains(name, "=") && subject.CommonName != name {
			t.Fatalf("ParseName(%q).CommonName = %q, want the plain name", name, subject.CommonName)
		}
		for _, c := range subject.Country {
			if len(c) != 2 {
				t.Fatalf("ParseName(%q) accepted country %q", name, c)
			}
		}
		// What escert shows of a subject must read back as the same subject, or a DN
		// copied from the manifest into a role mapping would not match.
		shown := ca.FormatDN(der)
		again, err := ca.ParseDN(shown)
		if err != nil || !bytes.Equal(again, der) {
			t.Fatalf("ParseName(%q) shows as %q, which parses back to %x, %v; want %x", name, shown, again, err, der)
		}
	})
}
