package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// contender is one way of issuing the workload. setup writes what the run needs
// besides the instances (outside the timed part); run does the timed work in its
// own fresh directory.
type contender struct {
	name  string
	setup func(dir string) error
	run   func(ctx context.Context, dir string, m *meter) error
	// floor is the crypto floor's work for an escert variant; nil for the peers, whose
	// work is not escert's.
	floor *variant
}

// escertContender runs `escert bootstrap` on the instances file with extra flags:
// one process, so its rusage is the whole run's.
func escertContender(bin, instances string, v *variant) contender {
	return contender{
		name:  v.name,
		floor: v,
		run: func(ctx context.Context, dir string, m *meter) error {
			args := append([]string{"bootstrap", "--instances", instances, "--out", filepath.Join(dir, "out"), "-q"}, v.flags...)
			return m.run(exec.CommandContext(ctx, bin, args...))
		},
	}
}

// mkcertContender runs mkcert twice per node, as its users script it. Its CA comes
// from the run's fresh CAROOT, which mkcert fills on first use: making the CA is part
// of its work, as it is of escert's.
func mkcertContender(bin string, nodes []node) contender {
	return contender{
		name: "mkcert",
		run: func(ctx context.Context, dir string, m *meter) error {
			// TRUST_STORES=system: mkcert checks whether its CA is installed on every
			// call, only to print a note; with JAVA_HOME set it would start keytool each
			// time and with a Firefox profile it would read NSS. Only the system check
			// (one certificate verification) stays, the cost on a plain server.
			env := append(os.Environ(), "CAROOT="+filepath.Join(dir, "caroot"), "TRUST_STORES=system")
			for _, n := range nodes {
				d := filepath.Join(dir, n.name)
				if err := os.Mkdir(d, 0o755); err != nil {
					return fmt.Errorf("mkcert run: %w", err)
				}
				for _, layer := range []string{"transport", "http"} {
					cmd := exec.CommandContext(ctx, bin, "-ecdsa", "-pkcs12", "-p12-file", filepath.Join(d, layer+".p12"), n.name, n.dns, n.ip)
					cmd.Env = env
					if err := m.run(cmd); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

// cfsslTools are the programs the cfssl contender runs.
type cfsslTools struct {
	cfssl, cfssljson, openssl string
}

// cfsslContender makes a CA with `cfssl gencert -initca`, then per certificate
// `cfssl gencert | cfssljson -bare` and `openssl pkcs12 -export` of the leaf, its key
// and the CA, as a cfssl user who needs PKCS#12 files does.
func cfsslContender(t cfsslTools, nodes []node) contender {
	return contender{
		name: "cfssl + openssl pkcs12",
		setup: func(dir string) error {
			files := map[string]any{
				"ca-csr.json": map[string]any{
					"CN":  "escert bench CA",
					"key": map[string]any{"algo": "ecdsa", "size": 256},
				},
				"config.json": map[string]any{"signing": map[string]any{"profiles": map[string]any{"node": map[string]any{
					"usages": []string{"digital signature", "key encipherment", "server auth", "client auth"},
					"expiry": "8760h",
				}}}},
			}
			for name, v := range files {
				data, err := json.Marshal(v)
				if err != nil {
					return fmt.Errorf("cfssl setup: %w", err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					return fmt.Errorf("cfssl setup: %w", err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "p12-password"), []byte(rand.Text()+"\n"), 0o600); err != nil {
				return fmt.Errorf("cfssl setup: %w", err)
			}
			return nil
		},
		run: func(ctx context.Context, dir string, m *meter) error {
			ca := filepath.Join(dir, "ca")
			err := m.pipe(exec.CommandContext(ctx, t.cfssl, "gencert", "-initca", filepath.Join(dir, "ca-csr.json")),
				exec.CommandContext(ctx, t.cfssljson, "-bare", ca))
			if err != nil {
				return err
			}
			for _, n := range nodes {
				d := filepath.Join(dir, n.name)
				if err := os.Mkdir(d, 0o755); err != nil {
					return fmt.Errorf("cfssl run: %w", err)
				}
				csr, err := json.Marshal(map[string]any{
					"CN":    n.name,
					"hosts": []string{n.name, n.dns, n.ip},
					"key":   map[string]any{"algo": "ecdsa", "size": 256},
				})
				if err != nil {
					return fmt.Errorf("cfssl run: %w", err)
				}
				for _, layer := range []string{"transport", "http"} {
					base := filepath.Join(d, layer)
					// The request goes in on stdin ("-"), which cfssl reads like a file:
					// writing a csr.json per certificate would charge cfssl for files it
					// does not need.
					gen := exec.CommandContext(ctx, t.cfssl, "gencert", "-ca", ca+".pem", "-ca-key", ca+"-key.pem",
						"-config", filepath.Join(dir, "config.json"), "-profile", "node", "-")
					gen.Stdin = bytes.NewReader(csr)
					if err := m.pipe(gen, exec.CommandContext(ctx, t.cfssljson, "-bare", base)); err != nil {
						return err
					}
					err := m.run(exec.CommandContext(ctx, t.openssl, "pkcs12", "-export", "-in", base+".pem", "-inkey", base+"-key.pem",
						"-certfile", ca+".pem", "-name", layer, "-out", base+".p12", "-passout", "file:"+filepath.Join(dir, "p12-password")))
					if err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}
