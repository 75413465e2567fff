package realtest

import (
	_ "embed"
	"fmt"
	"testing"
)

// getJS and getPy are the Node and Python HTTPS clients; see their headers.
var (
	//go:embed scripts/get.js
	getJS []byte
	//go:embed scripts/get.py
	getPy []byte
)

// NodeHTTPSGet sends GET url with Node's https module (the CA file as the only trust,
// the host name verified, basic auth as user) and returns the body, or an error with
// the status or Node's error. The password reaches Node through the environment.
func NodeHTTPSGet(t testing.TB, url, caFile, user, password string) (string, error) {
	t.Helper()
	node := Require(t, "node")
	script := writeFile(t, "get.js", getJS)
	return httpsGet(node, "node https.get", []string{script, url, absPath(t, caFile), user}, password)
}

// PythonHTTPSGet is NodeHTTPSGet with Python's urllib and ssl in strict mode.
func PythonHTTPSGet(t testing.TB, url, caFile, user, password string) (string, error) {
	t.Helper()
	python := pythonInterpreter(t)
	script := writeFile(t, "get.py", getPy)
	return httpsGet(python, "python urllib", []string{"-I", script, url, absPath(t, caFile), user}, password)
}

func httpsGet(program, name string, args []string, password string) (string, error) {
	res, err := run(program, args, []string{"ESCERT_PASSWORD=" + password})
	if err != nil {
		return "", err
	}
	if res.code != 0 {
		return res.stdout, fmt.Errorf("%s: %s", name, res.message())
	}
	return res.stdout, nil
}
