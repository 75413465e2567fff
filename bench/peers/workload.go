package main

import (
	"bytes"
	"fmt"
)

// node is one instance of the workload: every contender issues a transport and an
// HTTP certificate for it, naming the same three SANs.
type node struct {
	name, dns, ip string
}

// workload returns the n nodes every contender gets: nodeI, nodeI.example.com and
// one IP each (10.0.0.1 upward, so no address is a network address).
func workload(n int) []node {
	out := make([]node, n)
	for i := range out {
		a := i + 1
		out[i] = node{
			name: fmt.Sprintf("node%d", i),
			dns:  fmt.Sprintf("node%d.example.com", i),
			ip:   fmt.Sprintf("10.%d.%d.%d", a>>16&0xff, a>>8&0xff, a&0xff),
		}
	}
	return out
}

// instancesYAML writes nodes as an instances file (elasticsearch-certutil's format),
// the input of escert bootstrap.
func instancesYAML(nodes []node) []byte {
	var b bytes.Buffer
	b.WriteString("instances:\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "  - name: %s\n    dns: [%s]\n    ip: [%s]\n", n.name, n.dns, n.ip)
	}
	return b.Bytes()
}
