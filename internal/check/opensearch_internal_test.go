package check

import "testing"

func TestMatchesAnyDNAsTheSecurityPluginMatchesNodesDN(t *testing.T) {
	tests := []struct {
		patterns []string
		dn       string
		want     bool
	}{
		{[]string{"CN=node1,OU=search"}, "CN=node1,OU=search", true},
		{[]string{"CN=node*,OU=search"}, "CN=node12,OU=search", true},
		{[]string{"CN=node?,OU=search"}, "CN=node12,OU=search", false},
		{[]string{"CN=node.*"}, "CN=node1", false}, // without slashes, '.' is a dot
		{[]string{`/CN=node\d+,OU=search/`}, "CN=node7,OU=search", true},
		{[]string{`/CN=node\d+/`}, "CN=node7,OU=search", false}, // a regex matches the whole DN
		{[]string{`CN=node\,3,O=Example\, Inc.`}, `CN=node\,3,O=Example\, Inc.`, true},
		{nil, "CN=node1", false},
	}
	for _, tt := range tests {
		if got := matchesAnyDN(tt.patterns, tt.dn); got != tt.want {
			t.Errorf("matchesAnyDN(%q, %q) = %v, want %v", tt.patterns, tt.dn, got, tt.want)
		}
	}
}
