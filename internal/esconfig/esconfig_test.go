package esconfig

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseFlattensNestedAndDottedKeys(t *testing.T) {
	yml := `
cluster.name: prod
xpack:
  security:
    enabled: true
    http.ssl:
      keystore.path: certs/http.p12
xpack.security.transport.ssl.certificate_authorities: [ "a.crt", "b.crt" ]
discovery.seed_hosts:
  - host1
  - host2
`
	s, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key   string
		value string
		list  []string
		line  int
		top   int
	}{
		{"cluster.name", "prod", []string{"prod"}, 2, 2},
		{"xpack.security.enabled", "true", []string{"true"}, 5, 3},
		{"xpack.security.http.ssl.keystore.path", "certs/http.p12", []string{"certs/http.p12"}, 7, 3},
		{"xpack.security.transport.ssl.certificate_authorities", "", []string{"a.crt", "b.crt"}, 8, 8},
		{"discovery.seed_hosts", "", []string{"host1", "host2"}, 9, 9},
	}
	for _, tc := range cases {
		got, ok := s[tc.key]
		if !ok {
			t.Errorf("%s missing", tc.key)
			continue
		}
		if got.Value != tc.value || strings.Join(s.List(tc.key), ",") != strings.Join(tc.list, ",") || got.Line != tc.line || got.Top != tc.top {
			t.Errorf("%s = %+v, want value %q list %v line %d top %d", tc.key, got, tc.value, tc.list, tc.line, tc.top)
		}
	}
	if len(s) != len(cases) {
		t.Errorf("%d settings, want %d: %v", len(s), len(cases), s.Keys())
	}
}

func TestParseRefusesWhatElasticsearchRefuses(t *testing.T) {
	cases := map[string]string{
		"duplicate dotted and nested": "xpack.security.enabled: true\nxpack:\n  security.enabled: false\n",
		"not a mapping":               "- a\n- b\n",
		"bad YAML":                    "a: [\n",
		"alias":                       "a: &x 1\nb: *x\n",
	}
	for name, yml := range cases {
		if _, err := Parse([]byte(yml)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if s, err := Parse([]byte("# only comments\n")); err != nil || len(s) != 0 {
		t.Errorf("comments only: %v %v", s, err)
	}
}

func TestListSplitsCommaSeparatedScalars(t *testing.T) {
	s, _ := Parse([]byte("a: x, y ,z\n"))
	if got := strings.Join(s.List("a"), "|"); got != "x|y|z" {
		t.Errorf("List = %q", got)
	}
}

const block = BlockBegin + "\nxpack.security.enabled: true\n" + BlockEnd + "\n"

func TestReplaceBlockAppendsOnceAndReplacesInPlace(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty file", "", block},
		{"appended after a blank line", "a: 1\n", "a: 1\n\n" + block},
		{"missing final newline", "a: 1", "a: 1\n\n" + block},
		{"replaced in place", "a: 1\n" + BlockBegin + "\nold: x\n" + BlockEnd + "\nb: 2\n", "a: 1\n" + block + "b: 2\n"},
		{"replaced at end without newline", "a: 1\n" + BlockBegin + "\nold: x\n" + BlockEnd, "a: 1\n" + block},
	}
	for _, tc := range cases {
		got, err := ReplaceBlock([]byte(tc.in), block)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
		again, _ := ReplaceBlock(got, block)
		if !bytes.Equal(again, got) {
			t.Errorf("%s: a second replace changed the file", tc.name)
		}
	}
}

func TestBlockRefusesDamagedMarkers(t *testing.T) {
	cases := map[string]string{
		"BEGIN without END": "a: 1\n" + BlockBegin + "\nx: 1\n",
		"END without BEGIN": "a: 1\n" + BlockEnd + "\n",
		"two blocks":        block + block,
		"BEGIN mid-line":    "a: 1 " + block,
	}
	for name, in := range cases {
		if _, err := ReplaceBlock([]byte(in), block); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOutsideCutsOnlyTheBlock(t *testing.T) {
	in := "a: 1\n" + block + "b: 2\n"
	out, err := Outside([]byte(in))
	if err != nil || string(out) != "a: 1\nb: 2\n" {
		t.Errorf("Outside = %q, %v", out, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("a.b: 1\nc:\n  d: [x, y]\n"))
	f.Add([]byte(block))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		for k, v := range s {
			if k != v.Key || v.Line < 1 || v.Top < 1 || v.Top > v.Line {
				t.Fatalf("inconsistent setting %q: %+v", k, v)
			}
		}
	})
}

func FuzzReplaceBlock(f *testing.F) {
	f.Add([]byte("a: 1\n"))
	f.Add([]byte("a: 1\n" + block + "b: 2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := ReplaceBlock(data, block)
		if err != nil {
			return
		}
		if bytes.Count(out, []byte(BlockBegin)) != 1 || bytes.Count(out, []byte(BlockEnd)) != 1 {
			t.Fatalf("result has not exactly one block: %q", out)
		}
		if start, _, ok, _ := Block(data); !ok && !bytes.HasPrefix(out, data) {
			t.Fatal("appending changed the original bytes")
		} else if ok && !bytes.HasPrefix(out, data[:start]) {
			t.Fatal("replacing changed the bytes before the block")
		}
	})
}
