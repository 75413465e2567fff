//go:build unix

// Command escert secures a self-managed Elasticsearch cluster. See `escert --help`.
package main

import (
	"os"

	"github.com/escert/escert/internal/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr)) }
