package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/hostdrift/hostdrift/agent"
)

// dockerSocket is where dockerd listens unless told otherwise, below
// Env.Root (agent/docker's DefaultSocket).
const dockerSocket = "/var/run/docker.sock"

// Reconnection backoff of the Docker events stream and the system bus:
// doubled from the first to the last after each failure, reset once a
// connection works.
const (
	reconnectFirst = time.Second
	reconnectMax   = time.Minute
)

// dockerSource follows the Docker engine's events API.
type dockerSource struct {
	cli  *client.Client
	host string
	// collectors are those that follow agent.Docker: Docker's own, and
	// those of the proxies' listeners and of the rules Docker writes.
	collectors []string
}

func (s *dockerSource) Name() string { return "docker" }

// dockerHost is the engine to watch: Options.DockerHost, else DOCKER_HOST,
// else the default socket below the root; "" when none of these exists.
func dockerHost(opts *Options) string {
	if opts.DockerHost != "" {
		return opts.DockerHost
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	if _, err := os.Lstat(opts.Env.FS().Real(dockerSocket)); err == nil {
		return "unix://" + opts.Env.FS().Real(dockerSocket)
	}
	return ""
}

func newDocker(ctx context.Context, opts *Options) (source, error) {
	all := agent.Following(agent.Docker)
	cols := only(opts.Collectors, all)
	if len(cols) == 0 {
		return source{}, nil
	}
	host := dockerHost(opts)
	if host == "" {
		return source{}, nil // no Docker here: nothing to watch
	}
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return source{}, fmt.Errorf("docker: %s: %w: containers and networks are read again only when another event asks", host, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return source{}, fmt.Errorf("docker: the engine at %s does not answer (%w): containers and networks are read again only when another event asks; start dockerd and restart hostdrift serve", host, err)
	}
	return source{Source: &dockerSource{cli: cli, host: host, collectors: all}, collectors: cols}, nil
}

// dockerFilter asks the engine for the container and network changes that
// move ports, rules and listeners, and leaves out the noisy rest (exec,
// health checks, attach).
func dockerFilter() client.Filters {
	return make(client.Filters).
		Add("type", string(events.ContainerEventType), string(events.NetworkEventType)).
		Add("event", "create", "start", "restart", "stop", "die", "kill", "pause", "unpause", "rename", "update",
			"destroy", "connect", "disconnect", "remove")
}

// Run follows the events stream and opens it again, with a growing pause,
// when it breaks; each break and each reconnection is an event, since
// changes may have been missed in between.
func (s *dockerSource) Run(ctx context.Context, out chan<- Event) error {
	defer s.cli.Close()
	backoff := reconnectFirst
	connected := true
	for {
		worked, err := s.follow(ctx, out, !connected)
		if ctx.Err() != nil {
			return nil
		}
		if worked {
			backoff = reconnectFirst
		}
		if connected || worked {
			if !emit(ctx, out, Event{Source: "docker", Collectors: s.collectors,
				Detail: fmt.Sprintf("the events stream of %s broke (%v): reconnecting", s.host, err)}) {
				return nil
			}
		}
		connected = false
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, reconnectMax)
	}
}

// follow reads one events stream until it breaks. It reports whether the
// stream delivered anything (or came back, when reconnecting), and why it
// ended.
func (s *dockerSource) follow(ctx context.Context, out chan<- Event, reconnecting bool) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if reconnecting {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.cli.Ping(pctx, client.PingOptions{})
		pcancel()
		if err != nil {
			return false, err
		}
		if !emit(ctx, out, Event{Source: "docker", Collectors: s.collectors,
			Detail: "the events stream of " + s.host + " is back: changes made meanwhile are unknown"}) {
			return true, ctx.Err()
		}
	}
	res := s.cli.Events(sctx, client.EventsListOptions{Filters: dockerFilter()})
	worked := reconnecting
	for {
		select {
		case m, ok := <-res.Messages:
			if !ok {
				return worked, errors.New("stream closed")
			}
			worked = true
			if !emit(ctx, out, Event{Source: "docker", Collectors: s.collectors, Detail: dockerDetail(m)}) {
				return worked, ctx.Err()
			}
		case err := <-res.Err:
			if err == nil {
				err = errors.New("stream closed")
			}
			return worked, err
		}
	}
}

// dockerDetail says what one engine event changed: "container web
// (nginx:1.27) start", "network backend connect".
func dockerDetail(m events.Message) string {
	name := m.Actor.Attributes["name"]
	if name == "" {
		name = m.Actor.ID
		if len(name) > 12 {
			name = name[:12]
		}
	}
	d := string(m.Type) + " " + name
	if img := m.Actor.Attributes["image"]; img != "" && m.Type == events.ContainerEventType {
		d += " (" + img + ")"
	}
	d += " " + string(m.Action)
	if m.Type == events.NetworkEventType {
		if c := m.Actor.Attributes["container"]; c != "" {
			if len(c) > 12 {
				c = c[:12]
			}
			d += " container " + c
		}
	}
	return d
}
