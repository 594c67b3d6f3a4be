package firewall

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// endlessSave is iptables-save output that never ends: a parser that
// buffered it, or did not stop at MaxRules, would never return.
type endlessSave struct {
	n   int
	buf []byte
}

func (e *endlessSave) Read(p []byte) (int, error) {
	if len(e.buf) == 0 {
		if e.n == 0 {
			e.buf = []byte("*filter\n:INPUT ACCEPT [0:0]\n")
		} else {
			e.buf = fmt.Appendf(nil, "-A INPUT -s 10.%d.%d.%d/32 -p tcp -m tcp --dport 80 -j ACCEPT\n", e.n>>16&255, e.n>>8&255, e.n&255)
		}
		e.n++
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	return n, nil
}

func withMaxRules(t *testing.T, n int) {
	old := MaxRules
	MaxRules = n
	t.Cleanup(func() { MaxRules = old })
}

// A ruleset over MaxRules is refused with a clear error after reading just
// past the limit: streamed, never held whole.
func TestParseSaveStopsAtMaxRules(t *testing.T) {
	withMaxRules(t, 5000)
	src := &endlessSave{}
	_, err := ParseSave(io.Reader(src), snapshot.BackendIptablesNft, "ip")
	if err == nil || !strings.Contains(err.Error(), "more than 5000 rules") {
		t.Fatalf("err = %v, want the rule limit", err)
	}
	if src.n > 5010 {
		t.Errorf("read %d lines to refuse at 5000 rules", src.n)
	}
}

// The collector against a real namespace holding more rules than the limit:
// every backend that meets them says so; the run goes on, partial.
func TestCollectRefusesAnOversizedRuleset(t *testing.T) {
	ns := nstest.New(t)
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n")
	for i := range 1500 {
		fmt.Fprintf(&b, "-A INPUT -s 10.1.%d.%d/32 -j DROP\n", i/256, i%256)
	}
	b.WriteString("COMMIT\n")
	restore := ns.Command("iptables-nft-restore")
	restore.Stdin = strings.NewReader(b.String())
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("iptables-nft-restore: %v: %s", err, out)
	}
	withMaxRules(t, 1000)
	fw, err := collect(t, &Collector{}, ns)
	if fw == nil {
		t.Fatalf("no firewall section: %v", err)
	}
	nft, _ := fw.Backend(snapshot.BackendIptablesNft)
	if nft.Available || !strings.Contains(nft.Reason, "more than 1000 rules") {
		t.Errorf("iptables-nft backend = %+v, want unavailable over the rule limit", nft)
	}
	if err == nil || !strings.Contains(err.Error(), "more than 1000 rules") {
		t.Errorf("collector error = %v, want partial naming the limit", err)
	}
	// With iptables-nft's dump refused, its table is no longer set aside
	// and the netlink side meets the same ruleset, and the same limit.
	if native, _ := fw.Backend(snapshot.BackendNftables); native.Available || !strings.Contains(native.Reason, "more than 1000 rules") {
		t.Errorf("nftables backend = %+v, want unavailable over the rule limit", native)
	}
	// No dump tool this test started is left running (the machine's
	// other runs of hostdrift are not this test's).
	if out, _ := exec.Command("pgrep", "-P", strconv.Itoa(os.Getpid()), "-f", "iptables-nft-save").Output(); len(out) > 0 {
		t.Errorf("iptables-nft-save still running: %s", out)
	}
}

// A dump the kernel marks interrupted is tried again; one torn every time
// is an error, never a half ruleset.
func TestDumpRetriesInterrupted(t *testing.T) {
	torn := netlink.Message{Header: netlink.Header{Flags: netlink.Multi | netlink.DumpInterrupted}}
	whole := netlink.Message{Header: netlink.Header{Flags: netlink.Multi}, Data: []byte{1}}
	calls := 0
	flaky := func(netlink.Message) ([]netlink.Message, error) {
		calls++
		if calls < 3 {
			return []netlink.Message{whole, torn}, nil
		}
		return []netlink.Message{whole}, nil
	}
	msgs, err := dump(flaky, netlink.Message{})
	if err != nil || len(msgs) != 1 || calls != 3 {
		t.Errorf("interrupted twice, then whole: %d messages, err %v, %d calls; want 1, nil, 3", len(msgs), err, calls)
	}
	calls = 0
	always := func(netlink.Message) ([]netlink.Message, error) { calls++; return []netlink.Message{torn}, nil }
	if _, err := dump(always, netlink.Message{}); err == nil || !strings.Contains(err.Error(), "NLM_F_DUMP_INTR") || calls != dumpTries {
		t.Errorf("always interrupted: err %v after %d calls; want an error naming NLM_F_DUMP_INTR after %d", err, calls, dumpTries)
	}
}
