package h1

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrPublicAddress means a connection to an address outside loopback,
// private and link-local ranges was refused before it was made.
var ErrPublicAddress = errors.New("public address")

// IsPrivate reports whether ip is a loopback, private (RFC 1918, RFC 4193)
// or link-local unicast address: the addresses bestbefore loads without
// --allow-public.
func IsPrivate(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
}

// PrivateOnly is a net.Dialer Control function that refuses to connect to
// a public address. It runs after name resolution, on the very address
// being dialed, so a name that resolves to a private address when checked
// and to a public one later is still refused.
func PrivateOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	if !IsPrivate(net.IP(ap.Addr().Unmap().AsSlice())) {
		return fmt.Errorf("dial %s %s: %w: bestbefore only loads loopback and private addresses unless given --allow-public", network, address, ErrPublicAddress)
	}
	return nil
}
