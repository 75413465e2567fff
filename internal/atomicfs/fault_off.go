//go:build !escertfault

package atomicfs

// faultPoint marks a place where a crash must leave the config directory loadable.
// Only test builds (-tags escertfault) can crash there; this build does nothing.
func faultPoint() {}
