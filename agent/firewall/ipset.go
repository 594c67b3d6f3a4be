package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// The ipset netlink protocol (include/uapi/linux/netfilter/ipset/ip_set.h).
// github.com/vishvananda/netlink's IpsetList drops the per-member flags
// (nomatch, physdev, interface wildcards), cannot list list:set members and
// logs what it does not know to stderr, so hostdrift reads the dump itself.
const (
	ipsetProtocol = 6 // IPSET_PROTOCOL_MIN: every kernel since 2.6.39 speaks it
	ipsetCmdList  = 7 // IPSET_CMD_LIST

	ipsetAttrProtocol = 1
	ipsetAttrSetname  = 2
	ipsetAttrTypename = 3
	ipsetAttrFamily   = 5
	ipsetAttrData     = 7
	ipsetAttrADT      = 8

	ipsetAttrIP        = 1
	ipsetAttrCIDR      = 3
	ipsetAttrPort      = 4
	ipsetAttrTimeout   = 6
	ipsetAttrProto     = 7
	ipsetAttrCadtFlags = 8
	ipsetAttrMark      = 10
	ipsetAttrMarkMask  = 11
	ipsetAttrEther     = 17
	ipsetAttrName      = 18
	ipsetAttrIP2       = 20
	ipsetAttrCIDR2     = 21
	ipsetAttrIface     = 23

	ipsetFlagPhysdev  = 1 << 1
	ipsetFlagNoMatch  = 1 << 2
	ipsetFlagWildcard = 1 << 7
)

// readIPSets lists every ipset of the namespace fd (0: the current one).
// Without the ip_set module no set can exist, and asking would make the
// kernel load it: nothing is asked then.
func readIPSets(fd int, fw *snapshot.Firewall) error {
	if _, err := os.Stat("/sys/module/ip_set"); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: fd})
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer conn.Close()
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: ipsetAttrProtocol, Data: []byte{ipsetProtocol}}})
	if err != nil {
		return err
	}
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_IPSET<<8 | ipsetCmdList), Flags: netlink.Request | netlink.Dump},
		Data:   append([]byte{unix.AF_INET, unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	msgs, err := dump(conn.Execute, req)
	if err != nil {
		return fmt.Errorf("list ipsets: %s", explainNetlink(err))
	}
	sets, err := parseIPSetDump(msgs)
	if err != nil {
		return err
	}
	fw.IPSets = sets
	return nil
}

// parseIPSetDump merges the messages of a dump: a large set comes in
// several, each naming it.
func parseIPSetDump(msgs []netlink.Message) ([]snapshot.IPSet, error) {
	var sets []snapshot.IPSet
	index := map[string]int{}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return nil, fmt.Errorf("ipset message: %w", err)
		}
		var s snapshot.IPSet
		var data, adt []byte
		for ad.Next() {
			switch ad.Type() {
			case ipsetAttrSetname:
				s.Name = ad.String()
			case ipsetAttrTypename:
				s.Type = ad.String()
			case ipsetAttrFamily:
				switch ad.Uint8() {
				case unix.NFPROTO_IPV4:
					s.Family = "inet"
				case unix.NFPROTO_IPV6:
					s.Family = "inet6"
				}
			case ipsetAttrData:
				data = ad.Bytes()
			case ipsetAttrADT:
				adt = ad.Bytes()
			}
		}
		if err := ad.Err(); err != nil {
			return nil, fmt.Errorf("ipset message: %w", err)
		}
		if s.Name == "" {
			continue
		}
		i, ok := index[s.Name]
		if !ok {
			i = len(sets)
			index[s.Name] = i
			s.Members = []snapshot.IPSetMember{}
			sets = append(sets, s)
		}
		set := &sets[i]
		if s.Type != "" {
			set.Type, set.Family = s.Type, s.Family
		}
		if data != nil {
			if err := parseIPSetHeader(data, set); err != nil {
				return nil, fmt.Errorf("ipset %s: %w", s.Name, err)
			}
		}
		if adt != nil {
			if err := parseIPSetMembers(adt, set); err != nil {
				return nil, fmt.Errorf("ipset %s: %w", s.Name, err)
			}
		}
	}
	return sets, nil
}

