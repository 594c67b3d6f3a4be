package listeners

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// FuzzSocketInode feeds /proc/PID/fd link targets to socketInode, which must
// agree with strconv on what is a socket inode.
func FuzzSocketInode(f *testing.F) {
	for _, s := range []string{"socket:[12345]", "socket:[0]", "socket:[]", "socket:[12a]", "pipe:[123]", "/dev/null", "socket:[18446744073709551615]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, link []byte) {
		inode, ok := socketInode(link)
		digits, isSocket := bytes.CutPrefix(link, []byte("socket:["))
		digits, closed := bytes.CutSuffix(digits, []byte("]"))
		want, err := strconv.ParseUint(string(digits), 10, 64)
		wantOK := isSocket && closed && err == nil && !bytes.ContainsAny(digits, "+-_")
		if ok != wantOK || ok && inode != want {
			t.Fatalf("socketInode(%q) = %d, %v; want %d, %v", link, inode, ok, want, wantOK)
		}
	})
}

// FuzzCmdline feeds /proc/PID/cmdline contents to cmdline: the recorded line
// is capped and never splits a UTF-8 sequence it was given whole.
func FuzzCmdline(f *testing.F) {
	f.Add([]byte("nginx: master process /usr/sbin/nginx -g daemon on;\x00"))
	f.Add([]byte("/app/bin/app\x00--db-password\x00s3cret\x00--dsn=postgres://app:pw@db/app\x00"))
	f.Add([]byte("app\x00" + strings.Repeat("é", maxCmdline) + "\x00"))
	f.Add([]byte("a\x00b c\x00\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := cmdline(raw)
		if len(got) > maxCmdline+len("…") {
			t.Fatalf("cmdline of %d bytes", len(got))
		}
		if utf8.Valid(raw) && !utf8.ValidString(got) {
			t.Fatalf("cmdline(%q) = %q: not UTF-8", raw, got)
		}
	})
}

// FuzzParseInetDiag feeds inet_diag_msg payloads, as sock_diag dumps them,
// to parseInetDiag.
func FuzzParseInetDiag(f *testing.F) {
	f.Add(true, diagMsg(afInet, tcpListen, "127.0.0.1", 8080, 0, 3, 2, 1000, 4242, rtattr(8, 0)))
	f.Add(true, diagMsg(afInet6, tcpListen, "::", 443, 0, 0, 4096, 0, 7, rtattr(8, 0), rtattr(21, 1, 2, 3, 4, 5, 6, 7, 8), rtattr(inetDiagSKV6Only, 1)))
	f.Add(false, diagMsg(afInet6, 7, "::1", 5353, 0, 512, 768, 101, 11, rtattr(inetDiagSKV6Only|0x8000, 1)))
	f.Add(false, diagMsg(afInet, 1, "10.0.0.2", 40000, 53, 0, 0, 0, 12))
	f.Fuzz(func(t *testing.T, tcp bool, msg []byte) {
		protocol := "udp"
		if tcp {
			protocol = "tcp"
		}
		s, keep, err := parseInetDiag(protocol, msg)
		if err != nil {
			if err.Error() == "" || keep {
				t.Fatalf("error %q, keep %v", err, keep)
			}
			return
		}
		if keep && (s.Protocol != protocol || s.Address.Is4() != (s.Family == snapshot.IPv4) || !s.Address.IsValid()) {
			t.Fatalf("kept socket %+v", s)
		}
	})
}

// FuzzParseQueued feeds inet_diag_msg payloads of established sockets to
// the parsers of waiting connections: they never panic, and what they keep
// is a valid address on a listener's port.
func FuzzParseQueued(f *testing.F) {
	f.Add(queuedMsg(afInet, mustAddr("127.0.0.1"), 443, 0, tcpInfo(1200, 900)))
	f.Add(queuedMsg(afInet6, mustAddr("::ffff:127.0.0.1"), 443, 0, nil))
	f.Add(queuedMsg(afInet, mustAddr("10.0.0.2"), 443, 77, tcpInfo(0, 0)))
	f.Add(queuedMsg(afInet, mustAddr("10.0.0.2"), 443, 0, make([]byte, 30)))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, keep, err := parseQueuedCandidate(msg, map[uint16]bool{443: true})
		if err == nil && keep && (c.port != 443 || !c.local.IsValid() || len(c.id) != sizeofSockID) {
			t.Fatalf("kept %+v", c)
		}
		if _, ok, err := parseTCPIdle(msg); err != nil && ok {
			t.Fatalf("ok with error %v", err)
		}
	})
}
