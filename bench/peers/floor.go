package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/p12"
)

// variant is one way of running escert bootstrap, with what its crypto floor counts.
type variant struct {
	name     string
	flags    []string
	rsa      bool // RSA-2048 keys and signatures instead of ECDSA P-256
	keystore int  // the elasticsearch.keystore format version it writes
}

// variants are escert's three runs: the defaults, the keystore format of 8.13 (whose
// derivation is 21 times cheaper) and RSA-2048 keys. The formats come from
// eskeystore, so the floor follows the code.
func variants() ([]*variant, error) {
	v813, err := eskeystore.VersionFor("8.13")
	if err != nil {
		return nil, fmt.Errorf("keystore format of 8.13: %w", err)
	}
	return []*variant{
		{name: "escert defaults", keystore: eskeystore.DefaultVersion},
		{name: fmt.Sprintf("escert --es-version 8.13 (format %d)", v813), flags: []string{"--es-version", "8.13"}, keystore: v813},
		{name: "escert RSA-2048", flags: []string{"--key-type", "rsa", "--key-size", "2048"}, rsa: true, keystore: eskeystore.DefaultVersion},
	}, nil
}

// work is what a bootstrap of n nodes cannot avoid computing: a key and a signature
// per certificate (two per node and the two CAs' own), the derivations of a PKCS#12
// file per node certificate, and one keystore derivation per bootstrap (every node's
// keystore shares its key).
type work struct {
	certs, p12s, keystores int
}

func workOf(nodes int) work {
	return work{certs: 2*nodes + 2, p12s: 2 * nodes, keystores: 1}
}

// units are the CPU times of the floor's operations, each the median of several
// timings on one thread.
type units struct {
	ecdsaCert, rsaCert, p12File time.Duration
	// ecdsaCheck and rsaCheck are the verification of a CA signature that
	// crypto/x509.CreateCertificate makes after every signature (a guard against
	// faulty signers that callers cannot turn off): part of signing a certificate
	// with Go's standard library, so of the floor, and printed on its own.
	ecdsaCheck, rsaCheck time.Duration
	keystore             map[int]time.Duration // by format version
}

// floor is the CPU time of v's crypto for a bootstrap of n nodes. The operations are
// independent, so the work's cost is its counts times the unit costs: timing the
// units, rather than 2,002 RSA keys several times over, keeps the floor from loading
// the shared machine for minutes.
func (u units) floor(v *variant, n int) time.Duration {
	w := workOf(n)
	cert := u.ecdsaCert
	if v.rsa {
		cert = u.rsaCert
	}
	return time.Duration(w.certs)*(cert+u.check(v)) + time.Duration(w.p12s)*u.p12File + time.Duration(w.keystores)*u.keystore[v.keystore]
}

// checks is the part of v's floor for n nodes that is x509's verification of its own
// signatures.
func (u units) checks(v *variant, n int) time.Duration {
	return time.Duration(workOf(n).certs) * u.check(v)
}

func (u units) check(v *variant) time.Duration {
	if v.rsa {
		return u.rsaCheck
	}
	return u.ecdsaCheck
}

// sink keeps the compiler from dropping work whose result is unused.
var sink byte

