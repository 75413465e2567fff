package esconfig

import (
	"os"
	"path/filepath"
	"regexp"
)

// serverJar is the server jar of an Elasticsearch installation, whose name carries
// the version: lib/elasticsearch-9.5.4.jar.
var serverJar = regexp.MustCompile(`^elasticsearch-([0-9]+\.[0-9]+\.[0-9]+)\.jar$`)

// packageHome is where the deb and rpm packages put Elasticsearch; their config
// directory is /etc/elasticsearch.
const (
	packageHome   = "/usr/share/elasticsearch"
	packageConfig = "/etc/elasticsearch"
)

// InstalledVersion finds the version of the Elasticsearch installation that
// configDir belongs to: <config>/../lib for an archive install (config/ inside
// ES_HOME), /usr/share/elasticsearch/lib for the packages' /etc/elasticsearch. It
// reports false when neither holds exactly one server jar.
func InstalledVersion(configDir string) (string, bool) {
	homes := []string{filepath.Dir(filepath.Clean(configDir))}
	if abs, err := filepath.Abs(configDir); err == nil && abs == packageConfig {
		homes = append(homes, packageHome)
	}
	for _, home := range homes {
		if v, ok := jarVersion(filepath.Join(home, "lib")); ok {
			return v, true
		}
	}
	return "", false
}

func jarVersion(lib string) (string, bool) {
	entries, err := os.ReadDir(lib)
	if err != nil {
		return "", false
	}
	found := ""
	for _, e := range entries {
		if m := serverJar.FindStringSubmatch(e.Name()); m != nil {
			if found != "" {
				return "", false
			}
			found = m[1]
		}
	}
	return found, found != ""
}
