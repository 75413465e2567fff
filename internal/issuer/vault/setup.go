package vault

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/issuer"
)

// SetupConfig describes the PKI layout `escert vault setup` creates for a team
// without one: one mount per layer, each with its own root CA, and one role per mount
// with what escert's certificates carry.
type SetupConfig struct {
	Vault          Config // Addr, Namespace, CACert, Insecure; Auth.Token must be an admin token
	Domain         string // allowed_domains of the roles
	Cluster        string // named in the CAs' common names
	TransportMount string
	HTTPMount      string
	Role           string
	CATTL          string // e.g. 87600h
	MaxTTL         string // the roles' max_ttl, e.g. 8760h
	PolicyName     string // written to Vault when set; always returned
}

// Setup enables the PKI mounts, creates each root CA and the roles, and returns the
// least-privilege policy a node needs (sign on its roles, nothing else) and what it
// did. Each step is skipped when already done, so running it again is safe.
func Setup(ctx context.Context, sc SetupConfig) (policy string, done []string, err error) {
	defer func() {
		// Ctrl-C mid-setup is an interruption, whichever step it stopped.
		if err != nil && ctx.Err() != nil {
			err = issuer.Stopped(ctx, err)
		}
	}()
	client, err := newClient(sc.Vault.Addr, sc.Vault, 1)
	if err != nil {
		return "", nil, err
	}
	client.SetToken(sc.Vault.Auth.Token)
	mounts, err := client.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("list Vault's mounts at %s: %w", sc.Vault.Addr, err)
	}
	var rules []string
	for _, m := range []struct{ mount, layer string }{{sc.TransportMount, "transport"}, {sc.HTTPMount, "http"}} {
		if existing, ok := mounts[m.mount+"/"]; ok {
			if existing.Type != "pki" {
				return "", done, fmt.Errorf("mount %s exists and is %s, not pki: choose another --%s-mount", m.mount, existing.Type, m.layer)
			}
		} else {
			if err := client.Sys().MountWithContext(ctx, m.mount, &api.MountInput{Type: "pki", Description: "escert " + m.layer + " CA", Config: api.MountConfigInput{MaxLeaseTTL: sc.CATTL}}); err != nil {
				return "", done, fmt.Errorf("enable PKI at %s: %w", m.mount, err)
			}
			done = append(done, "enabled the PKI engine at "+m.mount)
		}
		if ca, err := client.Logical().ReadRawWithContext(ctx, m.mount+"/ca/pem"); err == nil && ca.StatusCode == 200 {
			body := make([]byte, 64)
			n, _ := ca.Body.Read(body)
			ca.Body.Close()
			if strings.Contains(string(body[:n]), "BEGIN CERTIFICATE") {
				goto role
			}
		}
		if _, err := client.Logical().WriteWithContext(ctx, m.mount+"/root/generate/internal", map[string]any{
			"common_name": fmt.Sprintf("escert %s %s CA", sc.Cluster, m.layer), "organization": "escert",
			"key_type": "ec", "key_bits": 256, "ttl": sc.CATTL,
		}); err != nil {
			return "", done, fmt.Errorf("create the %s root CA in %s: %w", m.layer, m.mount, err)
		}
		done = append(done, fmt.Sprintf("created the %s root CA in %s", m.layer, m.mount))
	role:
		if _, err := client.Logical().WriteWithContext(ctx, m.mount+"/roles/"+sc.Role, map[string]any{
			"allowed_domains": sc.Domain, "allow_subdomains": true, "allow_localhost": true, "allow_ip_sans": true,
			"allowed_other_sans": "2.5.4.3;UTF8:*", "server_flag": true, "client_flag": true, // Kibana's client certificates come from the HTTP role
			"key_type": "ec", "key_bits": 256, "cn_validations": "disabled", "max_ttl": sc.MaxTTL,
		}); err != nil {
			return "", done, fmt.Errorf("write role %s at %s: %w", sc.Role, m.mount, err)
		}
		done = append(done, fmt.Sprintf("wrote role %s at %s", sc.Role, m.mount))
		rules = append(rules, fmt.Sprintf("path %q {\n  capabilities = [\"update\"]\n}\n", m.mount+"/sign/"+sc.Role))
	}
	policy = "# escert node: sign certificates on its roles, nothing else.\n" + strings.Join(rules, "")
	if sc.PolicyName != "" {
		if err := client.Sys().PutPolicyWithContext(ctx, sc.PolicyName, policy); err != nil {
			return policy, done, fmt.Errorf("write policy %s: %w", sc.PolicyName, err)
		}
		done = append(done, "wrote policy "+sc.PolicyName)
	}
	return policy, done, nil
}
