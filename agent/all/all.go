// Package all registers every collector hostdrift ships; import it for its
// side effect.
package all

import (
	_ "github.com/hostdrift/hostdrift/agent/accounts"
	_ "github.com/hostdrift/hostdrift/agent/dns"
	_ "github.com/hostdrift/hostdrift/agent/docker"
	_ "github.com/hostdrift/hostdrift/agent/files"
	_ "github.com/hostdrift/hostdrift/agent/firewall"
	_ "github.com/hostdrift/hostdrift/agent/host"
	_ "github.com/hostdrift/hostdrift/agent/jobs"
	_ "github.com/hostdrift/hostdrift/agent/listeners"
	_ "github.com/hostdrift/hostdrift/agent/mounts"
	_ "github.com/hostdrift/hostdrift/agent/packages"
	_ "github.com/hostdrift/hostdrift/agent/probe"
	_ "github.com/hostdrift/hostdrift/agent/processes"
	_ "github.com/hostdrift/hostdrift/agent/sysctl"
)
