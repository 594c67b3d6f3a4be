package rules_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// The fixtures under testdata/docker are snapshots of a real Docker 20.10
// engine in a network namespace (eth0 198.51.100.7/24, default route via
// 198.51.100.1): container web publishes 0.0.0.0:8080 and [::]:8080 to 80
// on the default bridge (172.17.0.2), api publishes 127.0.0.1:9000 on
// appnet (10.99.0.0/24), old was created with 0.0.0.0:7000 and never
// started. ufw.json is the same host after `ufw default deny incoming`,
// `ufw allow 22/tcp`, `ufw enable`.
func dockerFixture(t *testing.T, name string) *snapshot.Snapshot {
	t.Helper()
	f, err := os.Open("testdata/docker/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := snapshot.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dropToBridge inserts "-A OUTPUT -d 172.17.0.0/16 -j DROP" first in the
// filter table's OUTPUT chain, as the incident's UFW rules did in effect.
func dropToBridge(t *testing.T, s *snapshot.Snapshot) {
	t.Helper()
	out := s.Firewall.Table(snapshot.BackendIptablesNft, "ip", "filter").Chain("OUTPUT")
	drop := snapshot.Rule{Text: "-A OUTPUT -d 172.17.0.0/16 -j DROP", Verdict: snapshot.Verdict{Kind: snapshot.VerdictDrop},
		Matches: []snapshot.Match{{Field: "daddr", Values: []string{"172.17.0.0/16"}}}}
	out.Rules = append([]snapshot.Rule{drop}, out.Rules...)
	for i := range out.Rules {
		out.Rules[i].Position = i + 1
	}
}

// withoutDocker is a plain host: the Docker section marked absent.
func withoutDocker(t *testing.T) *snapshot.Snapshot {
	s := dockerFixture(t, "plain")
	s.Docker = &snapshot.Docker{Absent: "no Docker engine on this host: DOCKER_HOST is not set, /var/run/docker.sock does not exist and no dockerd is installed"}
	return s
}

// installedNotInUse: dockerd installed, its units disabled and not running.
func installedNotInUse(t *testing.T) *snapshot.Snapshot {
	s := dockerFixture(t, "plain")
	s.Docker = &snapshot.Docker{Installed: "/usr/sbin/dockerd",
		Absent: "Docker is installed but not in use: docker.service and docker.socket are disabled and not running (dockerd at /usr/sbin/dockerd; /var/run/docker.sock does not exist)"}
	return s
}

type dockerCase struct {
	name, src string
	snap      func(t *testing.T) *snapshot.Snapshot
	status    finding.Status
	want      []string
}

func runDockerCases(t *testing.T, cases []dockerCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := one(t, c.src, c.snap(t))
			if f.Status != c.status {
				t.Errorf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Explanation+" → "+f.Remediation, w) {
					t.Errorf("explanation lacks %q:\n%s\n→ %s", w, f.Explanation, f.Remediation)
				}
			}
		})
	}
}

func plain(t *testing.T) *snapshot.Snapshot { return dockerFixture(t, "plain") }

func plainDropping(t *testing.T) *snapshot.Snapshot {
	s := dockerFixture(t, "plain")
	dropToBridge(t, s)
	return s
}

func TestDockerNetwork(t *testing.T) {
	runDockerCases(t, []dockerCase{
		{"matches", `docker_network "app" {
  name     = "appnet"
  driver   = "bridge"
  subnet   = "10.99.0.0/24"
  internal = false
}`, plain, finding.Pass, []string{"bridge br-5588726794db"}},
		{"other subnet and internal", `docker_network "app" {
  name     = "appnet"
  subnet   = ["10.98.0.0/24"]
  internal = true
}`, plain, finding.Fail, []string{"its subnets are 10.99.0.0/24, not 10.98.0.0/24", "it is not internal"}},
		{"missing", `docker_network "app" { name = "backend" }`, plain, finding.Fail, []string{`no network named "backend" (networks: appnet, bridge, host, none)`}},
		{"no docker", `docker_network "app" { name = "appnet" }`, withoutDocker, finding.Fail, []string{"no Docker engine on this host", "install and start Docker"}},
		{"docker not in use", `docker_network "app" { name = "appnet" }`, installedNotInUse, finding.Fail, []string{"Docker is installed but not in use", "systemctl enable --now docker"}},
	})
}

