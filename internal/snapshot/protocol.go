package snapshot

import "strings"

// ProtocolName normalises an IP protocol as rules and packets name it: the
// names iptables and nft print ("tcp", "icmpv6"), for numbers and aliases alike.
func ProtocolName(s string) string {
	s = strings.ToLower(s)
	switch s {
	case "6":
		return "tcp"
	case "17":
		return "udp"
	case "1":
		return "icmp"
	case "58", "ipv6-icmp", "icmp6":
		return "icmpv6"
	case "132":
		return "sctp"
	}
	return s
}
