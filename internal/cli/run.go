package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// interruptedError is the cause of a run stopped by a signal.
type interruptedError struct{ sig os.Signal }

func (e *interruptedError) Error() string { return "interrupted by " + signalName(e.sig) }

func signalName(s os.Signal) string {
	if n, ok := s.(syscall.Signal); ok {
		switch n {
		case syscall.SIGTERM:
			return "SIGTERM"
		case syscall.SIGINT:
			return "SIGINT"
		case syscall.SIGHUP:
			return "SIGHUP"
		}
	}
	return s.String()
}

// RunContext is the context of one run: cancelled by SIGTERM, SIGINT or
// SIGHUP (so collectors stop and nothing half-done is written) and, when
// timeout is positive, at the global deadline. Its cause says which.
func RunContext(timeout time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		select {
		case s := <-sigs:
			cancel(&interruptedError{s})
		case <-ctx.Done():
		}
	}()
	stopTimer := func() {}
	if timeout > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeoutCause(ctx, timeout, fmt.Errorf("the run's --timeout of %s expired", timeout))
		stopTimer = c
	}
	return ctx, func() {
		signal.Stop(sigs)
		stopTimer()
		cancel(nil)
	}
}

// Interrupted reports whether a signal stopped the run: then nothing is
// written, and the previous report stays as it was.
func Interrupted(ctx context.Context) (string, bool) {
	var ie *interruptedError
	if errors.As(context.Cause(ctx), &ie) {
		return ie.Error(), true
	}
	return "", false
}
