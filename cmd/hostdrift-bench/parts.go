package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/hostdrift/hostdrift/internal/bench/bighost"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// host is one big host being built and measured at one scale.
type host struct {
	ctx   context.Context
	scale int
	sc    *scope
	ns    *nstest.NS
	root  string
	// env is added to hostdrift's environment (DOCKER_HOST).
	env []string
	// sizes records what was built, for the report.
	sizes map[string]int
	// dnsServer is the test server's address, once the dns part is built.
	dnsServer string
}

// part is one area of the big host: what it builds (undone by the host's
// scope), which collectors it feeds, and the checks it adds to the policy.
type part struct {
	name string
	// needs are the collectors the part feeds; when one is not registered
	// in this build of hostdrift the part is skipped, with a note.
	needs []string
	// optional parts are skipped, with a note, when what they need is
	// missing here (no Docker engine); the others fail the run.
	optional bool
	build    func(h *host) error
	checks   func(h *host) []block
}

// parts are the big host's areas, in build order. The sockets come before
// the firewall: every packet of the connections they establish would
// otherwise walk the firewall's long linear chains (at 16x, some 56,000
// rules a packet on loopback, which made 8,000 connections take over a
// minute).
var parts = []part{
	{name: "sockets", needs: []string{"listeners"}, build: buildSockets, checks: socketChecks},
	{name: "firewall", needs: []string{"firewall"}, build: buildFirewall, checks: firewallChecks},
	{name: "dns", needs: []string{"dns"}, build: buildDNS, checks: dnsChecks},
	{name: "cron", needs: []string{"cron"}, build: buildCron, checks: cronChecks},
	{name: "timers", needs: []string{"timers"}, build: buildTimers, checks: timerChecks},
	{name: "docker", needs: []string{"docker"}, optional: true, build: buildDocker, checks: dockerChecks},
}

// load feeds text to a restore command inside the namespace.
func (h *host) load(text string, argv ...string) error {
	cmd := exec.CommandContext(h.ctx, "ip", append([]string{"netns", "exec", h.ns.Name}, argv...)...)
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, tail(string(out), 2000))
	}
	return nil
}

// hostAddr is the namespace's own address, on one end of a veth pair (the
// dummy driver is not in every kernel, containers' included): ingress
// checks need an address of the host to reach, and egress checks a source.
// It lies in the kube-proxy-like chains' source ranges, so some of them
// drop what the host sends (see firewallChecks).
const hostAddr = "10.0.0.1/8"

func buildFirewall(h *host) error {
	h.ns.Run(h.sc, "ip", "link", "add", "bench0", "type", "veth", "peer", "name", "bench1")
	h.ns.Run(h.sc, "ip", "addr", "add", hostAddr, "dev", "bench0")
	h.ns.Run(h.sc, "ip", "link", "set", "bench0", "up")
	h.ns.Run(h.sc, "ip", "link", "set", "bench1", "up")
	nstest.RequireCommand(h.sc, "iptables-nft-restore")
	nstest.RequireCommand(h.sc, "iptables-legacy-restore")
	nstest.RequireCommand(h.sc, "nft")
	// Undone before the helpers close their connections (the scope undoes
	// last first): every FIN would otherwise walk the long chains, which
	// made a 16x teardown take many minutes.
	h.sc.Cleanup(func() {
		for _, argv := range [][]string{{"nft", "flush", "ruleset"}, {"iptables-legacy", "-F"}, {"iptables-legacy", "-X"}} {
			if out, err := h.ns.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "hostdrift-bench: teardown: %s: %v: %s\n", strings.Join(argv, " "), err, out)
			}
		}
	})
	if err := h.load(bighost.IptablesNft(h.scale), "iptables-nft-restore"); err != nil {
		return err
	}
	if err := h.load(bighost.IptablesLegacy(h.scale), "iptables-legacy-restore"); err != nil {
		return err
	}
	if err := h.load(bighost.Nft(h.scale), "nft", "-f", "-"); err != nil {
		return err
	}
	h.sizes["iptables_nft_rules"] = h.scale * bighost.IptablesRules
	h.sizes["iptables_legacy_rules"] = h.scale * bighost.LegacyRules
	h.sizes["nft_rules"] = h.scale * bighost.NftRules
	h.sizes["nft_set_elements"] = h.scale * bighost.NftElements
	return nil
}

func buildSockets(h *host) error {
	for _, specs := range bighost.SocketSpecs(h.scale) {
		if h.ctx.Err() != nil {
			return h.ctx.Err()
		}
		h.ns.Listen(h.sc, specs...)
	}
	h.sizes["listeners"] = h.scale*bighost.Listeners + bighost.ConnListeners(h.scale)
	h.sizes["established_connections"] = bighost.ConnCount(h.scale)
	return nil
}

func buildDNS(h *host) error {
	srv := nstest.Dnsmasq(h.sc, "127.0.0.1", bighost.HostsZone(h.scale))
	h.dnsServer = srv.Addr
	h.sizes["dns_names"] = h.scale * bighost.Names
	return nil
}

func buildCron(h *host) error {
	h.sizes["cron_entries"] = h.scale * bighost.CronEntries
	return bighost.WriteCron(h.root, h.scale)
}

func buildTimers(h *host) error {
	h.sizes["timers"] = h.scale * bighost.Timers
	return bighost.WriteTimers(h.root, h.scale)
}

// Docker's size does not scale: 50 networks and 100 containers, half of
// them running.
const (
	dockerNetworks   = 50
	dockerContainers = 100
)

func dockerNetwork(i int) string { return fmt.Sprintf("bench-net-%02d", i) }

// dockerSubnet is given explicitly: Docker's default pools hold only 31
// networks.
func dockerSubnet(i int) string { return fmt.Sprintf("10.99.%d.0/24", i) }

func buildDocker(h *host) error {
	e := dockertest.Start(h.sc)
	image := e.Busybox(h.sc)
	label := "--label=" + dockertest.Label
	for i := range dockerNetworks {
		e.Docker(h.sc, "network", "create", label, "--subnet", dockerSubnet(i), dockerNetwork(i))
	}
	// Containers start a few at a time: dockerd does the work, and two
	// cores are shared.
	var wg sync.WaitGroup
	errs := make(chan error, dockerContainers)
	sem := make(chan struct{}, 4)
	for i := range dockerContainers {
		args := []string{"create"}
		if i%2 == 0 {
			args = []string{"run", "-d"}
		}
		args = append(args, label, "--name", fmt.Sprintf("bench-c-%03d", i), "--network", dockerNetwork(i%dockerNetworks))
		if i%5 == 0 {
			args = append(args, "-p", "127.0.0.1:"+strconv.Itoa(18000+i)+":80")
		}
		args = append(args, image, "sleep", "86400")
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if out, err := e.Command(args...).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	h.env = append(h.env, "DOCKER_HOST="+e.Host)
	h.sizes["docker_networks"] = dockerNetworks
	h.sizes["docker_containers"] = dockerContainers
	return nil
}
