package clientconfig

import (
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KibanaKeySettings are the kibana.yml settings that must hold a random string of at
// least KeyLength characters, identical on every Kibana instance of a deployment.
var KibanaKeySettings = []string{
	"xpack.security.encryptionKey",              // session cookies
	"xpack.encryptedSavedObjects.encryptionKey", // saved objects: alerting rules, connectors
	"xpack.reporting.encryptionKey",             // queued report jobs
}

// KeyLength is the length of a generated Kibana encryption key: Kibana requires at
// least 32 characters; 32 from a 62-character alphabet carry about 190 bits.
const KeyLength = 32

// keyAlphabet avoids characters YAML or a shell would need quoted.
const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

type kibanaKey struct{ setting, value string }

// kibanaKeys returns one key per KibanaKeySettings entry: the one in keep when it is
// long enough, else a new one read from rand, in setting order.
func kibanaKeys(rand io.Reader, keep map[string]string) (keys []kibanaKey, kept []string, err error) {
	for _, setting := range KibanaKeySettings {
		if v := keep[setting]; len(v) >= KeyLength {
			keys = append(keys, kibanaKey{setting, v})
			kept = append(kept, setting)
			continue
		}
		v, err := randomKey(rand)
		if err != nil {
			return nil, nil, fmt.Errorf("generate %s: %w", setting, err)
		}
		keys = append(keys, kibanaKey{setting, v})
	}
	return keys, kept, nil
}

func randomKey(rand io.Reader) (string, error) {
	if rand == nil {
		return "", fmt.Errorf("no random source")
	}
	out := make([]byte, 0, KeyLength)
	buf := make([]byte, 64)
	for len(out) < KeyLength {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return "", err
		}
		for _, c := range buf {
			// Rejection sampling keeps every character equally likely.
			if int(c) < 256-256%len(keyAlphabet) && len(out) < KeyLength {
				out = append(out, keyAlphabet[int(c)%len(keyAlphabet)])
			}
		}
	}
	return string(out), nil
}

// KibanaKeys reads the encryption keys of an existing kibana.yml, flat
// ("xpack.security.encryptionKey: ...") or nested, so that regenerating the file keeps
// them: a new xpack.encryptedSavedObjects.encryptionKey would leave every encrypted
// saved object unreadable. Settings it does not find are absent from the map.
func KibanaKeys(data []byte) (map[string]string, error) {
	flat, err := flatSettings(data)
	if err != nil {
		return nil, err
	}
	keys := map[string]string{}
	for _, setting := range KibanaKeySettings {
		if v, ok := flat[setting].(string); ok && v != "" {
			keys[setting] = v
		}
	}
	return keys, nil
}

// KibanaHosts reads elasticsearch.hosts of an existing kibana.yml, so that files
// regenerated from it keep the hosts it was written for.
func KibanaHosts(data []byte) ([]string, error) {
	flat, err := flatSettings(data)
	if err != nil {
		return nil, err
	}
	var hosts []string
	switch v := flat["elasticsearch.hosts"].(type) {
	case string:
		hosts = []string{v}
	case []any:
		for _, h := range v {
			if s, ok := h.(string); ok {
				hosts = append(hosts, s)
			}
		}
	}
	return hosts, nil
}

// flatSettings reads a YAML settings file, flat or nested, into dotted names.
func flatSettings(data []byte) (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	flat := map[string]any{}
	flatten("", doc, flat)
	return flat, nil
}

func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, child := range m {
		if prefix != "" {
			k = prefix + "." + k
		}
		flatten(k, child, out)
	}
}

// yamlString quotes s as a YAML double-quoted scalar (JSON's string syntax, which
// YAML shares for the characters used here).
func yamlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func yamlList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = yamlString(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
