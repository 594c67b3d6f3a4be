package firewall

import "testing"

// Rulesets that ask about the first packet's headers and about the peer's
// history and the load: what hostdrift decides for the first packet of a
// fresh peer under normal load. Global rate limits have bursts larger than
// the probes that reach them, and so do counts of connections through a rule
// (nft's ct count outside a meter): the test's burst of probes is not the
// normal load those assume. History kept per peer (recent, hashlimit,
// connlimit, meters) sees fresh peers only: outbound probes to the world's
// own address meet none.

// firstPacket4 matches on fragments, tcp flags, recent lists, connlimit,
// hashlimit and limit.
const firstPacket4 = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:limit-reject - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -f -j DROP
-A INPUT -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW -j DROP
-A INPUT -p tcp -m tcp --tcp-flags ALL NONE -j DROP
-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j DROP
-A INPUT -p ah -m ah --ahspi 1:100 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --set --name SSH --mask 255.255.255.255 --rsource
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --update --seconds 60 --hitcount 4 --name SSH --mask 255.255.255.255 --rsource -j limit-reject
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 80 -m connlimit --connlimit-above 2 --connlimit-mask 32 --connlimit-saddr -j REJECT --reject-with tcp-reset
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
-A INPUT -p udp -m udp --dport 53 -m hashlimit --hashlimit-above 20/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name dns -j DROP
-A INPUT -p udp -m udp --dport 53 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 443 -m hashlimit --hashlimit-upto 50/sec --hashlimit-burst 10 --hashlimit-mode srcip,dstport --hashlimit-name web -j ACCEPT
-A INPUT -p udp -m multiport --dports 5000:5010 -m limit --limit 100/sec --limit-burst 2000 -j ACCEPT
-A INPUT -m recent --rcheck --seconds 3600 --name BANNED --mask 255.255.255.255 --rsource -j DROP
-A INPUT -p udp -m udp --dport 123 -m recent --set --name BANNED --mask 255.255.255.255 --rsource -j DROP
-A INPUT -p tcp -m tcp --dport 8080 -m recent ! --rcheck --name SEEN --mask 255.255.255.255 --rsource -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 9000 -m connlimit --connlimit-upto 1 --connlimit-mask 32 --connlimit-saddr -j ACCEPT
-A INPUT -p tcp -m tcp --dport 9050 -m recent --set --name L --mask 255.255.255.255 --rsource
-A INPUT -p tcp -m tcp --dport 9050 -m recent --rcheck --name L --mask 255.255.255.255 --rsource -j ACCEPT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i docker0 -j ACCEPT
-A FORWARD -f -j DROP
-A FORWARD -o docker0 -p tcp -m tcp --dport 80 -m connlimit --connlimit-above 1 --connlimit-mask 32 --connlimit-saddr -j DROP
-A FORWARD -o docker0 -p tcp -m multiport --dports 80,443 -j ACCEPT
-A FORWARD -o docker0 -p udp -m udp --dport 53 -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name fwd -j ACCEPT
-A OUTPUT -p tcp -m tcp --dport 25 -m connlimit --connlimit-above 0 --connlimit-mask 32 --connlimit-daddr -j REJECT --reject-with tcp-reset
-A OUTPUT -d 10.201.0.0/16 -p udp -m udp --dport 9050 -m recent --rcheck --name OUT --mask 255.255.255.255 --rdest -j DROP
-A OUTPUT -d 10.201.0.0/16 -p udp -m udp --dport 9050 -m recent --set --name OUT --mask 255.255.255.255 --rdest -j ACCEPT
-A limit-reject -m limit --limit 3/min -j LOG --log-prefix "[LIMIT BLOCK] "
-A limit-reject -j REJECT --reject-with icmp-port-unreachable
COMMIT
`

// firstPacket6 is the IPv6 side, in UFW's shape for routing headers (its
// before6.rules) and limits, with every extension-header match ip6tables has.
const firstPacket6 = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:limit-reject - [0:0]
-A INPUT -m rt --rt-type 0 -j DROP
-A INPUT -m rt ! --rt-type 0 -j DROP
-A INPUT -m frag --fragmore -j DROP
-A INPUT -m hbh --hbh-len 0 -j DROP
-A INPUT -m dst --dst-len 0 -j DROP
-A INPUT -m ah --ahspi 1:100 -j DROP
-A INPUT -m ipv6header --header hop-by-hop,ipv6-route --soft -j DROP
-A INPUT -p tcp -m tcp --dport 5432 -m ipv6header ! --header ipv6-frag,ah --soft -j ACCEPT
-A INPUT -p tcp -m tcp --dport 3306 -m ipv6header --header protocol -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p ipv6-icmp -j ACCEPT
-A INPUT -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW -j DROP
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --set --name DEFAULT --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 --name DEFAULT --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -j limit-reject
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 80 -m connlimit --connlimit-above 3 --connlimit-mask 128 --connlimit-saddr -j DROP
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
-A INPUT -p udp -m udp --dport 53 -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name dns6 -j ACCEPT
-A INPUT -p udp -m udp --dport 5000:5010 -m limit --limit 100/sec --limit-burst 2000 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 443 --syn -j ACCEPT
-A FORWARD -m rt --rt-type 0 -j DROP
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i docker0 -j ACCEPT
-A FORWARD -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A FORWARD -o docker0 -p udp -m udp --dport 53 -m recent --rcheck --name DEFAULT --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -j DROP
-A FORWARD -o docker0 -p udp -m udp --dport 53 -j ACCEPT
-A OUTPUT -m rt --rt-type 0 -j DROP
-A OUTPUT -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
-A limit-reject -m limit --limit 3/min -j LOG --log-prefix "[LIMIT BLOCK] "
-A limit-reject -j REJECT --reject-with icmp6-port-unreachable
COMMIT
`

