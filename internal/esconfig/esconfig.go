// Package esconfig reads elasticsearch.yml the way Elasticsearch does, as flat dotted
// settings whether the file nests them or not, and edits the one block of it that
// escert manages without touching a byte outside that block.
package esconfig

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// BlockBegin and BlockEnd mark the settings escert manages inside elasticsearch.yml,
// the way Elasticsearch's auto-configuration marks its own block, so a later run can
// replace the block instead of appending a second copy.
const (
	BlockBegin = "#----------------------- BEGIN ESCERT SECURITY CONFIGURATION -----------------------"
	BlockEnd   = "#----------------------- END ESCERT SECURITY CONFIGURATION -------------------------"
)

// Setting is one flattened setting: "xpack.security.enabled" whether the file wrote it
// as a dotted key or as nested maps.
type Setting struct {
	Key    string
	Value  string   // scalar value; empty for lists
	Values []string // list values (e.g. certificate_authorities)
	Line   int      // 1-based line of the key
	// Top is the line of the top-level key this setting sits under: Line itself for a
	// dotted key, the parent's line for nested YAML ("xpack.security.http.ssl:").
	Top int
}

// Settings maps a flattened key to its setting.
type Settings map[string]Setting

// Get returns a scalar setting's value.
func (s Settings) Get(key string) (string, bool) {
	v, ok := s[key]
	return v.Value, ok
}

// List returns a setting's values: the list, or the scalar as a one-element list.
// Elasticsearch also accepts a comma-separated scalar for list settings.
func (s Settings) List(key string) []string {
	v, ok := s[key]
	if !ok {
		return nil
	}
	if v.Values != nil {
		return v.Values
	}
	var out []string
	for _, part := range strings.Split(v.Value, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Keys returns the keys in sorted order.
func (s Settings) Keys() []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Parse flattens elasticsearch.yml. A key set twice is an error, as in Elasticsearch.
func Parse(data []byte) (Settings, error) {
	out := Settings{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return out, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return out, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping of settings")
	}
	return out, flatten(out, "", 0, root)
}

func flatten(out Settings, prefix string, top int, node *yaml.Node) error {
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		full := key.Value
		if prefix != "" {
			full = prefix + "." + key.Value
		}
		keyTop := top
		if prefix == "" {
			keyTop = key.Line
		}
		switch value.Kind {
		case yaml.MappingNode:
			if err := flatten(out, full, keyTop, value); err != nil {
				return err
			}
			continue
		case yaml.AliasNode:
			return fmt.Errorf("line %d: %s: YAML aliases are not supported in elasticsearch.yml", key.Line, full)
		}
		s := Setting{Key: full, Line: key.Line, Top: keyTop}
		if value.Kind == yaml.SequenceNode {
			s.Values = []string{}
			for _, item := range value.Content {
				s.Values = append(s.Values, item.Value)
			}
		} else {
			s.Value = value.Value
		}
		if prev, dup := out[full]; dup {
			return fmt.Errorf("line %d: %s is already set on line %d", key.Line, full, prev.Line)
		}
		out[full] = s
	}
	return nil
}

// Block locates escert's block: the byte offsets of the BEGIN line's start and just
// past the END line's newline. ok is false when there is no block; a BEGIN without an
// END, or two blocks, is an error, since replacing either would lose settings.
func Block(data []byte) (start, end int, ok bool, err error) {
	begin := bytes.Index(data, []byte(BlockBegin))
	if begin < 0 {
		if bytes.Contains(data, []byte(BlockEnd)) {
			return 0, 0, false, errors.New("escert's END marker has no BEGIN marker: restore the BEGIN line or remove the END line")
		}
		return 0, 0, false, nil
	}
	if begin > 0 && data[begin-1] != '\n' {
		return 0, 0, false, errors.New("escert's BEGIN marker is not at the start of a line")
	}
	rel := bytes.Index(data[begin:], []byte(BlockEnd))
	if rel < 0 {
		return 0, 0, false, errors.New("escert's BEGIN marker has no END marker: restore the END line")
	}
	end = begin + rel + len(BlockEnd)
	if end < len(data) && data[end] == '\n' {
		end++
	}
	if bytes.Contains(data[end:], []byte(BlockBegin)) {
		return 0, 0, false, errors.New("elasticsearch.yml has two escert blocks: remove one")
	}
	return begin, end, true, nil
}

// ReplaceBlock puts block (which carries its own markers and ends with a newline) in
// place of the existing escert block, or appends it after one blank line. Every byte
// outside the block is kept.
func ReplaceBlock(data []byte, block string) ([]byte, error) {
	start, end, ok, err := Block(data)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if ok {
		out.Write(data[:start])
		out.WriteString(block)
		out.Write(data[end:])
		return out.Bytes(), nil
	}
	out.Write(data)
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		out.WriteByte('\n')
	}
	if len(data) > 0 {
		out.WriteByte('\n')
	}
	out.WriteString(block)
	return out.Bytes(), nil
}

// Outside returns the file with escert's block cut out, for finding settings the block
// would conflict with.
func Outside(data []byte) ([]byte, error) {
	start, end, ok, err := Block(data)
	if err != nil || !ok {
		return data, err
	}
	return append(append([]byte{}, data[:start]...), data[end:]...), nil
}
