package listeners

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// The texts below are as a little-endian kernel prints them.
func requireLittleEndian(t *testing.T) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("procfs fixtures are written for little-endian hosts")
	}
}

const procTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1065 1 0000000016798a9d 100 0 0 10 0
   1: 0100007F:1B58 00000000:0000 0A 00000000:00000003 00:00000000 00000000   109        0 52311 1 0000000011111111 100 0 0 10 0
   2: 020200C0:81B6 507100CB:01BB 01 00000000:00000000 03:00001163 00000000     0        0 0 3 0000000088418f32
   3: 0100007F:1B58 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000022222222 20 4 30 10 -1
`

const procTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 7002 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7003 1 0000000000000000 100 0 0 10 0
   3: 000080FE00000000FF005452120034AB:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7004 1 0000000000000000 100 0 0 10 0
   4: 00000000000000000000000001000000:20FB 00000000000000000000000001000000:C350 01 00000000:00000000 00:00000000 00000000  1000        0 7005 1 0000000000000000 20 4 30 10 -1
`

const procUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  118: 0100007F:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 8001 2 0000000000000000 0
  200: 0F02000A:9C40 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 8002 2 0000000000000000 0
  201: 00000000:0044 00000000:0000 07 00000000:00000200 00:00000000 00000000     0        0 8003 2 0000000000000000 0
`

const procUDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   12: 00000000000000000000000001000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9001 2 0000000000000000 0
`

func TestParseProcNet(t *testing.T) {
	requireLittleEndian(t)
	addr := netip.MustParseAddr
	tests := []struct {
		name     string
		text     string
		protocol string
		family   snapshot.Family
		want     []snapshot.Socket
	}{
		{
			name: "tcp", text: procTCP, protocol: "tcp", family: snapshot.IPv4,
			want: []snapshot.Socket{
				{Protocol: "tcp", Family: snapshot.IPv4, Address: addr("0.0.0.0"), Port: 2024, Inode: 1065},
				{Protocol: "tcp", Family: snapshot.IPv4, Address: addr("127.0.0.1"), Port: 7000, UID: 109, Inode: 52311, AcceptQueue: 3},
			},
		},
		{
			name: "tcp6 word order", text: procTCP6, protocol: "tcp", family: snapshot.IPv6,
			want: []snapshot.Socket{
				{Protocol: "tcp", Family: snapshot.IPv6, Address: addr("::"), Port: 9000, Inode: 7001},
				{Protocol: "tcp", Family: snapshot.IPv6, Address: addr("::1"), Port: 8443, UID: 1000, Inode: 7002},
				{Protocol: "tcp", Family: snapshot.IPv6, Address: addr("::ffff:127.0.0.1"), Port: 22, Inode: 7003},
				{Protocol: "tcp", Family: snapshot.IPv6, Address: addr("fe80::5254:ff:ab34:12"), Port: 80, Inode: 7004},
			},
		},
		{
			name: "udp drops connected", text: procUDP, protocol: "udp", family: snapshot.IPv4,
			want: []snapshot.Socket{
				{Protocol: "udp", Family: snapshot.IPv4, Address: addr("127.0.0.1"), Port: 5353, UID: 101, Inode: 8001},
				{Protocol: "udp", Family: snapshot.IPv4, Address: addr("0.0.0.0"), Port: 68, Inode: 8003},
			},
		},
		{
			name: "udp6", text: procUDP6, protocol: "udp", family: snapshot.IPv6,
			want: []snapshot.Socket{
				{Protocol: "udp", Family: snapshot.IPv6, Address: addr("::1"), Port: 5353, Inode: 9001},
			},
		},
		{name: "header only", text: strings.SplitAfter(procTCP, "\n")[0], protocol: "tcp", family: snapshot.IPv4},
		{name: "empty", text: "", protocol: "udp", family: snapshot.IPv6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcNet(strings.NewReader(tt.text), tt.protocol, tt.family)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d sockets, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("socket %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseProcNetErrors(t *testing.T) {
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tests := []struct {
		name, line, family, err string
	}{
		{"few fields", "0: 0100007F:1B58 00000000:0000 0A", "ipv4", "4 fields"},
		{"bad state", "0: 0100007F:1B58 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000 0 0 1", "ipv4", "state"},
		{"short address", "0: 7F:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1", "ipv4", "8 hex digits"},
		{"v4 address in tcp6", "0: 0100007F:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1", "ipv6", "32 hex digits"},
		{"no port", "0: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1", "ipv4", "ADDR:PORT"},
		{"bad inode", "0: 0100007F:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x1", "ipv4", "inode"},
		{"bad queues", "0: 0100007F:1B58 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1", "ipv4", "tx:rx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseProcNet(strings.NewReader(header+tt.line+"\n"), "tcp", snapshot.Family(tt.family))
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("err = %v, want one about line 2 containing %q", err, tt.err)
			}
		})
	}
}
