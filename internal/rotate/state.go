package rotate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/spec"
)

// A local rotation's state is the new CA in <ca-dir>/next/ and, beside it, one record
// per node a phase ran on (node-<id>.json): the last phase each rotated layer reached
// there. finish --promote reads them to refuse while a node the rotation began on has
// not finished. Each node writes only its own record, so phases run in parallel across
// a fleet sharing the CA directory never lose one another's, with no lock beyond the
// node's own config directory lock. A rotation begun by an older escert, or without
// --es-config, has no records: promoting it needs --allow-pending.

// step is a rotation phase, in order.
type step int

const (
	stepBegin step = iota + 1
	stepIssue
	stepFinish
)

var stepNames = map[step]string{stepBegin: "begin", stepIssue: "issue", stepFinish: "finish"}

func stepNamed(name string) step {
	for s, n := range stepNames {
		if n == name {
			return s
		}
	}
	return 0
}

// nodeRecord is one node's progress through the rotation.
type nodeRecord struct {
	Name   string                `json:"name"`
	Host   string                `json:"host"`
	Config string                `json:"config"`
	Layers map[spec.Layer]string `json:"layers"` // the last phase done: begin, issue or finish
}

func (r nodeRecord) label() string { return fmt.Sprintf("%s (%s:%s)", r.Name, r.Host, r.Config) }

// recordKind bounds a record, which escert writes at a few hundred bytes.
var recordKind = infile.Kind{Name: "a CA rotation record", Limit: 64 << 10}

const recordPrefix, recordExt = "node-", ".json"

// record notes that the node of configDir has done step on the rotated layers. A
// rotation onto a remote issuer has no CA directory, and nothing to promote.
func record(o CAOptions, configDir string, certs []NodeCert, s step) error {
	if o.CADir == "" {
		return nil
	}
	config, err := filepath.Abs(configDir)
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	id := sha256.Sum256([]byte(host + "\x00" + config))
	path := filepath.Join(o.CADir, NextDir, recordPrefix+hex.EncodeToString(id[:8])+recordExt)
	rec, found, err := readRecord(path)
	if err != nil {
		return err
	}
	if !found {
		rec = nodeRecord{Host: host, Config: config, Layers: map[spec.Layer]string{}}
	}
	for _, n := range certs {
		if !slices.Contains(o.Layers, n.Layer) {
			continue
		}
		if rec.Name == "" {
			if rec.Name = n.Leaf().Subject.CommonName; rec.Name == "" {
				rec.Name = ca.FormatDN(n.Leaf().RawSubject)
			}
		}
		// Phases are safe to re-run: a later begin does not undo an issue.
		if stepNamed(rec.Layers[n.Layer]) < s {
			rec.Layers[n.Layer] = stepNames[s]
		}
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := o.write().WriteFile(path, append(data, '\n'), atomicfs.SecretMode); err != nil {
		return fmt.Errorf("the node is done, but recording it for finish --promote failed (re-run this phase): %w", err)
	}
	return nil
}

func readRecord(path string) (rec nodeRecord, found bool, err error) {
	data, err := infile.Read(path, recordKind)
	if errors.Is(err, fs.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, inputErr(path, err)
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.Layers == nil {
		return rec, false, fault.BadFile(path, "is not a CA rotation record: remove it and re-run the phases on its node")
	}
	return rec, true, nil
}

// PendingError says a rotation has not finished on every node it began on, or that no
// node recorded a phase at all (Nodes is empty).
type PendingError struct {
	Dir   string
	Nodes []string // "node2 (es2:/etc/elasticsearch): issue pending"
}

// Kind makes it bad input: the phases must run on the nodes named first.
func (e *PendingError) Kind() fault.Kind { return fault.Input }

func (e *PendingError) Error() string {
	if len(e.Nodes) == 0 {
		return e.Dir + ": no node recorded a phase of this rotation (it was begun without --es-config, or by an older escert): run begin, issue and finish with --es-config on every node (each is safe to re-run), or pass --allow-pending if every node has finished"
	}
	return fmt.Sprintf("%s: the rotation has not finished on %s: run those phases there first, or pass --allow-pending to retire the old CA anyway", e.Dir, strings.Join(e.Nodes, ", "))
}

// Pending returns a *PendingError unless every node that recorded a phase on the
// rotated layers has finished them. No rotation in progress is not its concern:
// Promote refuses that.
func Pending(o CAOptions) error {
	dir := filepath.Join(o.CADir, NextDir)
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	paths, err := filepath.Glob(filepath.Join(dir, recordPrefix+"*"+recordExt))
	if err != nil {
		return err
	}
	pending := &PendingError{Dir: dir}
	seen := 0
	for _, p := range paths {
		rec, _, err := readRecord(p)
		if err != nil {
			return err
		}
		least := stepFinish + 1
		for _, layer := range o.Layers {
			if s := stepNamed(rec.Layers[layer]); s > 0 && s < least {
				least = s
			}
		}
		switch {
		case least > stepFinish: // none of the rotated layers began there
		case least == stepFinish:
			seen++
		default:
			seen++
			pending.Nodes = append(pending.Nodes, rec.label()+": "+stepNames[least+1]+" pending")
		}
	}
	if seen > 0 && len(pending.Nodes) == 0 {
		return nil
	}
	slices.Sort(pending.Nodes)
	return pending
}

// removeRecords ends the rotation's state once the new CA is promoted.
func removeRecords(dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, recordPrefix+"*"+recordExt))
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return nil
}
