package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
)

// meter runs a contender's processes and keeps the largest peak RSS among them: a
// peer made of many processes never holds more than one of them at a time (or two,
// in cfssl's pipe), so its footprint is its largest child's.
type meter struct {
	peak int64 // bytes
}

// run runs cmd to its end. Exit codes other than 0 and those in ok are errors that
// carry the tail of its stderr.
func (m *meter) run(cmd *exec.Cmd, ok ...int) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return m.failed(cmd, err, &stderr, ok)
	}
	m.note(cmd)
	return nil
}

// pipe runs from | to, from's stdout feeding to's stdin, as a shell pipeline would.
func (m *meter) pipe(from, to *exec.Cmd) error {
	var errFrom, errTo bytes.Buffer
	from.Stderr, to.Stderr = &errFrom, &errTo
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pipe %s to %s: %w", from.Path, to.Path, err)
	}
	from.Stdout, to.Stdin = w, r
	errF := from.Start()
	errT := to.Start()
	// The children hold their own ends now; closing ours lets each see the other's
	// exit (EOF, or EPIPE) instead of waiting on us.
	r.Close()
	w.Close()
	if errF == nil {
		errF = from.Wait()
	}
	if errT == nil {
		errT = to.Wait()
	}
	if errF != nil {
		return m.failed(from, errF, &errFrom, nil)
	}
	if errT != nil {
		return m.failed(to, errT, &errTo, nil)
	}
	m.note(from)
	m.note(to)
	return nil
}

// note records a finished process's peak RSS (rusage's ru_maxrss, in KiB on Linux).
func (m *meter) note(cmd *exec.Cmd) {
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.peak = max(m.peak, ru.Maxrss*1024)
	}
}

// failed turns a process's failure into an error, unless its exit code is one the
// caller accepts.
func (m *meter) failed(cmd *exec.Cmd, err error, stderr *bytes.Buffer, ok []int) error {
	var exit *exec.ExitError
	if errors.As(err, &exit) && slices.Contains(ok, exit.ExitCode()) {
		m.note(cmd)
		return nil
	}
	msg := strings.TrimSpace(stderr.String())
	if len(msg) > 2000 {
		msg = "..." + msg[len(msg)-2000:]
	}
	return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, msg)
}
