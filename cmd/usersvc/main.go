// Command usersvc is the user-management service: registration, OAuth2
// password-grant login issuing JWTs, and self-service account management.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Stamped at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := runWithStreams(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// report prints run's error, if any, to stderr and returns the exit
// status: 0, 2 for a command used wrongly (its usage is in the error), 1
// for any other failure.
func report(err error, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintln(stderr, "usersvc:", err)
	}
	return exitCode(err)
}