// firstPacketIptables loads both families with the backend's restore tools.
func firstPacketIptables(backend string) ruleset {
	return ruleset{
		name:    "first packet iptables-" + backend,
		ports:   commonPorts,
		forward: true,
		v6:      true,
		history: true,
		load: func(t *testing.T, tp *topo) {
			restore(t, tp.host, "iptables-"+backend+"-restore", firstPacket4)
			restore(t, tp.host, "ip6tables-"+backend+"-restore", firstPacket6)
		},
	}
}

// firstPacketNft asks nft's questions: extension headers and IP options,
// tcp flags, limits, ct count, meters and sets packets fill.
const firstPacketNft = `table inet first {
	set seen {
		type ipv4_addr
		flags dynamic,timeout
		timeout 1m
	}
	set seen6 {
		type ipv6_addr
		flags dynamic,timeout
		timeout 1m
	}
	set blocked {
		type ipv4_addr
		flags dynamic
		elements = { 10.200.0.129, 10.201.0.7 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept
		rt type 0 drop
		exthdr frag exists drop
		frag more-fragments 1 drop
		ip option rr exists drop
		ip option lsrr exists drop
		exthdr hbh missing tcp dport 5432 accept
		tcp flags & (fin | syn | rst | ack) != syn ct state new drop
		ip saddr @blocked drop
		ip saddr @seen tcp dport 8080 drop
		ip6 saddr @seen6 tcp dport 8080 drop
		tcp dport 2222 update @seen { ip saddr }
		tcp dport 2222 update @seen6 { ip6 saddr }
		tcp dport 2222 ct state new meter ssh4 { ip saddr limit rate over 3/minute burst 2 packets } drop
		tcp dport 2222 ct state new meter ssh6 { ip6 saddr limit rate over 3/minute burst 2 packets } drop
		tcp dport { 22, 2222, 8080 } accept
		tcp dport 80 ct count over 1000 reject with tcp reset
		tcp dport 80 accept
		udp dport 53 limit rate 1000/second burst 2000 packets accept
		udp dport 53 drop
		tcp dport 443 limit rate over 1/second burst 2000 packets drop
		tcp dport 443 accept
		udp dport 5000-5010 add @seen { ip saddr } accept
		udp dport 5000-5010 add @seen6 { ip6 saddr } accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "docker0" accept
		rt type 0 drop
		oifname "docker0" tcp dport { 80, 443 } ct count over 1000 drop
		oifname "docker0" tcp dport { 80, 443 } accept
		oifname "docker0" udp dport 53 meter dns6 { ip6 saddr limit rate 5/second } accept
		oifname "docker0" udp dport 53 meter dns4 { ip saddr limit rate 5/second } accept
	}
	chain output {
		type filter hook output priority filter; policy accept;
		rt type 0 drop
		ip option ra exists drop
		tcp dport 25 reject with tcp reset
		udp dport 9050 ct count 0 accept
		udp dport 9050 drop
	}
}
`

var firstPacketNftables = ruleset{
	name:    "first packet nftables",
	ports:   commonPorts,
	forward: true,
	v6:      true,
	history: true,
	load: func(t *testing.T, tp *topo) {
		nftLoad(t, tp.host, firstPacketNft)
	},
}
