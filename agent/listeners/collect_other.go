//go:build !linux

package listeners

import (
	"context"
	"runtime"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func (c *Collector) collect(context.Context, *agent.Env) (*snapshot.Listeners, error) {
	return nil, agent.Skip("listening sockets are only read on Linux, not %s", runtime.GOOS)
}

// ReadFingerprint is only implemented on Linux.
func ReadFingerprint(context.Context, string) (Fingerprint, error) {
	return Fingerprint{}, agent.Skip("listening sockets are only read on Linux, not %s", runtime.GOOS)
}