func TestPublishedPort(t *testing.T) {
	runDockerCases(t, []dockerCase{
		{"loopback only", `published_port "api" {
  container = "api"
  port      = 9000
  address   = "127.0.0.1"
}`, plain, finding.Pass, []string{"127.0.0.1:9000 -> 9000/tcp", "served on the host by docker-proxy pid 17439 on 127.0.0.1:9000"}},
		{"every address", `published_port "web" {
  container = "web"
  port      = 8080
  address   = "127.0.0.1"
}`, plain, finding.Fail, []string{"publishes 0.0.0.0:8080 -> 80/tcp, [::]:8080 -> 80/tcp: bound on every address, not only 127.0.0.1", "-p 127.0.0.1:8080:80"}},
		{"not running", `published_port "old" {
  container = "old"
  port      = 7000
}`, plain, finding.Fail, []string{"would publish 0.0.0.0:7000 -> 7000/tcp but is created", "docker start old"}},
		{"other port", `published_port "web" {
  container = "web"
  port      = 8081
}`, plain, finding.Fail, []string{"does not publish host port tcp/8081"}},
		{"no container", `published_port "db" {
  container = "db"
  port      = 5432
}`, plain, finding.Fail, []string{`no container named "db" (containers: api, old, web)`}},
		{"no docker", `published_port "web" {
  container = "web"
  port      = 8080
}`, withoutDocker, finding.Fail, []string{"no Docker engine on this host"}},
	})
}

func TestReach(t *testing.T) {
	const dnat = `Docker's DNAT rule "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80" (chain DOCKER, table nat, iptables-nft) sends 198.51.100.7:8080 to 172.17.0.2:80 (container web)`
	const dropped = `is dropped: rule "-A OUTPUT -d 172.17.0.0/16 -j DROP" in chain OUTPUT (table filter, iptables-nft, rule 1)`
	const proxy = "docker-proxy (pid 17337) takes it and opens a second connection from the host to 172.17.0.2:80 (container web)"
	runDockerCases(t, []dockerCase{
		{"dnat open", `reach "web" { to = "198.51.100.7:8080" }`, plain, finding.Pass, []string{dnat, "is allowed"}},
		{"dnat dropped", `reach "web" { to = "198.51.100.7:8080" }`, plainDropping, finding.Fail, []string{dnat, dropped, "rewritten to 172.17.0.2:80", "accept rule for tcp port 80 "}},
		{"proxy open", `reach "web" { to = "127.0.0.1:8080" }`, plain, finding.Pass, []string{"no NAT rule rewrites 127.0.0.1:8080", proxy}},
		{"proxy dropped", `reach "web" { to = "127.0.0.1:8080" }`, plainDropping, finding.Fail, []string{proxy, "outbound tcp to 172.17.0.2:80 " + dropped}},
		{"loopback-published proxy", `reach "api" { to = "127.0.0.1:9000" }`, plainDropping, finding.Pass, []string{"docker-proxy (pid 17439)", "10.99.0.2:9000 (container api)"}},
		{"container open", `reach "web" {
  container = "web"
  port      = 80
}`, plain, finding.Pass, []string{"172.17.0.2 is container web", "is allowed"}},
		{"container dropped", `reach "web" {
  container = "web"
  port      = 80
}`, plainDropping, finding.Fail, []string{dropped}},
		{"expect deny", `reach "web" {
  to     = "127.0.0.1:8080"
  expect = "deny"
}`, plainDropping, finding.Pass, []string{proxy}},
		{"nothing listens", `reach "x" { to = "127.0.0.1:9999" }`, plain, finding.Fail, []string{"nothing listens on 127.0.0.1:9999/tcp and no NAT rule rewrote it"}},
		{"container not running", `reach "old" {
  container = "old"
  port      = 7000
}`, plain, finding.Fail, []string{"container old has no address the host can connect to (state created"}},
		{"to without docker", `reach "ssh" { to = "198.51.100.7:22" }`, withoutDocker, finding.Fail, []string{"nothing listens on 198.51.100.7:22/tcp"}},
		{"container without docker", `reach "web" {
  container = "web"
  port      = 80
}`, withoutDocker, finding.Fail, []string{"no Docker engine on this host"}},
	})
}

