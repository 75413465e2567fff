package check

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/infile"
)

// ref records a file the settings name; key marks key material.
func (c *checker) ref(path string, key bool) { c.refs[path] = c.refs[path] || key }

// secretNames are config files holding password hashes: the file realm's users and
// the service account tokens.
var secretNames = map[string]bool{"users": true, "service_tokens": true}

// pemExt are extensions of files that may hold a PEM private key beside certificates.
var pemExt = map[string]bool{".pem": true, ".crt": true, ".cer": true}

// maxScan bounds how much of a .pem/.crt file is read to look for a private key.
const maxScan = 1 << 20

type fileEntry struct {
	path     string
	mode     fs.FileMode
	uid, gid int
	secret   bool
}

// isSecret reports whether a file holds key material or password hashes: by the
// setting naming it, by its name, or, for PEM files, by a private key inside.
func (c *checker) isSecret(path string, info fs.FileInfo) bool {
	name := filepath.Base(path)
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case c.refs[path], esconfig.IsSecretFile(name):
		return true
	case secretNames[name]:
		// The packages ship an empty users file 0660 root:elasticsearch, like every
		// other config file whose group may write it; only hashes make it a secret.
		return info.Size() > 0
	case pemExt[ext] && info.Size() <= maxScan:
		data, err := infile.Read(path, infile.PEM)
		return err == nil && bytes.Contains(data, []byte("PRIVATE KEY-----"))
	}
	return false
}

// escertTransient reports escert's lock (atomicfs.LockFile) and the temporary file or
// staging directory of a write ("."+name+".escert-*"): not configuration, and never
// checked (a lock file the elasticsearch user made with `escert keystore` is its own
// to write).
func escertTransient(name string) bool {
	return name == atomicfs.LockFile || strings.HasPrefix(name, ".") && strings.Contains(name, ".escert-")
}

// backupsDir holds the files install and renew replaced (atomicfs.Writer.Backup). An older
// install left it to root alone, so the check looks inside when it can list it (a
// world-readable old key is still exposed) but never needs to.
const backupsDir = "escert-backups"

// files lists the config directory's files and directories (symbolic links followed
// for files, not descended into for directories) and the files the settings name
// outside it, leaving escert's transient files out. A subdirectory this process
// cannot list is a warning, not a failure, and nothing at all among the backups: the
// files the settings name are read on their own, and one of those that cannot be
// read still makes the check unusable.
func (c *checker) files() []fileEntry {
	var out []fileEntry
	seen := map[string]bool{}
	add := func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		info, err := os.Stat(path)
		if err != nil {
			return
		}
		uid, gid := ownerOf(info)
		e := fileEntry{path: path, mode: info.Mode(), uid: uid, gid: gid}
		if info.Mode().IsRegular() {
			e.secret = c.isSecret(path, info)
		}
		out = append(out, e)
	}
	err := filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case path != c.dir && escertTransient(d.Name()):
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case err == nil:
			add(path)
			return nil
		case path == c.dir:
			return err
		}
		if dir := c.display(path); errors.Is(err, fs.ErrPermission) && !strings.HasPrefix(dir+"/", backupsDir+"/") {
			c.add(Warning, "dir-not-checked", dir, 0, "",
				fmt.Sprintf("%s cannot be listed by uid %d, which runs this check, so the files in it were not checked", dir, os.Geteuid()),
				"run escert check as root to check them; Elasticsearch 9 does not start when its own user cannot list a config subdirectory (chgrp it to Elasticsearch's group, chmod g+rx)")
		}
		return nil
	})
	if errors.Is(err, fs.ErrPermission) && c.fatal == nil {
		c.fatal = fmt.Errorf("%w: run escert check as root or as the user Elasticsearch runs as", err)
	}
	var refs []string
	for p := range c.refs {
		refs = append(refs, p)
	}
	sort.Strings(refs)
	for _, p := range refs {
		add(p)
	}
	return out
}

// checkModes: key files private, nothing world-writable, and Elasticsearch unable to
// rewrite its own configuration. elasticsearch.keystore (opensearch.keystore) is
// exempt from the last two rules about writing: the packages create it 0660
// root:elasticsearch (root:opensearch) because the node upgrades it in place on start.
func (c *checker) checkModes(id Identity) {
	var writable []string
	for _, f := range c.files() {
		file, perm := c.display(f.path), f.mode.Perm()
		keystore := filepath.Base(f.path) == keystoreName || filepath.Base(f.path) == "opensearch.keystore"
		if f.secret && perm&0o004 != 0 {
			c.add(Problem, "secret-world-readable", file, 0, "",
				fmt.Sprintf("%s holds keys or passwords and every user on this machine can read it (mode %04o)", file, perm),
				fmt.Sprintf("chmod o-rwx %s (root:elasticsearch 0640, or 0600 owned by the user Elasticsearch runs as)", file))
		}
		if f.secret && !keystore && perm&0o020 != 0 && (id.GID < 0 || f.gid == id.GID) {
			c.add(Warning, "secret-group-writable", file, 0, "",
				fmt.Sprintf("%s holds keys or passwords and group %s can replace it (mode %04o)", file, groupName(f.gid), perm),
				"chmod g-w "+file)
		}
		if perm&0o002 != 0 {
			c.add(Problem, "world-writable", file, 0, "",
				fmt.Sprintf("every user on this machine can change %s (mode %04o)", file, perm),
				"chmod o-w "+file)
		}
		if id.UID >= 0 && f.uid == id.UID && perm&0o200 != 0 && !keystore {
			if f.mode.IsDir() {
				file = strings.TrimPrefix(file+"/", "./")
				if file == "" {
					file = "the config directory"
				}
			}
			writable = append(writable, file)
		}
	}
	if len(writable) == 0 {
		return
	}
	shown := writable
	if len(shown) > 8 {
		shown = shown[:8]
	}
	list := strings.Join(shown, ", ")
	if more := len(writable) - len(shown); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	c.add(Warning, "writable-by-elasticsearch", c.dir, 0, "",
		fmt.Sprintf("Elasticsearch's user %s owns and can rewrite %d of its own config files and directories: %s", id.label(), len(writable), list),
		"chown them to root (group elasticsearch, so the node can still read them) and chmod g-w; elasticsearch.keystore may stay 0660 root:elasticsearch")
}

func (id Identity) label() string {
	if id.Name != "" {
		return fmt.Sprintf("%s (uid %d)", id.Name, id.UID)
	}
	return fmt.Sprintf("uid %d", id.UID)
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}

// resolveIdentity finds the account Elasticsearch runs as: the given one, else the
// elasticsearch user and group, else the user of a running Elasticsearch process and
// the config directory's group unless that is root's.
func resolveIdentity(given *Identity, account string, procs []process, dir fs.FileInfo) Identity {
	if given != nil {
		return *given
	}
	id := Identity{UID: -1, GID: -1}
	if u, err := user.Lookup(account); err == nil {
		id.Name = u.Username
		id.UID, _ = strconv.Atoi(u.Uid)
		id.GID, _ = strconv.Atoi(u.Gid)
	}
	if g, err := user.LookupGroup(account); err == nil {
		id.GID, _ = strconv.Atoi(g.Gid)
	}
	if id.UID < 0 {
		for _, p := range procs {
			if p.uid > 0 {
				id.UID = p.uid
				if u, err := user.LookupId(strconv.Itoa(p.uid)); err == nil {
					id.Name = u.Username
				}
				break
			}
		}
	}
	if _, gid := ownerOf(dir); id.GID < 0 && gid > 0 {
		id.GID = gid
	}
	return id
}
