package netfilter

// Leg is one connection of a path: the packet and what the firewall does
// to it. Via names who opens it ("" for the host's own, "docker-proxy"
// for the proxy's second connection to a container).
type Leg struct {
	Packet Packet
	Result Result
	Via    string
}

// Connection is the way a connection the host opens really goes, as the
// reach check follows it: its legs, the verdict of the last one, notes on
// the path (DNAT, docker-proxy, the container reached), and, when the path
// is open but nothing takes the connection, why (Nobody).
type Connection struct {
	Legs    []Leg
	Verdict Verdict
	Notes   []string
	Nobody  string
}
