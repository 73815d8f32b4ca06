package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hostname, _ := os.Hostname()
	code := Main(ctx, Env{
		Args:      os.Args[1:],
		LookupEnv: os.LookupEnv,
		Hostname:  hostname,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
	})
	stop()
	os.Exit(code)
}
