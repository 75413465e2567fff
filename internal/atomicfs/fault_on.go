//go:build escertfault

package atomicfs

import (
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

// faultPoint kills the process with SIGKILL at the Nth call when ESCERT_FAULT_AT=N, so
// crash-safety tests can stop a real `escert install` between any two steps. Only
// binaries built with -tags escertfault contain this.
var faultCalls atomic.Int64

func faultPoint() {
	at, err := strconv.ParseInt(os.Getenv("ESCERT_FAULT_AT"), 10, 64)
	if err != nil || at <= 0 {
		return
	}
	if faultCalls.Add(1) == at {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}
