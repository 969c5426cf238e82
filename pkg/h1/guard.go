package h1

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPublicAddress means a connection to an address outside loopback and
// the private ranges was refused before it was made.
var ErrPublicAddress = errors.New("public address")

// Guard is bestbefore's address guard, the one place that decides which
// addresses the tool may connect to. Its zero value is the default: only
// loopback (127.0.0.0/8, ::1) and private ranges (10/8, 172.16/12,
// 192.168/16, fc00::/7). Everything else, link-local 169.254.0.0/16 and
// fe80::/10 among it (a cloud's metadata service answers at
// 169.254.169.254), needs AllowPublic, which only the --allow-public flag
// sets.
//
// Every connection bestbefore opens goes through Dialer: the load, the
// checks before a run, target health probes, metrics scrapes and the
// recorder's upstream. The check runs after name resolution, on the very
// address being dialed, so a name that resolves to a private address when
// checked and to a public one later is still refused.
type Guard struct {
	AllowPublic bool
}

// Allowed reports whether the guard lets a connection to ip be made.
func (g Guard) Allowed(ip netip.Addr) bool {
	if g.AllowPublic {
		return true
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate()
}

// Check is a net.Dialer Control function: it refuses an address the guard
// does not allow.
func (g Guard) Check(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	if !g.Allowed(ap.Addr()) {
		return fmt.Errorf("dial %s %s: %w: %s", network, address, ErrPublicAddress, Refusal(ap.Addr()))
	}
	return nil
}

// Refusal says why the default guard refuses ip and how to open it.
func Refusal(ip netip.Addr) string {
	kind := "a public address"
	if ip = ip.Unmap(); ip.IsLinkLocalUnicast() {
		kind = "a link-local address (cloud metadata services live there)"
	}
	return kind + "; bestbefore only connects to loopback and private addresses unless given --allow-public"
}

// Dialer returns a dialer whose every connection is checked by the guard.
func (g Guard) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: g.Check}
}

// DialContext dials through the guard.
func (g Guard) DialContext(ctx context.Context, network, address string, timeout time.Duration) (net.Conn, error) {
	return g.Dialer(timeout).DialContext(ctx, network, address)
}

// Transport returns an HTTP transport that dials through the guard and
// never through a proxy from the environment (a proxy would be a side
// door: the guard would check the proxy's address, not the target's).
func (g Guard) Transport(dialTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            g.Dialer(dialTimeout).DialContext,
		TLSHandshakeTimeout:    dialTimeout,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		ResponseHeaderTimeout:  0,
		MaxResponseHeaderBytes: DefaultMaxHeaderBytes,
	}
}

// ErrRedirect is returned by a guarded client given a redirect: it is
// never followed, so a server cannot send the tool somewhere else.
var ErrRedirect = errors.New("redirect not followed")

// Client returns an HTTP client through the guard's Transport that follows
// no redirect, with an overall timeout per request (0: none beyond the
// request's context; connecting is still bounded by DefaultDialTimeout).
func (g Guard) Client(timeout time.Duration) *http.Client {
	dial := DefaultDialTimeout
	if timeout > 0 {
		dial = min(timeout, dial)
	}
	return &http.Client{
		Transport: g.Transport(dial),
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("%w: the server sent a redirect to %s", ErrRedirect, req.URL.Redacted())
		},
	}
}
