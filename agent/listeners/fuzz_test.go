package listeners

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// FuzzParseProcNet feeds text to the /proc/net/{tcp,tcp6,udp,udp6} parser,
// as each of the four files. Every socket it returns, written back as a
// procfs line, must parse to the same socket.
func FuzzParseProcNet(f *testing.F) {
	for i, text := range []string{procTCP, procTCP6, procUDP, procUDP6} {
		f.Add(uint8(i), text)
	}
	f.Add(uint8(0), "  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:1B58 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1\n")
	f.Add(uint8(3), "header\n\n \t \n   1: 00000000000000000000000001000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 x\n")
	files := []struct {
		protocol string
		family   snapshot.Family
	}{{"tcp", snapshot.IPv4}, {"tcp", snapshot.IPv6}, {"udp", snapshot.IPv4}, {"udp", snapshot.IPv6}}
	f.Fuzz(func(t *testing.T, which uint8, text string) {
		file := files[int(which)%len(files)]
		socks, err := parseProcNet(strings.NewReader(text), file.protocol, file.family)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		var b strings.Builder
		b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
		for i, s := range socks {
			if s.Protocol != file.protocol || s.Family != file.family || s.Address.Is4() != (file.family == snapshot.IPv4) {
				t.Fatalf("socket %d of a %s %s file: %+v", i, file.protocol, file.family, s)
			}
			b.WriteString(procNetLine(i, s))
		}
		again, err := parseProcNet(strings.NewReader(b.String()), file.protocol, file.family)
		if err != nil || !reflect.DeepEqual(again, socks) {
			t.Fatalf("sockets written back and parsed again differ (%v):\n%+v\n%+v\n%s", err, socks, again, b.String())
		}
	})
}

// procNetLine writes a socket as the kernel prints it in /proc/net: the
// address as 32-bit words in host byte order, hex ports and queues.
func procNetLine(sl int, s snapshot.Socket) string {
	var addr strings.Builder
	raw := s.Address.AsSlice()
	for i := 0; i < len(raw); i += 4 {
		fmt.Fprintf(&addr, "%08X", binary.NativeEndian.Uint32(raw[i:i+4]))
	}
	zero := strings.Repeat("0", addr.Len())
	state := "07"
	if s.Protocol == "tcp" {
		state = "0A"
	}
	return fmt.Sprintf("%4d: %s:%04X %s:0000 %s 00000000:%08X 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0\n",
		sl, addr.String(), s.Port, zero, state, s.AcceptQueue, s.UID, s.Inode)
}

// FuzzParseCgroup feeds /proc/PID/cgroup text to parseCgroup: the unit it
// finds is a service or scope, and the container ID is 64 hex digits.
func FuzzParseCgroup(f *testing.F) {
	const id = "3f5e1c0b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
	for _, s := range []string{
		"0::/system.slice/nginx.service\n",
		"0::/user.slice/user-1000.slice/user@1000.service/init.scope\n",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-" + id + ".scope\n",
		"0::/kubepods-besteffort-pod1234.slice:cri-containerd:" + id + "\n",
		"0::/machine.slice/libpod-" + id + ".scope/container\n",
		"12:pids:/system.slice/sshd.service\n11:memory:/docker/" + id + "\n1:name=systemd:/system.slice/sshd.service\n",
		"1:name=systemd:/system.slice/cron.service\n0::/\n",
		"nonsense\n\n:\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		unit, container := parseCgroup(content)
		if unit != "" && !strings.HasSuffix(unit, ".service") && !strings.HasSuffix(unit, ".scope") {
			t.Fatalf("unit %q is neither a service nor a scope", unit)
		}
		if container != "" && !isContainerID(container) {
			t.Fatalf("container ID %q", container)
		}
	})
}
