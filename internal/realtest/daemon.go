package realtest

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A JVM start costs about half a second of CPU, more than the handshake itself, so all
// JSSE client and load requests of a test process go to one long-lived TLSPeer daemon
// (see daemon() in TLSPeer.java). Each request still builds its own SSLContext from its
// own files, so requests are as independent as separate JVMs. The daemon exits when the
// test process does (its stdin closes); if it dies earlier, the next request starts a
// new one.

var (
	daemonMu sync.Mutex
	current  *javaDaemon
)

type javaDaemon struct {
	stdin  io.WriteCloser
	stderr *lockedBuffer

	mu      sync.Mutex
	next    uint64
	pending map[string]chan result
	dead    error // set once the process has gone
}

// javaRequest runs one "client" or "load" request with the given properties.
func javaRequest(t testing.TB, mode string, props map[string]string) (result, error) {
	t.Helper()
	java, classDir := tlsPeer(t)
	conf := writeProperties(t, props)
	d, err := runningDaemon(java, classDir)
	if err != nil {
		return result{}, err
	}
	return d.call(mode, conf)
}

// runningDaemon returns the running daemon, starting one if needed.
func runningDaemon(java, classDir string) (*javaDaemon, error) {
	daemonMu.Lock()
	defer daemonMu.Unlock()
	if current != nil {
		current.mu.Lock()
		dead := current.dead
		current.mu.Unlock()
		if dead == nil {
			return current, nil
		}
	}
	cmd := exec.Command(java, javaArgs(classDir, "daemon")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &javaDaemon{stdin: stdin, stderr: &lockedBuffer{}, pending: map[string]chan result{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start java TLSPeer daemon: %w", err)
	}
	go d.readReplies(cmd, stdout)
	current = d
	return d, nil
}

// readReplies dispatches "<id> <code> <message>" lines until the daemon exits, then
// fails whatever is still pending.
func (d *javaDaemon) readReplies(cmd *exec.Cmd, stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		id, rest, _ := strings.Cut(sc.Text(), " ")
		codeText, msg, _ := strings.Cut(rest, " ")
		code, err := strconv.Atoi(codeText)
		if err != nil {
			continue
		}
		res := result{code: code}
		if code == 0 {
			res.stdout = msg
		} else {
			res.stderr = msg
		}
		d.mu.Lock()
		ch := d.pending[id]
		delete(d.pending, id)
		d.mu.Unlock()
		if ch != nil {
			ch <- res
		}
	}
	_ = cmd.Wait()
	d.mu.Lock()
	d.dead = fmt.Errorf("java TLSPeer daemon exited (%v): %s", cmd.ProcessState, strings.TrimSpace(d.stderr.String()))
	for id, ch := range d.pending {
		close(ch)
		delete(d.pending, id)
	}
	d.mu.Unlock()
}

func (d *javaDaemon) call(mode, conf string) (result, error) {
	d.mu.Lock()
	if d.dead != nil {
		d.mu.Unlock()
		return result{}, d.dead
	}
	d.next++
	id := strconv.FormatUint(d.next, 10)
	ch := make(chan result, 1)
	d.pending[id] = ch
	// Written under the lock so concurrent requests never interleave their lines.
	_, err := fmt.Fprintf(d.stdin, "%s %s %s\n", id, mode, conf)
	d.mu.Unlock()
	if err != nil {
		return result{}, fmt.Errorf("send request to java TLSPeer daemon: %w", err)
	}
	select {
	case res, ok := <-ch:
		if !ok {
			d.mu.Lock()
			defer d.mu.Unlock()
			return result{}, d.dead
		}
		return res, nil
	case <-time.After(commandTimeout):
		d.mu.Lock()
		delete(d.pending, id)
		d.mu.Unlock()
		return result{}, fmt.Errorf("java TLSPeer %s timed out after %v", mode, commandTimeout)
	}
}
