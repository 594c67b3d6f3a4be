package bighost

import (
	"fmt"
	"net/netip"
)

// ListenerPort is the first port of each address's listeners.
const ListenerPort = 20000

// ConnPort is the first port of the listeners that connections go to:
// below the ephemeral range (32768 and up), which the clients use.
const ConnPort = 31000

// helperConns is how many connections one helper process holds: each is
// two file descriptors, and a process without CAP_SYS_RESOURCE cannot raise
// its hard RLIMIT_NOFILE (often 20,000 in containers, 524,288 on Debian).
const helperConns = 8000

// connsPerListener matches the nstest helper's: conns:ADDR:PORT:N spreads N
// over listeners of at most 5,000 on consecutive ports.
const connsPerListener = 5000

// ConnScaleMax is the largest scale whose established connections grow
// with it; above it the big host holds 1x's Conns. The connections are not
// the host's configuration but the load on it, and what they cost is the
// kernel's and ss's: ss -p maps sockets to processes through a fixed hash,
// quadratic in the sockets, and took minutes at 16x with 80,000
// connections beside 160,000 listeners, without saying anything more about
// hostdrift. Everything else (rules, listeners, set elements, names, jobs)
// grows with the scale.
const ConnScaleMax = 4

// ConnCount is the number of established connections at scale: Conns*scale
// up to ConnScaleMax, Conns above it.
func ConnCount(scale int) int {
	if scale > ConnScaleMax {
		return Conns
	}
	return scale * Conns
}

// ListenerAddr is the loopback address of the k-th block of 10,000
// listeners: 127.0.0.1, 127.0.0.2, ... (ports run out on one address).
func ListenerAddr(k int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + k)}) }

// SocketSpecs returns, for each helper process to start, its nstest Listen
// specs: Listeners*scale listeners (that accept and close, as servers do)
// in blocks of 10,000 a loopback address,
// then ConnCount(scale) established connections in groups a process can
// hold.
func SocketSpecs(scale int) [][]string {
	var out [][]string
	for k := range scale {
		out = append(out, []string{fmt.Sprintf("serve:%s:%d:%d", ListenerAddr(k), ListenerPort, Listeners)})
	}
	port := ConnPort
	for left := ConnCount(scale); left > 0; left -= helperConns {
		n := min(left, helperConns)
		out = append(out, []string{fmt.Sprintf("conns:127.0.0.1:%d:%d", port, n)})
		port += (n + connsPerListener - 1) / connsPerListener
	}
	return out
}

// ConnListeners is the number of listeners SocketSpecs adds to take the
// connections.
func ConnListeners(scale int) int {
	n := 0
	for left := ConnCount(scale); left > 0; left -= helperConns {
		n += (min(left, helperConns) + connsPerListener - 1) / connsPerListener
	}
	return n
}
