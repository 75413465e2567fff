package arch

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/escert/escert/"

// layers reads ARCHITECTURE.md's table: package (without the module and internal/)
// → layer.
func layers(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open("../../ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| (\\d+) \\| (.*?) \\|")
	pkg := regexp.MustCompile("`([a-z0-9/]+)`")
	out := map[string]int{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		m := row.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		for _, p := range pkg.FindAllStringSubmatch(m[2], -1) {
			out[p[1]] = n
		}
	}
	if len(out) < 20 {
		t.Fatalf("ARCHITECTURE.md's layer table names %d packages", len(out))
	}
	return out
}

type goPackage struct {
	ImportPath string
	Imports    []string
}

func TestEveryPackageIsInALayerAndImportsOnlyLowerLayers(t *testing.T) {
	want := layers(t)
	out, err := exec.Command("go", "list", "-json", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	short := func(path string) string {
		return strings.TrimPrefix(strings.TrimPrefix(path, module), "internal/")
	}
	seen := 0
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := short(p.ImportPath)
		if name == "arch" || strings.HasPrefix(name, "test/") {
			continue
		}
		layer, ok := want[name]
		if !ok {
			t.Errorf("package %s is in no layer of ARCHITECTURE.md", name)
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			if l, ok := want[short(imp)]; ok && l >= layer {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", name, layer, short(imp), l)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("ARCHITECTURE.md lists %d packages, go list found %d of them", len(want), seen)
	}
}
