package snapshot

import (
	"net/netip"
	"reflect"
	"testing"
)

// TestDockerObjectsIgnoreIDs: recreating a container (new id, new address)
// and a network (new id) with the same configuration is no change; a new
// published port is.
func TestDockerObjectsIgnoreIDs(t *testing.T) {
	build := func(netID, ctrID, ip string, hostPort uint16) *Docker {
		return &Docker{
			Engine: &DockerEngine{Host: "unix:///var/run/docker.sock", Version: "20.10.24", APIVersion: "1.41"},
			Networks: []DockerNetwork{{
				Name: "appnet", ID: netID, Driver: "bridge", Scope: "local", Bridge: "br-" + netID[:12],
				Subnets: []DockerSubnet{{Subnet: netip.MustParsePrefix("10.99.0.0/24"), Gateway: netip.MustParseAddr("10.99.0.1")}},
				Labels:  map[string]string{"team": "web"},
			}},
			Containers: []DockerContainer{{
				Name: "web", ID: ctrID, Image: "nginx:1.25", State: "running", NetworkMode: "appnet",
				Networks: []DockerEndpoint{{Network: "appnet", IPv4: netip.MustParseAddr(ip)}},
				Ports:    []PublishedPort{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: hostPort, ContainerPort: 80, Protocol: "tcp"}},
			}},
		}
	}
	a := build("1111111111111111aaaa", "c0ffee01", "10.99.0.2", 8080).Objects()
	b := build("2222222222222222bbbb", "deadbeef", "10.99.0.7", 8080).Objects()
	if !reflect.DeepEqual(a, b) {
		t.Errorf("objects differ though only ids and addresses changed:\n%v\n%v", a, b)
	}
	if len(a) != 2 || a[0].ID != "appnet" || a[0].Kind != "network" || a[1].ID != "web" || a[1].Kind != "container" || a[0].Area != "docker" {
		t.Fatalf("objects = %+v", a)
	}
	if got := a[0].Fields["subnets"]; got != "10.99.0.0/24 gw 10.99.0.1" {
		t.Errorf("subnets field = %q", got)
	}
	if got := a[1].Fields["ports"]; got != "127.0.0.1:8080 -> 80/tcp" {
		t.Errorf("ports field = %q", got)
	}
	c := build("1111111111111111aaaa", "c0ffee01", "10.99.0.2", 9090).Objects()
	if reflect.DeepEqual(a[1], c[1]) {
		t.Error("a changed published port does not show in the container's fields")
	}
}
