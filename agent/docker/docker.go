// Package docker is the collector of the Docker engine's view: its networks
// and containers, with the ports they publish, read through the Engine API.
package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	agent.Register(snapshot.CollectorDocker, func() agent.Collector { return &Collector{Host: os.Getenv("DOCKER_HOST")} })
}

// DefaultSocket is where dockerd listens unless told otherwise, below Env.Root.
const DefaultSocket = "/var/run/docker.sock"

// daemonDirs are where a dockerd binary is looked for, below Env.Root, to
// tell "Docker is not installed" from "Docker is installed but not running".
var daemonDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"}

// Collector reads the Docker engine at Host (DOCKER_HOST form:
// unix:///path or tcp://host:port), or at Env.Root's /var/run/docker.sock
// when Host is empty. The API version is negotiated, down to Docker 20.10's
// 1.41. Env.NetNS does not apply: a unix socket is a file, not an address.
type Collector struct {
	Host string
}

// daemonName is the engine's program, looked for in daemonDirs.
const daemonName = "dockerd"

// Follows declares the news after which the engine is read again: its own
// container and network events.
func (*Collector) Follows() []agent.Source { return []agent.Source{agent.Docker} }

// Reads declares what the collector reads below the root: whether the
// engine's socket and program are there and whether systemd starts it.
// The engine itself tells of its changes through its events.
func (*Collector) Reads() []agent.Path {
	ps := []agent.Path{agent.File(DefaultSocket), agent.Folder(etcUnitDir, wantsSuffix), agent.File(systemdDir)}
	for _, d := range daemonDirs {
		ps = append(ps, agent.File(path.Join(d, daemonName)))
	}
	return ps
}

// Collect reads the networks and containers. Docker not installed at all
// (no DOCKER_HOST, no socket, no dockerd binary), or installed with
// docker.service and docker.socket disabled and not running, is an OK
// section marked absent: Docker is not in use here. Installed, enabled and
// not answering is an error naming the unit; any other failure to reach the
// engine is an error saying why.
func (c *Collector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	if env == nil {
		env = &agent.Env{}
	}
	host := c.Host
	if host == "" {
		// The socket's links resolve inside the root: Debian's /var/run is
		// a link to /run, which must not lead to this machine's own.
		socket, err := env.FS().Resolve(DefaultSocket)
		if err != nil {
			socket = env.FS().Real(DefaultSocket)
		}
		daemon := findDaemon(env)
		if _, err := env.FS().Lstat(DefaultSocket); errors.Is(err, os.ErrNotExist) {
			if daemon == "" {
				return &snapshot.Docker{Absent: fmt.Sprintf("no Docker engine on this host: DOCKER_HOST is not set, %s does not exist and no dockerd is installed in %s",
					socket, strings.Join(daemonDirs, ", "))}, nil
			}
			return notRunning(env, daemon, socket, "does not exist")
		}
		host = "unix://" + socket
		if err := dialCheck(ctx, host); err != nil {
			if daemon != "" && errors.Is(err, syscall.ECONNREFUSED) {
				return notRunning(env, daemon, socket, "accepts no connections (a stale socket)")
			}
			return nil, err
		}
	} else if err := dialCheck(ctx, host); err != nil {
		return nil, err
	}
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("DOCKER_HOST %q: %w", host, err)
	}
	defer cli.Close()
	return read(ctx, cli, host)
}

// findDaemon returns the path of an installed dockerd below the root, or "".
func findDaemon(env *agent.Env) string {
	for _, d := range daemonDirs {
		p := path.Join(d, daemonName)
		if fi, err := env.FS().Stat(p); err == nil && !fi.IsDir() {
			return env.FS().Real(p)
		}
	}
	return ""
}

// dialCheck connects to a unix socket once, to name the usual failures
// precisely (the client library words them all "cannot connect").
func dialCheck(ctx context.Context, host string) error {
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	switch {
	case err == nil:
		conn.Close()
		return nil
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("no Docker socket at %s (DOCKER_HOST=%s): dockerd is not running there; start it or correct DOCKER_HOST", path, host)
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return fmt.Errorf("permission denied on the Docker socket %s: run hostdrift as root or as a member of the socket's group (usually docker)", path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing accepts connections on the Docker socket %s: a stale socket, dockerd is not running: %w", path, err)
	}
	return fmt.Errorf("connect to the Docker socket %s: %w", path, err)
}

// pingShare is the part of the time left that the first request may take,
// so that a daemon that accepts and never answers is named as such before
// the collector's deadline ends the run.
const pingShare = 0.75

// read asks the engine for its version, networks and containers, and
// inspects the containers that are not running (only inspect shows the
// ports they will publish).
func read(ctx context.Context, cli *client.Client, host string) (*snapshot.Docker, error) {
	pingCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		pingCtx, cancel = context.WithTimeout(ctx, time.Duration(float64(time.Until(dl))*pingShare))
		defer cancel()
	}
	start := time.Now()
	if _, err := cli.Ping(pingCtx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if pingCtx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("the Docker engine at %s accepted the connection but did not answer within %s: dockerd is hung, or this is not a Docker socket", host, time.Since(start).Round(time.Millisecond))
		}
		return nil, fmt.Errorf("the Docker engine at %s: %w", host, err)
	}
	ver, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker version at %s: %w", host, err)
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Docker networks: %w", err)
	}
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("list Docker containers: %w", err)
	}
	var stopped []string
	for _, c := range ctrs.Items {
		if c.State != container.StateRunning && c.State != container.StatePaused && c.State != container.StateRestarting {
			stopped = append(stopped, c.ID)
		}
	}
	inspected, err := inspectAll(ctx, cli, stopped)
	if err != nil {
		return nil, err
	}
	d := convert(nets.Items, ctrs.Items, inspected)
	d.Engine = &snapshot.DockerEngine{Host: host, Version: ver.Version, APIVersion: cli.ClientVersion()}
	return d, nil
}

// inspectConcurrency bounds the inspect requests in flight.
const inspectConcurrency = 8

// inspectAll inspects the containers concurrently; one that vanished since
// the list is left out.
func inspectAll(ctx context.Context, cli *client.Client, ids []string) (map[string]container.InspectResponse, error) {
	type res struct {
		id  string
		c   container.InspectResponse
		err error
	}
	out := map[string]container.InspectResponse{}
	if len(ids) == 0 {
		return out, nil
	}
	jobs := make(chan string)
	results := make(chan res, len(ids)) // buffered: workers never block once the caller gave up
	for range min(inspectConcurrency, len(ids)) {
		go func() {
			for id := range jobs {
				r, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
				results <- res{id, r.Container, err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, id := range ids {
			select {
			case jobs <- id:
			case <-ctx.Done():
				return
			}
		}
	}()
	var firstErr error
	for range ids {
		var r res
		select {
		case r = <-results:
		case <-ctx.Done():
			return nil, fmt.Errorf("inspect Docker containers: %w", ctx.Err())
		}
		switch {
		case r.err == nil:
			out[r.id] = r.c
		case isNotFound(r.err):
		case firstErr == nil:
			firstErr = fmt.Errorf("inspect Docker container %s: %w", r.id, r.err)
		}
	}
	return out, firstErr
}

func isNotFound(err error) bool {
	var nf interface{ NotFound() }
	return errors.As(err, &nf) || strings.Contains(err.Error(), "No such container")
}
