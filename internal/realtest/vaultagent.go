package realtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// StartAgent runs a real `vault agent` against v, as on a node: it logs in with
// AppRole (role and secret IDs read from files) and keeps the token in a file sink.
// It returns the sink's path once the agent has written a token there. The agent is
// killed by t.Cleanup.
func (v *Vault) StartAgent(t testing.TB, roleID, secretID string) (sink string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatalf("realtest: %v", err)
		}
		return p
	}
	sink = filepath.Join(dir, "token")
	caCert := ""
	if v.CACert != "" {
		caCert = "\n  ca_cert = " + strconv.Quote(v.CACert)
	}
	config := write("agent.hcl", fmt.Sprintf(`vault {
  address = %q%s
}
auto_auth {
  method "approle" {
    config = {
      role_id_file_path = %q
      secret_id_file_path = %q
      remove_secret_id_file_after_reading = false
    }
  }
  sink "file" {
    config = {
      path = %q
    }
  }
}
`, v.Addr, caCert, write("role-id", roleID), write("secret-id", secretID), sink))

	cmd := exec.Command(v.cmd.Path, "agent", "-config="+config)
	cmd.Env = withoutVaultEnv(os.Environ())
	output := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		t.Fatalf("realtest: start Vault Agent: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.After(vaultStartTimeout)
	for {
		if info, err := os.Stat(sink); err == nil && info.Size() > 0 {
			return sink
		}
		select {
		case <-exited:
			t.Fatalf("realtest: Vault Agent exited at start:\n%s", output.String())
		case <-deadline:
			t.Fatalf("realtest: Vault Agent wrote no token to %s in %v:\n%s", sink, vaultStartTimeout, output.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