// measureUnits times each of the floor's operations runs times, in batches, on one
// locked OS thread, counting that thread's CPU time: the floor is CPU seconds, which
// the other workers on the machine change less than they change wall time.
func measureUnits(runs int, versions []int) (units, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	caEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return units{}, fmt.Errorf("floor: CA key: %w", err)
	}
	caRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return units{}, fmt.Errorf("floor: CA key: %w", err)
	}
	tbs := make([]byte, 600) // about a leaf's to-be-signed part
	digest := sha256.Sum256(tbs)
	salt20, salt64 := make([]byte, 20), make([]byte, 64)
	ecSig, err := ecdsa.SignASN1(rand.Reader, caEC, digest[:])
	if err != nil {
		return units{}, fmt.Errorf("floor: %w", err)
	}
	rsaSig, err := rsa.SignPKCS1v15(rand.Reader, caRSA, crypto.SHA256, digest[:])
	if err != nil {
		return units{}, fmt.Errorf("floor: %w", err)
	}

	type op struct {
		batch int
		do    func() error
		times []float64 // seconds per operation, one per run
		out   func(time.Duration)
	}
	u := units{keystore: map[int]time.Duration{}}
	ops := []*op{
		{batch: 400, out: func(d time.Duration) { u.ecdsaCert = d }, do: func() error {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return err
			}
			d := sha256.Sum256(tbs)
			sig, err := ecdsa.SignASN1(rand.Reader, caEC, d[:])
			sink ^= sig[0] ^ k.D.Bytes()[0]
			return err
		}},
		{batch: 12, out: func(d time.Duration) { u.rsaCert = d }, do: func() error {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return err
			}
			d := sha256.Sum256(tbs)
			sig, err := rsa.SignPKCS1v15(rand.Reader, caRSA, crypto.SHA256, d[:])
			sink ^= sig[0] ^ byte(k.E)
			return err
		}},
		{batch: 400, out: func(d time.Duration) { u.ecdsaCheck = d }, do: func() error {
			d := sha256.Sum256(tbs)
			if !ecdsa.VerifyASN1(&caEC.PublicKey, d[:], ecSig) {
				return errors.New("ECDSA signature does not verify")
			}
			return nil
		}},
		{batch: 400, out: func(d time.Duration) { u.rsaCheck = d }, do: func() error {
			d := sha256.Sum256(tbs)
			return rsa.VerifyPKCS1v15(&caRSA.PublicKey, crypto.SHA256, d[:], rsaSig)
		}},
		{batch: 30, out: func(d time.Duration) { u.p12File = d }, do: func() error {
			// The shrouded key's PBES2 encryption key.
			key, err := pbkdf2.Key(sha256.New, "a-p12-password-of-escert", salt20, p12.Iterations, 32)
			if err != nil {
				return err
			}
			// The MAC key: RFC 7292 appendix B hashes D||S||P once, then its own
			// 32-byte digest again until p12.Iterations hashes are done. It is measured
			// as exactly that, p12.Iterations SHA-256 hashes of 32 bytes (the first
			// hash's longer input is a rounding error).
			h := sha256.Sum256(key)
			for i := 1; i < p12.Iterations; i++ {
				h = sha256.Sum256(h[:])
			}
			sink ^= h[0]
			return nil
		}},
	}
	for _, v := range versions {
		if _, dup := u.keystore[v]; dup {
			continue
		}
		u.keystore[v] = 0
		ops = append(ops, &op{batch: 2, out: func(d time.Duration) { u.keystore[v] = d }, do: func() error {
			// elasticsearch.keystore's key: PBKDF2-HMAC-SHA512 over the empty password
			// (Elasticsearch's default) and a 64-byte salt, once per bootstrap.
			key, err := pbkdf2.Key(sha512.New, "", salt64, eskeystore.Iterations(v), eskeystore.KeyLen(v))
			if err == nil {
				sink ^= key[0]
			}
			return err
		}})
	}

	// Each run times every operation once, so a noisy moment hits all of them.
	for range runs {
		for _, o := range ops {
			start, err := threadCPU()
			if err != nil {
				return units{}, err
			}
			for range o.batch {
				if err := o.do(); err != nil {
					return units{}, fmt.Errorf("floor: %w", err)
				}
			}
			end, err := threadCPU()
			if err != nil {
				return units{}, err
			}
			o.times = append(o.times, (end-start).Seconds()/float64(o.batch))
		}
	}
	for _, o := range ops {
		o.out(time.Duration(median(o.times) * float64(time.Second)))
	}
	return u, nil
}

// rusageThread is Linux's RUSAGE_THREAD, which package syscall does not name.
const rusageThread = 1

// threadCPU returns the CPU time (user and system) the calling OS thread has used.
func threadCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, fmt.Errorf("getrusage(RUSAGE_THREAD): %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
