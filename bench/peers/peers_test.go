package main

import (
	"slices"
	"testing"

	"github.com/escert/escert/internal/spec"
)

func TestMedianTakesTheMiddleWithoutReordering(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{3}, 3},
		{"odd count", []float64{5, 1, 3}, 3},
		{"even count averages the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"an outlier does not move it", []float64{1, 1, 100}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			if got := median(in); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("median reordered its input to %v", in)
			}
		})
	}
}

func TestVersusSaysFasterOrSlowerWithARatioAboveOne(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ref, x float64
		want   string
	}{
		{"faster", 6.4, 0.52, "12.3x faster"},
		{"slower", 1, 1.9, "1.9x slower"},
		{"equal", 2, 2, "1.0x faster"},
		{"no reference", 0, 1, "n/a"},
		{"no time", 1, 0, "n/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versus(tc.ref, tc.x); got != tc.want {
				t.Errorf("versus(%v, %v) = %q, want %q", tc.ref, tc.x, got, tc.want)
			}
		})
	}
}

func TestThousandsGroupsDigits(t *testing.T) {
	for n, want := range map[int]string{7: "7", 100: "100", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseIntsRefusesWhatIsNotAPositiveList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"100,1000", []int{100, 1000}},
		{" 5 , 3", []int{5, 3}},
		{"7", []int{7}},
		{"", nil},
		{"0", nil},
		{"100,", nil},
		{"-3", nil},
		{"1e3", nil},
	} {
		got, err := parseInts(tc.in)
		if (err != nil) != (tc.want == nil) || !slices.Equal(got, tc.want) {
			t.Errorf("parseInts(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseFlagsMatchesRoundsToSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []int // nil: an error
	}{
		{"defaults", nil, []int{5, 3}},
		{"default rounds follow the size", []string{"-nodes", "30,1000,100,5000"}, []int{5, 3, 5, 3}},
		{"one number serves every size", []string{"-nodes", "10,30,50", "-rounds", "2"}, []int{2, 2, 2}},
		{"one per size", []string{"-nodes", "10,30", "-rounds", "4,1"}, []int{4, 1}},
		{"a count that matches nothing", []string{"-nodes", "10,30,50", "-rounds", "4,1"}, nil},
		{"an unknown peer", []string{"-peers", "openssl"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// -cache: the default needs $HOME, which a CI job may not set.
			c, err := parseFlags(append([]string{"-cache", t.TempDir()}, tc.args...))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("parseFlags(%q) accepted it", tc.args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.rounds, tc.want) {
				t.Errorf("rounds = %v, want %v", c.rounds, tc.want)
			}
		})
	}
}

// The instances file is read by escert's own parser, so a workload escert would
// refuse or read differently fails here rather than in the middle of a benchmark.
func TestInstancesYAMLIsReadByEscertAsTheWorkload(t *testing.T) {
	for _, n := range []int{1, 3, 300} {
		nodes := workload(n)
		got, err := spec.ParseInstances("instances.yml", instancesYAML(nodes))
		if err != nil {
			t.Fatalf("%d nodes: %v", n, err)
		}
		if len(got) != n {
			t.Fatalf("%d nodes: escert read %d instances", n, len(got))
		}
		ips := map[string]bool{}
		for i, in := range got {
			w := nodes[i]
			if in.Name != w.name || !slices.Equal(in.DNS, []string{w.dns}) || len(in.IPs) != 1 || in.IPs[0].String() != w.ip {
				t.Errorf("instance %d = %s %v %v, want %s [%s] [%s]", i, in.Name, in.DNS, in.IPs, w.name, w.dns, w.ip)
			}
			if ips[w.ip] {
				t.Errorf("IP %s given twice", w.ip)
			}
			ips[w.ip] = true
		}
	}
}

func TestWorkloadCountsOneKeystoreKeyPerBootstrap(t *testing.T) {
	for _, tc := range []struct {
		nodes int
		want  work
	}{
		{1, work{certs: 4, p12s: 2, keystores: 1}},
		{100, work{certs: 202, p12s: 200, keystores: 1}},
		{1000, work{certs: 2002, p12s: 2000, keystores: 1}},
	} {
		if got := workOf(tc.nodes); got != tc.want {
			t.Errorf("workOf(%d) = %+v, want %+v", tc.nodes, got, tc.want)
		}
	}
}

func TestFsTypeNameNamesTheFilesystemsOfTheHeader(t *testing.T) {
	for magic, want := range map[int64]string{0x01021994: "tmpfs", 0xef53: "ext4", 0x12345: "type 0x12345"} {
		if got := fsTypeName(magic); got != want {
			t.Errorf("fsTypeName(%#x) = %q, want %q", magic, got, want)
		}
	}
}