func parseIPSetHeader(b []byte, s *snapshot.IPSet) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	for ad.Next() {
		switch ad.Type() {
		case ipsetAttrTimeout:
			s.Timeout = be32(ad.Bytes())
		case ipsetAttrMarkMask:
			s.MarkMask = be32(ad.Bytes())
		}
	}
	return ad.Err()
}

func parseIPSetMembers(b []byte, s *snapshot.IPSet) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	for ad.Next() {
		if ad.Type() != ipsetAttrData {
			continue
		}
		m, err := parseIPSetMember(ad.Bytes())
		if err != nil {
			return err
		}
		s.Members = append(s.Members, m)
	}
	return ad.Err()
}

// parseIPSetMember renders one member as ipset list prints it, one value per
// dimension in the order of the type's name.
func parseIPSetMember(b []byte) (snapshot.IPSetMember, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return snapshot.IPSetMember{}, err
	}
	var (
		ip, ip2       netip.Addr
		cidr, cidr2   = -1, -1
		port          = -1
		proto         = -1
		flags         uint32
		iface, name   string
		mark          = int64(-1)
		ether         []byte
		hasIP, hasIP2 bool
	)
	for ad.Next() {
		switch ad.Type() {
		case ipsetAttrIP:
			ip, hasIP = nestedAddr(ad.Bytes())
		case ipsetAttrIP2:
			ip2, hasIP2 = nestedAddr(ad.Bytes())
		case ipsetAttrCIDR:
			cidr = int(ad.Uint8())
		case ipsetAttrCIDR2:
			cidr2 = int(ad.Uint8())
		case ipsetAttrPort:
			if v := ad.Bytes(); len(v) == 2 {
				port = int(binary.BigEndian.Uint16(v))
			}
		case ipsetAttrProto:
			proto = int(ad.Uint8())
		case ipsetAttrCadtFlags:
			flags = be32(ad.Bytes())
		case ipsetAttrIface:
			iface = ad.String()
		case ipsetAttrName:
			name = ad.String()
		case ipsetAttrMark:
			mark = int64(be32(ad.Bytes()))
		case ipsetAttrEther:
			ether = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return snapshot.IPSetMember{}, err
	}
	m := snapshot.IPSetMember{NoMatch: flags&ipsetFlagNoMatch != 0, Wildcard: flags&ipsetFlagWildcard != 0}
	addr := func(a netip.Addr, bits int) string {
		if bits >= 0 && bits < a.BitLen() {
			return netip.PrefixFrom(a, bits).String()
		}
		return a.String()
	}
	if hasIP {
		m.Key = append(m.Key, addr(ip, cidr))
	}
	if ether != nil {
		m.Key = append(m.Key, fmt.Sprintf("%x", ether))
	}
	if port >= 0 {
		p := strconv.Itoa(port)
		if proto >= 0 {
			n := snapshot.ProtocolName(strconv.Itoa(proto))
			if proto == 58 {
				n = "icmpv6"
			}
			p = n + ":" + p
		}
		m.Key = append(m.Key, p)
	}
	if hasIP2 {
		m.Key = append(m.Key, addr(ip2, cidr2))
	}
	if iface != "" {
		if flags&ipsetFlagPhysdev != 0 {
			iface = "physdev:" + iface
		}
		m.Key = append(m.Key, iface)
	}
	if mark >= 0 {
		m.Key = append(m.Key, fmt.Sprintf("0x%08x", mark))
	}
	if name != "" {
		m.Key = append(m.Key, name)
	}
	return m, nil
}

// nestedAddr reads an IPSET_ATTR_IPADDR_IPV4/IPV6 inside an address attribute.
func nestedAddr(b []byte) (netip.Addr, bool) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return netip.Addr{}, false
	}
	for ad.Next() {
		if a, ok := netip.AddrFromSlice(ad.Bytes()); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func be32(b []byte) uint32 {
	if len(b) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}
