package target

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDetectTellsTheEngineByItsSettingsFile(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  Target
		err   error
	}{
		{"elasticsearch", []string{"elasticsearch.yml", "jvm.options"}, Elasticsearch, nil},
		{"opensearch", []string{"opensearch.yml", "jvm.options"}, OpenSearch, nil},
		{"neither", []string{"jvm.options"}, "", ErrUnknown},
		{"both", []string{"elasticsearch.yml", "opensearch.yml"}, "", ErrAmbiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Detect(dir)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("Detect = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestDetectIgnoresADirectoryNamedLikeTheSettingsFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "opensearch.yml"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Detect(dir); !errors.Is(err, ErrUnknown) {
		t.Errorf("Detect = %v, want ErrUnknown", err)
	}
}

func TestParseRefusesAnUnknownTarget(t *testing.T) {
	for _, s := range []string{"elasticsearch", "opensearch"} {
		if got, err := Parse(s); err != nil || string(got) != s {
			t.Errorf("Parse(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "OpenSearch", "solr"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted it", s)
		}
	}
}
