package esconfig

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInstalledVersionReadsTheServerJarBesideTheConfigDirectory(t *testing.T) {
	tests := []struct {
		name   string
		jars   []string
		want   string
		wantOK bool
	}{
		{"archive install", []string{"elasticsearch-9.5.4.jar", "elasticsearch-x-content-9.5.4.jar", "lucene-core-10.3.1.jar"}, "9.5.4", true},
		{"8.x archive", []string{"elasticsearch-8.19.21.jar"}, "8.19.21", true},
		{"no lib directory", nil, "", false},
		{"two server jars", []string{"elasticsearch-9.5.4.jar", "elasticsearch-8.19.21.jar"}, "", false},
		{"snapshot jar", []string{"elasticsearch-9.6.0-SNAPSHOT.jar"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			config := filepath.Join(home, "config")
			if err := os.Mkdir(config, 0o750); err != nil {
				t.Fatal(err)
			}
			if tt.jars != nil {
				if err := os.Mkdir(filepath.Join(home, "lib"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, j := range tt.jars {
				if err := os.WriteFile(filepath.Join(home, "lib", j), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := InstalledVersion(config)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("InstalledVersion = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
