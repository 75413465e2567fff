// Package target names the search engine a bundle or a node's config directory is
// for: Elasticsearch or OpenSearch. The two read their TLS from different settings,
// in different files, and a bundle for one must never land in the other's config
// directory; this package is where a command learns which one it deals with.
package target

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Target is a search engine escert secures.
type Target string

// The targets.
const (
	Elasticsearch Target = "elasticsearch"
	OpenSearch    Target = "opensearch"
)

// Parse reads a --target flag's value.
func Parse(s string) (Target, error) {
	switch t := Target(s); t {
	case Elasticsearch, OpenSearch:
		return t, nil
	}
	return "", fmt.Errorf("%q: use elasticsearch or opensearch", s)
}

// SettingsFile is the node settings file in a config directory (and a node bundle).
func (t Target) SettingsFile() string { return string(t) + ".yml" }

// Product is the target's name for people.
func (t Target) Product() string {
	if t == OpenSearch {
		return "OpenSearch"
	}
	return "Elasticsearch"
}

// ErrUnknown is a directory holding neither settings file.
var ErrUnknown = errors.New("holds neither elasticsearch.yml nor opensearch.yml")

// ErrAmbiguous is a directory holding both.
var ErrAmbiguous = errors.New("holds both elasticsearch.yml and opensearch.yml, so which engine reads it is unclear: remove the one that is not this node's")

// Detect tells the target of a config directory or node bundle by the settings file
// it holds: every installation ships one, and only one.
func Detect(dir string) (Target, error) {
	var found []Target
	for _, t := range []Target{Elasticsearch, OpenSearch} {
		// Anything but a directory counts: a settings file that cannot be read is
		// the reader's to report, naming it.
		if info, err := os.Stat(filepath.Join(dir, t.SettingsFile())); err == nil && !info.IsDir() {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", ErrUnknown
	case 1:
		return found[0], nil
	}
	return "", ErrAmbiguous
}
