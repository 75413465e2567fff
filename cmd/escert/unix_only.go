//go:build !unix

// Command escert is for Linux and other Unix systems: it keeps owners and modes,
// takes flock locks and renames over files Elasticsearch holds open, none of which
// Windows does the same way. Building it elsewhere stops here, with this line.
package main

var _ int = "escert builds for Linux and other Unix systems only (GOOS=linux, darwin, freebsd...)"
