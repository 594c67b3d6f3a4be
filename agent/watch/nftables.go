package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
)

// nftables watches the nf_tables ruleset of the watched network namespace
// through the NFNLGRP_NFTABLES multicast group: every committed change
// (nft, iptables-nft, firewalld, ufw on nf_tables) is announced there.
type nftablesSource struct {
	conn *netlink.Conn
	// collectors are those that follow agent.NFTables.
	collectors []string
}

func (s *nftablesSource) Name() string { return "nftables" }

func newNFTables(ctx context.Context, opts *Options) (source, error) {
	cols := agent.Following(agent.NFTables)
	if !wanted(opts, cols...) {
		return source{}, nil
	}
	conn, err := dialGroups(opts.Env.NetNS, unix.NETLINK_NETFILTER, 0, unix.NFNLGRP_NFTABLES)
	if err != nil {
		return source{}, fmt.Errorf("nftables: cannot subscribe to nf_tables changes (%w): the firewall is read again only when another event asks (run as root, or with CAP_NET_ADMIN)", err)
	}
	return source{Source: &nftablesSource{conn: conn, collectors: cols}, collectors: cols}, nil
}

// dialGroups opens a netlink socket of the given family in the network
// namespace file netns (the caller's when empty) and joins the multicast
// groups: groups as a bit mask at bind time, joins one by one.
func dialGroups(netns string, family int, groups uint32, joins ...uint32) (*netlink.Conn, error) {
	cfg := &netlink.Config{Groups: groups}
	if netns != "" {
		fd, err := unix.Open(netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", netns, err)
		}
		defer unix.Close(fd)
		cfg.NetNS = fd
	}
	conn, err := netlink.Dial(family, cfg)
	if err != nil {
		return nil, err
	}
	for _, g := range joins {
		if err := conn.JoinGroup(g); err != nil {
			conn.Close()
			return nil, fmt.Errorf("join netlink group %d: %w", g, err)
		}
	}
	// Room for a ufw reload's burst; an overrun is reported (ENOBUFS) and
	// handled as "everything may have changed".
	_ = conn.SetReadBuffer(1 << 20)
	return conn, nil
}

// receive reads netlink messages until ctx ends, handing each batch to
// handle; on a receive overrun it calls overrun.
func receive(ctx context.Context, conn *netlink.Conn, handle func([]netlink.Message) bool, overrun func() bool) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		msgs, err := conn.Receive()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				if !overrun() {
					return nil
				}
				continue
			}
			return fmt.Errorf("receive netlink messages: %w", err)
		}
		if !handle(msgs) {
			return nil
		}
	}
}

// nftChange is what one nf_tables message says.
type nftChange struct {
	table, what string
}

// maxChanges bounds the changes one event's detail lists.
const maxChanges = 8

// Run reports each committed nf_tables transaction as one event.
func (s *nftablesSource) Run(ctx context.Context, out chan<- Event) error {
	var pending []nftChange
	more := 0
	flush := func(by string) bool {
		if len(pending) == 0 && more == 0 {
			return true
		}
		var parts []string
		for _, c := range pending {
			parts = append(parts, c.table+": "+c.what)
		}
		if more > 0 {
			parts = append(parts, fmt.Sprintf("%d more change(s)", more))
		}
		detail := strings.Join(parts, "; ")
		if by != "" {
			detail += " (by " + by + ")"
		}
		pending, more = pending[:0], 0
		return emit(ctx, out, Event{Source: "nftables", Collectors: s.collectors, Detail: detail})
	}
	handle := func(msgs []netlink.Message) bool {
		for _, m := range msgs {
			typ := uint16(m.Header.Type)
			if typ>>8 != unix.NFNL_SUBSYS_NFTABLES {
				continue
			}
			if typ&0xff == unix.NFT_MSG_NEWGEN {
				if !flush(genProcess(m.Data)) {
					return false
				}
				continue
			}
			c, ok := parseNFT(typ&0xff, m.Data)
			if !ok {
				continue
			}
			switch {
			case containsChange(pending, c):
			case len(pending) < maxChanges:
				pending = append(pending, c)
			default:
				more++
			}
		}
		return true
	}
	overrun := func() bool {
		pending, more = pending[:0], 0
		return emit(ctx, out, Event{Source: "nftables", Collectors: s.collectors,
			Detail: "the kernel sent nf_tables changes faster than they were read: some were lost"})
	}
	return receive(ctx, s.conn, handle, overrun)
}

