package csrdir

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/escert/escert/internal/spec"
)

// Notes is PKI-REQUEST.md: what the PKI team must put in each certificate and why, so
// that a profile can be chosen (or made) before anything is signed.
func Notes(r *Request) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	if r.ConfigDir != "" {
		p("# Renewal requests for the Elasticsearch node at %s", r.ConfigDir)
		p("")
		p("Each request renews a certificate this CA signed before: the same subject and names,")
		p("with a new key.")
	} else {
		p("# Certificate requests for the Elasticsearch cluster %q", r.Cluster)
	}
	p("")
	p("Written by %s on %s: %d request(s), %s keys. The private keys stay where they were",
		r.Tool, r.Created.Format("2006-01-02"), len(r.Certificates), r.Key)
	p("made; only the `.csr` files below and this note are for you.")
	for _, layer := range []spec.Layer{spec.Transport, spec.HTTP} {
		var entries []Entry
		for _, e := range r.Certificates {
			if e.Layer == layer {
				entries = append(entries, e)
			}
		}
		if len(entries) == 0 {
			continue
		}
		p("")
		if layer == spec.Transport {
			transportNotes(p, r)
		} else {
			httpNotes(p)
		}
		p("")
		p("| request | subject | DNS names | IP addresses | otherName 2.5.4.3 | extended key usage |")
		p("|---|---|---|---|---|---|")
		for _, e := range entries {
			p("| `%s` | `%s` | %s | %s | %s | %s |", e.CSR, e.Subject, cell(e.DNSNames), cell(e.IPs), cell(e.OtherNames), strings.Join(e.Usages, ", "))
		}
	}
	p("")
	p("## What to send back")
	p("")
	p("- Each signed certificate (PEM, DER or a PKCS#7 .p7b bundle), under any file name:")
	p("  escert pairs each one with its key by the public key.")
	p("- The issuing chain: every intermediate CA between the certificates and the root, and")
	p("  the root itself, as separate files or one bundle. Nodes send leaf + intermediates, so")
	p("  clients need only the root.")
	p("- The lifetime is your policy's. escert warns 30 days before expiry and renews through")
	p("  new requests with the same names and new keys.")
	p("")
	p("escert checks everything before it writes a bundle: each certificate must match its")
	p("key, carry every requested DNS name and IP address, have the usages above, and chain")
	p("to the root through the intermediates you send. A certificate that fails is named with")
	p("the reason, and nothing is written until all pass.")
	return b.Bytes()
}

func transportNotes(p func(string, ...any), r *Request) {
	p("## transport/: node-to-node TLS")
	p("")
	p("Every node is both the client and the server of its connections to the other nodes,")
	p("and each side checks the other's certificate (mutual TLS). Each certificate needs:")
	p("")
	p("- extended key usage **serverAuth and clientAuth** (a node refuses a peer without")
	p("  clientAuth; without the extension at all, any usage is allowed and that works too);")
	p("- key usage digitalSignature (and keyEncipherment for RSA keys), if your profile sets")
	p("  key usage;")
	p("- every requested DNS name and IP address.")
	if r.TrustRestrictions {
		p("")
		p("Keep the **otherName SAN (type 2.5.4.3, UTF8String)** of each request (`<node>.node.%s`) if your profile", r.Cluster)
		p("allows it. The nodes trust this CA on the transport layer, so any certificate it signs")
		p("with clientAuth could join the cluster as a node; Elasticsearch's trust restrictions")
		p("admit only certificates whose otherName matches `%s`. If the profile drops", spec.TrustPattern(r.Cluster))
		p("otherName SANs, escert restricts on the nodes' DNS names instead; if the nodes have no")
		p("DNS names either, nothing tells a node's certificate from any other this CA signs.")
		p("Best of all, sign these with an issuing CA that signs nothing but this cluster's nodes.")
	}
}

func httpNotes(p func(string, ...any)) {
	p("## http/: HTTPS for clients (Kibana, Beats, Logstash, applications)")
	p("")
	p("Clients verify these against the root and the names they connect to. Server")
	p("certificates need extended key usage **serverAuth** and every requested DNS name and IP")
	p("address; client certificates (a `-client` request) need **clientAuth**.")
}

// cell is a Markdown table cell listing names, "-" for none.
func cell(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	return strings.Join(quoted, "<br>")
}
