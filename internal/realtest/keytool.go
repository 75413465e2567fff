package realtest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// KeytoolEntry is one entry of a keystore as keytool -list -v shows it.
type KeytoolEntry struct {
	Alias string
	// Type is keytool's entry type: "PrivateKeyEntry" or "trustedCertEntry" (or
	// "SecretKeyEntry").
	Type string
	// ChainLength is the certificate chain length of a PrivateKeyEntry; a
	// trustedCertEntry holds one certificate and reports 1.
	ChainLength int
}

// KeytoolList runs keytool -list -v on a PKCS#12 file and returns its entries in
// keytool's order. The password reaches keytool through an environment variable
// (-storepass:env), never the command line. A wrong password or an unreadable file
// gives an error wrapping ErrLoad with keytool's message.
func KeytoolList(t testing.TB, p12Path, password string) ([]KeytoolEntry, error) {
	t.Helper()
	out, err := keytoolListV(t, p12Path, password)
	if err != nil {
		return nil, err
	}
	return parseKeytoolList(out)
}

// KeytoolOwners runs keytool -list -v as KeytoolList does and returns, per alias, the
// Owner line of the entry's first certificate: its subject as Java prints it
// (X500Principal.toString: most specific RDN first, ", " between RDNs), the string
// Elasticsearch's PKI realm reads.
func KeytoolOwners(t testing.TB, p12Path, password string) (map[string]string, error) {
	t.Helper()
	out, err := keytoolListV(t, p12Path, password)
	if err != nil {
		return nil, err
	}
	owners := map[string]string{}
	alias := ""
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "Alias name: "); ok {
			alias = v
		} else if v, ok := strings.CutPrefix(line, "Owner: "); ok && alias != "" {
			if _, seen := owners[alias]; !seen {
				owners[alias] = v
			}
		}
	}
	return owners, nil
}

func keytoolListV(t testing.TB, p12Path, password string) (string, error) {
	t.Helper()
	keytool := Require(t, "keytool")
	const passEnv = "ESCERT_REALTEST_STOREPASS"
	res, err := run(keytool, []string{
		"-J-Duser.language=en", "-J-Duser.country=US", // keytool's output is localized
		"-list", "-v", "-storetype", "PKCS12",
		"-keystore", absPath(t, p12Path), "-storepass:env", passEnv,
	}, []string{passEnv + "=" + password})
	if err != nil {
		return "", err
	}
	if res.code != 0 {
		return "", fmt.Errorf("keytool -list %s: %w: %s", p12Path, ErrLoad, res.message())
	}
	return res.stdout, nil
}

// parseKeytoolList reads the "Alias name", "Entry type" and "Certificate chain length"
// lines of keytool -list -v output.
func parseKeytoolList(out string) ([]KeytoolEntry, error) {
	var entries []KeytoolEntry
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "Alias name: "); ok {
			entries = append(entries, KeytoolEntry{Alias: v})
			continue
		}
		if len(entries) == 0 {
			continue
		}
		e := &entries[len(entries)-1]
		if v, ok := strings.CutPrefix(line, "Entry type: "); ok {
			e.Type = v
			if v == "trustedCertEntry" {
				e.ChainLength = 1
			}
		} else if v, ok := strings.CutPrefix(line, "Certificate chain length: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("keytool output: bad chain length %q", v)
			}
			e.ChainLength = n
		}
	}
	for _, e := range entries {
		if e.Type == "" {
			return nil, fmt.Errorf("keytool output: no entry type for alias %q", e.Alias)
		}
	}
	return entries, nil
}