func TestReachDecodeErrors(t *testing.T) {
	for src, want := range map[string]string{
		`reach "x" {}`: "Missing destination",
		`reach "x" {
  to        = "127.0.0.1:80"
  container = "web"
}`: "to or container, not both",
		`reach "x" { to = "127.0.0.1" }`: "is not ADDR:PORT",
		`reach "x" {
  to   = "127.0.0.1:80"
  port = 80
}`: "port goes into to",
		`reach "x" { container = "web" }`: "port is required with container",
	} {
		if got := loadDiags(t, src); !strings.Contains(got, want) {
			t.Errorf("%s: diagnostics lack %q: %s", src, want, got)
		}
	}
}

func TestDockerFirewallBypass(t *testing.T) {
	runDockerCases(t, []dockerCase{
		{"ufw", `docker_firewall_bypass "x" {}`, func(t *testing.T) *snapshot.Snapshot { return dockerFixture(t, "ufw") }, finding.Fail,
			[]string{"port 8080 of container web is reachable from anywhere: Docker's DNAT sends it through FORWARD, around UFW's input rules", "DOCKER-USER", "iptables -I DOCKER-USER -i eth0 -p tcp -m conntrack --ctorigdstport 8080 -j DROP", "-p 127.0.0.1:8080:80"}},
		{"no host firewall", `docker_firewall_bypass "x" {}`, plain, finding.Pass, []string{"1 port(s) published on every address"}},
		{"no docker", `docker_firewall_bypass "x" {}`, withoutDocker, finding.Skip, []string{"no Docker engine on this host"}},
	})
}

func TestDockerSubnetOverlap(t *testing.T) {
	runDockerCases(t, []dockerCase{
		{"clear", `docker_subnet_overlap "x" {}`, plain, finding.Pass, []string{"2 Docker subnet(s)"}},
		{"vpn route", `docker_subnet_overlap "x" {}`, func(t *testing.T) *snapshot.Snapshot {
			s := plain(t)
			s.Firewall.Routes = append(s.Firewall.Routes, snapshot.Route{Dst: netip.MustParsePrefix("10.99.0.0/16"), Interface: "wg0"})
			return s
		}, finding.Fail, []string{"network appnet (10.99.0.0/24) overlaps the host's route to 10.99.0.0/16 on wg0"}},
		{"two networks", `docker_subnet_overlap "x" {}`, func(t *testing.T) *snapshot.Snapshot {
			s := plain(t)
			s.Docker.Networks = append(s.Docker.Networks, snapshot.DockerNetwork{Name: "wide", Driver: "bridge", Bridge: "br-wide",
				Subnets: []snapshot.DockerSubnet{{Subnet: netip.MustParsePrefix("10.0.0.0/8")}}})
			return s
		}, finding.Fail, []string{"networks appnet (10.99.0.0/24) and wide (10.0.0.0/8) overlap"}},
		{"no docker", `docker_subnet_overlap "x" {}`, withoutDocker, finding.Skip, []string{"no Docker engine on this host"}},
	})
}

func TestDockerStoppedPorts(t *testing.T) {
	runDockerCases(t, []dockerCase{
		{"created", `docker_stopped_ports "x" {}`, plain, finding.Fail, []string{"container old publishes 0.0.0.0:7000 -> 7000/tcp but is created"}},
		{"all running", `docker_stopped_ports "x" {}`, func(t *testing.T) *snapshot.Snapshot {
			s := plain(t)
			s.Docker.Containers = s.Docker.Containers[:1]
			return s
		}, finding.Pass, nil},
		{"no docker", `docker_stopped_ports "x" {}`, withoutDocker, finding.Skip, []string{"no Docker engine on this host"}},
	})
}
