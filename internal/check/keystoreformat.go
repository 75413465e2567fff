package check

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
)

// checkKeystoreFormat: Elasticsearch upgrades an older keystore to its own format
// when it starts, and refuses to start when it cannot rewrite the file: in a config
// directory its account may not write (the packages' root:elasticsearch 2750:
// "unable to create temporary keystore", exit 78), or a keystore its account does
// not own ("will not overwrite keystore ... changing the file owner"). Judged only
// when the installation's version and Elasticsearch's account are known.
func (c *checker) checkKeystoreFormat(id Identity) {
	if c.keystore == nil || id.UID < 0 {
		return
	}
	version, ok := esconfig.InstalledVersion(c.dir)
	if !ok {
		return
	}
	want, err := eskeystore.VersionFor(version)
	if err != nil || c.keystore.Version >= want {
		return
	}
	path := filepath.Join(c.dir, keystoreName)
	dirInfo, err1 := os.Stat(c.dir)
	ksInfo, err2 := os.Stat(path)
	if err1 != nil || err2 != nil {
		return
	}
	var why string
	if uid, _ := ownerOf(ksInfo); uid != id.UID {
		why = fmt.Sprintf("its user %s does not own the file", id.label())
	}
	if !writableBy(dirInfo, id) {
		why = fmt.Sprintf("its user %s cannot write %s", id.label(), c.display(c.dir))
	}
	if why == "" {
		return // the node rewrites it itself on its next start
	}
	file := c.display(path)
	c.add(Problem, "keystore-format-old", file, 0, "",
		fmt.Sprintf("%s is in format %d; Elasticsearch %s upgrades it to format %d when it starts and cannot here (%s), so the node will not start", file, c.keystore.Version, version, want, why),
		fmt.Sprintf("escert keystore upgrade --es-version %s --path %s", version, path))
}

// writableBy reports whether the account id may create files in the directory.
func writableBy(dir os.FileInfo, id Identity) bool {
	uid, gid := ownerOf(dir)
	perm := dir.Mode().Perm()
	switch {
	case id.UID == 0:
		return true
	case uid == id.UID:
		return perm&0o200 != 0
	case id.GID >= 0 && gid == id.GID:
		return perm&0o020 != 0
	}
	return perm&0o002 != 0
}
