package watch

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
)

// rtnetlinkSource watches links, addresses and routes of the watched
// network namespace through rtnetlink's multicast groups: the host's
// facts (its addresses and interfaces) change with them.
type rtnetlinkSource struct {
	conn *netlink.Conn
	// collectors are those that follow agent.RTNetlink.
	collectors []string
}

func (s *rtnetlinkSource) Name() string { return "rtnetlink" }

// rtGroups are the rtnetlink groups the source joins.
const rtGroups = unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR |
	unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE

func newRTNetlink(ctx context.Context, opts *Options) (source, error) {
	cols := agent.Following(agent.RTNetlink)
	if !wanted(opts, cols...) {
		return source{}, nil
	}
	conn, err := dialGroups(opts.Env.NetNS, unix.NETLINK_ROUTE, rtGroups)
	if err != nil {
		return source{}, fmt.Errorf("rtnetlink: cannot subscribe to link, address and route changes (%w): the host's addresses are read again only when another event asks", err)
	}
	return source{Source: &rtnetlinkSource{conn: conn, collectors: cols}, collectors: cols}, nil
}

// Run reports each link, address or route message as one event.
func (s *rtnetlinkSource) Run(ctx context.Context, out chan<- Event) error {
	handle := func(msgs []netlink.Message) bool {
		for _, m := range msgs {
			d, ok := parseRT(uint16(m.Header.Type), m.Data)
			if !ok {
				continue
			}
			if !emit(ctx, out, Event{Source: "rtnetlink", Collectors: s.collectors, Detail: d}) {
				return false
			}
		}
		return true
	}
	overrun := func() bool {
		return emit(ctx, out, Event{Source: "rtnetlink", Collectors: s.collectors,
			Detail: "the kernel sent link, address and route changes faster than they were read: some were lost"})
	}
	return receive(ctx, s.conn, handle, overrun)
}

// parseRT says what one rtnetlink message changed: "link dummy0 added",
// "address 10.1.2.3/24 added on dummy0", "route 10.1.2.0/24 deleted".
func parseRT(typ uint16, data []byte) (string, bool) {
	verb := "added"
	switch typ {
	case unix.RTM_DELLINK, unix.RTM_DELADDR, unix.RTM_DELROUTE:
		verb = "deleted"
	}
	switch typ {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		if len(data) < unix.SizeofIfInfomsg {
			return "", false
		}
		index := binary.NativeEndian.Uint32(data[4:8])
		flags := binary.NativeEndian.Uint32(data[8:12])
		name := fmt.Sprintf("ifindex %d", index)
		attrs(data[unix.SizeofIfInfomsg:], func(t uint16, b []byte) {
			if t == unix.IFLA_IFNAME {
				name = cString(b)
			}
		})
		if typ == unix.RTM_NEWLINK {
			state := "down"
			if flags&unix.IFF_UP != 0 {
				state = "up"
			}
			return "link " + name + " added or changed (" + state + ")", true
		}
		return "link " + name + " deleted", true
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		if len(data) < unix.SizeofIfAddrmsg {
			return "", false
		}
		plen := int(data[1])
		index := binary.NativeEndian.Uint32(data[4:8])
		on := fmt.Sprintf("ifindex %d", index)
		var addr netip.Addr
		attrs(data[unix.SizeofIfAddrmsg:], func(t uint16, b []byte) {
			switch t {
			case unix.IFA_LOCAL:
				addr, _ = netip.AddrFromSlice(b)
			case unix.IFA_ADDRESS:
				if !addr.IsValid() {
					addr, _ = netip.AddrFromSlice(b)
				}
			case unix.IFA_LABEL:
				on = cString(b)
			}
		})
		return fmt.Sprintf("address %s/%d %s on %s", addr, plen, verb, on), true
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		if len(data) < unix.SizeofRtMsg {
			return "", false
		}
		family, dlen, table := data[0], int(data[1]), uint32(data[4])
		flags := binary.NativeEndian.Uint32(data[8:12])
		if flags&unix.RTM_F_CLONED != 0 {
			return "", false // a cache entry, not the routing table
		}
		dst := "default"
		attrs(data[unix.SizeofRtMsg:], func(t uint16, b []byte) {
			switch t {
			case unix.RTA_DST:
				if a, ok := netip.AddrFromSlice(b); ok {
					dst = netip.PrefixFrom(a, dlen).String()
				}
			case unix.RTA_TABLE:
				if len(b) == 4 {
					table = binary.NativeEndian.Uint32(b)
				}
			}
		})
		if dst == "default" && family == unix.AF_INET6 {
			dst = "default (IPv6)"
		}
		return fmt.Sprintf("route %s %s (table %s)", dst, verb, tableName(table)), true
	}
	return "", false
}

// tableName names a routing table.
func tableName(t uint32) string {
	switch t {
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_LOCAL:
		return "local"
	case unix.RT_TABLE_DEFAULT:
		return "default"
	}
	return fmt.Sprint(t)
}

// attrs calls fn for each netlink attribute in b.
func attrs(b []byte, fn func(t uint16, data []byte)) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return
	}
	for ad.Next() {
		fn(ad.Type(), ad.Bytes())
	}
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
