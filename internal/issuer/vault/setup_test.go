package vault

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
)

// TestSetupCreatesAPKIThatIssuesUnderTheNodePolicyAlone runs Setup twice on a fresh
// real Vault, then issues with a token holding only the printed policy.
func TestSetupCreatesAPKIThatIssuesUnderTheNodePolicyAlone(t *testing.T) {
	v := realtest.StartVault(t)
	sc := SetupConfig{
		Vault:  Config{Addr: v.Addr, Auth: Auth{Token: v.Token}},
		Domain: "escert.test", Cluster: "prod", TransportMount: "pki_es_transport", HTTPMount: "pki_es_http", Role: "es-node",
		CATTL: "87600h", MaxTTL: "20000h", PolicyName: "escert-node",
	}
	policy, done, err := Setup(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 7 || !strings.Contains(policy, `path "pki_es_transport/sign/es-node"`) || strings.Contains(policy, "issue") {
		t.Fatalf("done %v, policy:\n%s", done, policy)
	}
	if _, again, err := Setup(context.Background(), sc); err != nil || len(again) != 3 {
		t.Fatalf("second run: %v, %v (only roles and the policy are rewritten)", again, err)
	}
	token := v.CreateToken(t, "1h", "escert-node")
	iss, _, err := New(context.Background(), Config{
		Addr: v.Addr, Auth: Auth{Token: token}, Mode: ModeSign, Policy: fips.Policy{},
		Layers: map[spec.Layer]Role{spec.Transport: {Mount: "pki_es_transport", Name: "es-node"}, spec.HTTP: {Mount: "pki_es_http", Name: "es-node"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range nodeCerts(t, "node1") {
		if _, _, err := issuer.Obtain(context.Background(), iss, c, rand.Reader, fips.Policy{}, fips.DefaultKey); err != nil {
			t.Errorf("%s certificate under the node policy: %v", c.Layer, err)
		}
	}
}
