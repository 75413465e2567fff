package check

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
)

// mainClasses identify an Elasticsearch server JVM on its command line: the class
// (7.x and earlier) or module/class (8.x and later) it starts.
var mainClasses = map[string]bool{
	"org.elasticsearch.bootstrap.Elasticsearch":                          true,
	"org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch": true,
}

// process is an Elasticsearch process: its pid and real and effective user IDs.
type process struct {
	pid      int
	uid, eid int
}

// elasticsearchProcesses scans a /proc tree for Elasticsearch servers. nil proc means
// the machine's /proc; a system without one has none. Processes that vanish or hide
// their details while being read are skipped.
func elasticsearchProcesses(proc fs.FS) ([]process, error) {
	if proc == nil {
		if _, err := os.Stat("/proc/self"); err != nil {
			return nil, nil
		}
		proc = os.DirFS("/proc")
	}
	entries, err := fs.ReadDir(proc, ".")
	if err != nil {
		return nil, err
	}
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		cmdline, err := fs.ReadFile(proc, e.Name()+"/cmdline")
		if err != nil || !isElasticsearch(cmdline) {
			continue
		}
		status, err := fs.ReadFile(proc, e.Name()+"/status")
		if err != nil {
			continue
		}
		uid, eid, ok := parseUid(status)
		if !ok {
			continue
		}
		out = append(out, process{pid: pid, uid: uid, eid: eid})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out, nil
}

func isElasticsearch(cmdline []byte) bool {
	for _, arg := range bytes.Split(cmdline, []byte{0}) {
		if mainClasses[string(arg)] {
			return true
		}
	}
	return false
}

// parseUid reads the "Uid:" line of /proc/<pid>/status: real, effective, saved and
// file-system user IDs.
func parseUid(status []byte) (uid, eid int, ok bool) {
	for _, line := range strings.Split(string(status), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "Uid:" {
			continue
		}
		u, err1 := strconv.Atoi(fields[1])
		e, err2 := strconv.Atoi(fields[2])
		return u, e, err1 == nil && err2 == nil
	}
	return 0, 0, false
}

// checkProcesses: Elasticsearch must never run as root.
func (c *checker) checkProcesses(procs []process) {
	for _, p := range procs {
		if p.uid != 0 && p.eid != 0 {
			continue
		}
		c.add(Problem, "runs-as-root", fmt.Sprintf("/proc/%d", p.pid), 0, "",
			fmt.Sprintf("Elasticsearch process %d runs as root: a flaw in it, a plugin or a script hands over the whole machine", p.pid),
			"stop it and start it as the elasticsearch user (the packages' systemd unit does; for an archive install, chown the install to a dedicated user and run it as that user)")
	}
}
