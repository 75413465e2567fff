package main

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// peer is a pinned program installed from the Go module proxy.
type peer struct {
	bin, pkg, module, version string
}

// peers are the pinned programs escert is compared with.
var peers = []peer{
	{bin: "mkcert", pkg: "filippo.io/mkcert", module: "filippo.io/mkcert", version: "v1.4.4"},
	{bin: "cfssl", pkg: "github.com/cloudflare/cfssl/cmd/cfssl", module: "github.com/cloudflare/cfssl", version: "v1.6.5"},
	{bin: "cfssljson", pkg: "github.com/cloudflare/cfssl/cmd/cfssljson", module: "github.com/cloudflare/cfssl", version: "v1.6.5"},
}

// install returns the path of p's binary under cache/bin, running `go install` first
// unless the binary there is already the pinned version (its build info says which):
// the cache survives checkouts, and a changed pin replaces what it holds.
func (p peer) install(ctx context.Context, goCmd, cache string) (string, error) {
	gobin := filepath.Join(cache, "bin")
	path := filepath.Join(gobin, p.bin)
	if info, err := buildinfo.ReadFile(path); err == nil && info.Main.Path == p.module && info.Main.Version == p.version {
		return path, nil
	}
	fmt.Fprintf(os.Stderr, "installing %s@%s into %s (cfssl takes about a minute the first time)\n", p.pkg, p.version, gobin)
	cmd := exec.CommandContext(ctx, goCmd, "install", p.pkg+"@"+p.version)
	// Outside the module, so escert's go.mod plays no part in what gets built.
	cmd.Dir = cache
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := os.MkdirAll(gobin, 0o755); err != nil {
		return "", fmt.Errorf("peer cache: %w", err)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w", p.pkg, p.version, err)
	}
	return path, nil
}

// fsName names the filesystem dir is on (statfs's f_type), for the header: the
// machine's disk makes every file creation cost far more than tmpfs does.
func fsName(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return fsTypeName(int64(st.Type))
}

// fsTypeName names a statfs f_type magic number (linux/magic.h).
func fsTypeName(magic int64) string {
	switch magic {
	case 0x01021994:
		return "tmpfs"
	case 0xef53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	case 0x2fc12fc1:
		return "zfs"
	}
	return fmt.Sprintf("type 0x%x", magic)
}