func containsChange(cs []nftChange, c nftChange) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// nftFamilies names the nfgenmsg families.
var nftFamilies = map[uint8]string{
	unix.NFPROTO_INET: "inet", unix.NFPROTO_IPV4: "ip", unix.NFPROTO_IPV6: "ip6",
	unix.NFPROTO_ARP: "arp", unix.NFPROTO_BRIDGE: "bridge", unix.NFPROTO_NETDEV: "netdev",
}

// nftKinds names what each message type adds or deletes, and which
// attribute (after the table's, always 1) names the object.
var nftKinds = map[uint16]struct {
	what    string
	nameAtt uint16
}{
	unix.NFT_MSG_NEWTABLE:     {"table added", 0},
	unix.NFT_MSG_DELTABLE:     {"table deleted", 0},
	unix.NFT_MSG_NEWCHAIN:     {"chain %s added", unix.NFTA_CHAIN_NAME},
	unix.NFT_MSG_DELCHAIN:     {"chain %s deleted", unix.NFTA_CHAIN_NAME},
	unix.NFT_MSG_NEWRULE:      {"rule added to chain %s", unix.NFTA_RULE_CHAIN},
	unix.NFT_MSG_DELRULE:      {"rule deleted from chain %s", unix.NFTA_RULE_CHAIN},
	unix.NFT_MSG_NEWSET:       {"set %s added", unix.NFTA_SET_NAME},
	unix.NFT_MSG_DELSET:       {"set %s deleted", unix.NFTA_SET_NAME},
	unix.NFT_MSG_NEWSETELEM:   {"element added to set %s", unix.NFTA_SET_ELEM_LIST_SET},
	unix.NFT_MSG_DELSETELEM:   {"element deleted from set %s", unix.NFTA_SET_ELEM_LIST_SET},
	unix.NFT_MSG_NEWOBJ:       {"object %s added", unix.NFTA_OBJ_NAME},
	unix.NFT_MSG_DELOBJ:       {"object %s deleted", unix.NFTA_OBJ_NAME},
	unix.NFT_MSG_NEWFLOWTABLE: {"flowtable %s added", nftaFlowtableName},
	unix.NFT_MSG_DELFLOWTABLE: {"flowtable %s deleted", nftaFlowtableName},
}

// parseNFT reads what one nf_tables message changed: its family and table,
// and the object it added or deleted.
func parseNFT(msg uint16, data []byte) (nftChange, bool) {
	kind, ok := nftKinds[msg]
	if !ok {
		switch msg {
		case unix.NFT_MSG_TRACE, unix.NFT_MSG_GETTABLE, unix.NFT_MSG_GETCHAIN, unix.NFT_MSG_GETRULE, unix.NFT_MSG_GETSET,
			unix.NFT_MSG_GETSETELEM, unix.NFT_MSG_GETGEN, unix.NFT_MSG_GETOBJ, unix.NFT_MSG_GETOBJ_RESET,
			unix.NFT_MSG_GETFLOWTABLE, unix.NFT_MSG_GETRULE_RESET:
			return nftChange{}, false
		}
		// A kind newer than this table: still a change of the ruleset.
		kind.what = fmt.Sprintf("change (nf_tables message %d)", msg)
	}
	if len(data) < 4 {
		return nftChange{}, false
	}
	family, ok := nftFamilies[data[0]]
	if !ok {
		family = fmt.Sprintf("family %d", data[0])
	}
	var table, name string
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return nftChange{}, false
	}
	for ad.Next() {
		switch t := ad.Type(); {
		case t == 1:
			table = ad.String()
		case kind.nameAtt != 0 && t == kind.nameAtt:
			name = ad.String()
		}
	}
	what := kind.what
	if strings.Contains(what, "%s") {
		what = fmt.Sprintf(what, name)
	}
	return nftChange{table: "table " + family + " " + table, what: what}, true
}

// genProcess returns the process a NEWGEN message names as the one that
// committed the transaction ("nft", "iptables-nft"...), or "".
func genProcess(data []byte) string {
	if len(data) < 4 {
		return ""
	}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return ""
	}
	for ad.Next() {
		if ad.Type() == unix.NFTA_GEN_PROC_NAME {
			return ad.String()
		}
	}
	return ""
}

// nftaFlowtableName is NFTA_FLOWTABLE_NAME, which x/sys/unix lacks.
const nftaFlowtableName = 2
