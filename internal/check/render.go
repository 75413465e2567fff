package check

import (
	"fmt"
	"io"
	"strconv"
)

// Report is the JSON form of a check: every finding and their count by severity.
type Report struct {
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
}

// Summary counts findings by severity.
type Summary struct {
	Problems int `json:"problems"`
	Warnings int `json:"warnings"`
}

// NewReport wraps findings for JSON output; no findings is an empty list, not null.
func NewReport(findings []Finding) Report {
	if findings == nil {
		findings = []Finding{}
	}
	p, w := Count(findings)
	return Report{Findings: findings, Summary: Summary{Problems: p, Warnings: w}}
}

// Render writes one line per finding, then one summary line naming dir:
//
//	problem http-tls-disabled elasticsearch.yml:97 [xpack.security.http.ssl.enabled]: TLS is off ... Fix: set ...
func Render(w io.Writer, dir string, findings []Finding) {
	for _, f := range findings {
		where := f.File
		if f.Node != "" {
			where = "node " + f.Node
		}
		if f.Line > 0 {
			where += ":" + strconv.Itoa(f.Line)
		}
		if f.Setting != "" {
			if where != "" {
				where += " "
			}
			where += "[" + f.Setting + "]"
		}
		fmt.Fprintf(w, "%s %s %s: %s. Fix: %s\n", f.Severity, f.ID, where, f.Message, f.Fix)
	}
	p, wn := Count(findings)
	if p+wn == 0 {
		fmt.Fprintf(w, "clean: %s passes every check\n", dir)
		return
	}
	fmt.Fprintf(w, "%s, %s in %s\n", plural(p, "problem"), plural(wn, "warning"), dir)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
