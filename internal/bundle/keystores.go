package bundle

import (
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/eskeystore"
)

// keystores seals the node keystores of one build under one key, derived once
// (eskeystore.Sealer says why that is safe). The derivation runs on a goroutine of
// its own while the workers issue certificates, and no worker waits for it: a
// keystore finished before the key is kept and sealed by that goroutine once the key
// is there. (Waiting made both workers idle for the derivation's 85 ms while it ran
// on one core.)
type keystores struct {
	out  Sink
	rand io.Reader

	mu      sync.Mutex
	ready   bool
	key     *eskeystore.Sealer
	err     error // the derivation's, or the first pending keystore's
	pending []pendingKeystore
	done    chan struct{}
}

type pendingKeystore struct {
	instance, path string
	ks             *eskeystore.Keystore
}

// startKeystores starts deriving the key when the build has nodes (need).
func startKeystores(need bool, opts Options, out Sink) *keystores {
	k := &keystores{out: out, rand: opts.Rand, done: make(chan struct{})}
	if !need {
		k.ready = true
		close(k.done)
		return k
	}
	go k.derive(opts)
	return k
}

func (k *keystores) derive(opts Options) {
	defer close(k.done)
	key, err := func() (s *eskeystore.Sealer, err error) {
		// On a goroutine of its own: a panic must become the build's error (see
		// PanicError), not a crash leaving the staging directory behind.
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Where: "deriving the key", Value: r, Stack: debug.Stack()}
			}
		}()
		return eskeystore.NewSealer(opts.KeystorePassword, opts.KeystoreVersion, opts.Rand)
	}()
	if err != nil {
		err = fmt.Errorf("elasticsearch.keystore: %w", err)
	}
	k.mu.Lock()
	k.ready, k.key, k.err = true, key, err
	pending := k.pending
	k.pending = nil
	k.mu.Unlock()
	for _, p := range pending {
		if err := k.write(p); err != nil {
			k.mu.Lock()
			if k.err == nil {
				k.err = fmt.Errorf("instance %q: %w", p.instance, err)
			}
			k.mu.Unlock()
			return
		}
	}
}

// seal writes instance's keystore at path, now or, when the key is not derived yet,
// as soon as it is.
func (k *keystores) seal(instance, path string, ks *eskeystore.Keystore) error {
	p := pendingKeystore{instance: instance, path: path, ks: ks}
	k.mu.Lock()
	if !k.ready {
		k.pending = append(k.pending, p)
		k.mu.Unlock()
		return nil
	}
	k.mu.Unlock()
	return k.write(p)
}

// write seals one keystore once the key is derived; its errors do not name the
// instance, which its caller does.
func (k *keystores) write(p pendingKeystore) error {
	k.mu.Lock()
	key, err := k.key, k.err
	k.mu.Unlock()
	if err != nil {
		return err
	}
	data, err := p.ks.Seal(key, k.rand)
	if err != nil {
		return fmt.Errorf("elasticsearch.keystore: %w", err)
	}
	return k.out.Add(atomicfs.File{Path: p.path, Mode: atomicfs.SecretMode, Data: data})
}

// finish waits until every keystore is written, wipes the key and returns the
// derivation's error or that of the first keystore sealed late. Calling it again
// returns the same.
func (k *keystores) finish() error {
	<-k.done
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		k.key.Clear()
	}
	return k.err
}
