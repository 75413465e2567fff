package spec

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/escert/escert/internal/ca"
)

// ParseName turns an instance name into a subject: a plain name becomes CN=<name>; a
// name containing '=' is read as a distinguished name in RFC 4514 string form
// ("CN=node1,OU=search,O=Example"), as elasticsearch-certutil reads it. It returns the
// subject's DER, which keeps the RDNs exactly as written (see ca.ParseDN), and its
// parsed form, whose CommonName is the first CN written.
func ParseName(name string) (der []byte, subject pkix.Name, err error) {
	if !strings.Contains(name, "=") {
		der, err = asn1.Marshal(pkix.Name{CommonName: name}.ToRDNSequence())
	} else {
		der, err = ca.ParseDN(name)
	}
	if err != nil {
		return nil, pkix.Name{}, err
	}
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &rdns); err != nil {
		return nil, pkix.Name{}, fmt.Errorf("decode subject %q: %w", name, err)
	}
	subject.FillFromRDNSequence(&rdns)
	if subject.CommonName == "" {
		return nil, pkix.Name{}, fmt.Errorf("distinguished name %q has no CN: add CN=<node name>", name)
	}
	return der, subject, nil
}
