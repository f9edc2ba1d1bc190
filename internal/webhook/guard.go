package webhook

import (
	"fmt"
	"net/netip"
	"syscall"
)

// metadataRanges hold the clouds' instance-metadata and credential
// services: refused always, allow-private or not, since no webhook
// receiver lives there and a request to one can leak the machine's
// credentials. Link-local as a whole, since the clouds keep adding
// services there (AWS, GCP, Azure and Oracle's metadata at
// 169.254.169.254, ECS task credentials at 169.254.170.2, EKS Pod
// Identity at 169.254.170.23) and nothing else there is a receiver.
var metadataRanges = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),     // IPv4 link-local
	netip.MustParsePrefix("fe80::/10"),          // IPv6 link-local
	netip.MustParsePrefix("fd00:ec2::/32"),      // AWS metadata and Pod Identity over IPv6
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud's metadata
	netip.MustParsePrefix("168.63.129.16/32"),   // Azure's WireServer, a public address
}

// privateRanges are the ranges beside what netip classifies (loopback,
// private, link-local, multicast, unspecified) that are no public
// destination.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard-only
}

// The IPv6 prefixes whose addresses carry an IPv4 address, checked as
// that address: a network that translates or tunnels them reaches it.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")    // the well-known NAT64 prefix, in the last 32 bits
	compatible = netip.MustParsePrefix("::/96")           // IPv4-compatible (deprecated), in the last 32 bits
	translated = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (SIIT), in the last 32 bits
	sixToFour  = netip.MustParsePrefix("2002::/16")       // 6to4, in bits 16 to 48
)

// carried is the IPv4 address addr carries (see nat64), else addr. The
// unspecified address and loopback (::, ::1) are themselves.
func carried(addr netip.Addr) netip.Addr {
	b := addr.As16()
	switch {
	case addr.IsUnspecified() || addr.IsLoopback():
		return addr
	case nat64.Contains(addr), compatible.Contains(addr), translated.Contains(addr):
		return netip.AddrFrom4([4]byte(b[12:]))
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte(b[2:6]))
	}
	return addr
}

// checkAddr says whether a connection to addr may be made: nil, or an
// error wrapping ErrRefused that names the kind of address. A zone
// (fe80::1%eth0) is dropped first: netip.Prefix.Contains matches no zoned
// address, so a zone would carry any address past the ranges.
func checkAddr(addr netip.Addr, allowPrivate bool) error {
	addr = carried(addr.WithZone("").Unmap())
	for _, m := range metadataRanges {
		if m.Contains(addr) {
			return fmt.Errorf("%w: %s is link-local or a cloud metadata address", ErrRefused, addr)
		}
	}
	if allowPrivate {
		return nil
	}
	kind := ""
	switch {
	case addr.IsLoopback():
		kind = "loopback"
	case addr.IsUnspecified():
		kind = "unspecified"
	case addr.IsLinkLocalUnicast():
		kind = "link-local"
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		kind = "multicast"
	case addr.IsPrivate():
		kind = "private"
	}
	for _, p := range privateRanges {
		if kind == "" && p.Contains(addr) {
			kind = "reserved or private"
		}
	}
	if kind != "" {
		return fmt.Errorf("%w: %s is a %s address (USERSVC_WEBHOOK_ALLOW_PRIVATE=on allows it)", ErrRefused, addr, kind)
	}
	return nil
}

// guardControl is a net.Dialer Control hook: it runs after the address to
// connect to is final and before the connect system call, so it checks the
// address actually connected to, whatever a resolver said earlier (DNS
// rebinding cannot slip past it).
func guardControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot parse %q: %w", ErrRefused, address, err)
		}
		return checkAddr(ap.Addr(), allowPrivate)
	}
}
