package nodetls

import (
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/target"
)

// Reload is how a running node takes up certificate and CA files changed in place.
type Reload string

// The ways.
const (
	// ReloadWatch: the node polls its files (every 5 s) and reloads them itself:
	// Elasticsearch, and OpenSearch 2.19+ with certificates_hot_reload.enabled.
	ReloadWatch Reload = "watch"
	// ReloadAPI: OpenSearch with plugins.security.ssl_cert_reload_enabled reloads a
	// layer's files when the admin certificate calls
	// PUT _plugins/_security/api/ssl/<layer>/reloadcerts.
	ReloadAPI Reload = "api"
	// ReloadRestart: only a restart reads them.
	ReloadRestart Reload = "restart"
)

// The settings ReloadFor reads.
const (
	ElasticsearchResourceReload = "resource.reload.enabled"
	OpenSearchHotReload         = "plugins.security.ssl.certificates_hot_reload.enabled"
	OpenSearchReloadEnabled     = "plugins.security.ssl_cert_reload_enabled"
)

// ReloadFor is how a node of engine t with these settings takes up changed files.
func ReloadFor(t target.Target, settings esconfig.Settings) Reload {
	on := func(key string) bool { v, _ := settings.Get(key); return v == "true" }
	switch {
	case t != target.OpenSearch:
		if v, set := settings.Get(ElasticsearchResourceReload); set && v == "false" {
			return ReloadRestart
		}
		return ReloadWatch
	case on(OpenSearchHotReload):
		return ReloadWatch
	case on(OpenSearchReloadEnabled):
		return ReloadAPI
	}
	return ReloadRestart
}
