package nodetls

import (
	"testing"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/target"
)

func TestReloadForIsWhatTheNodesSettingsTurnOn(t *testing.T) {
	cases := []struct {
		name   string
		engine target.Target
		yml    string
		want   Reload
	}{
		{"Elasticsearch watches by default", target.Elasticsearch, "", ReloadWatch},
		{"Elasticsearch with the resource watcher off", target.Elasticsearch, "resource.reload.enabled: false", ReloadRestart},
		{"OpenSearch 2.19's hot reload", target.OpenSearch, "plugins.security.ssl.certificates_hot_reload.enabled: true", ReloadWatch},
		{"hot reload wins over the API", target.OpenSearch, "plugins.security.ssl.certificates_hot_reload.enabled: true\nplugins.security.ssl_cert_reload_enabled: true", ReloadWatch},
		{"OpenSearch's reload API", target.OpenSearch, "plugins:\n  security:\n    ssl_cert_reload_enabled: true", ReloadAPI},
		{"OpenSearch with neither", target.OpenSearch, "plugins.security.ssl_cert_reload_enabled: false", ReloadRestart},
		{"OpenSearch's default", target.OpenSearch, "", ReloadRestart},
		{"Elasticsearch ignores OpenSearch's settings", target.Elasticsearch, "plugins.security.ssl_cert_reload_enabled: true", ReloadWatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			settings, err := esconfig.Parse([]byte(tc.yml))
			if err != nil {
				t.Fatal(err)
			}
			if got := ReloadFor(tc.engine, settings); got != tc.want {
				t.Errorf("ReloadFor = %s, want %s", got, tc.want)
			}
		})
	}
}
