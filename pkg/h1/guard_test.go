package h1

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestGuardDefault(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:8080": true, "10.1.2.3:80": true, "192.168.0.7:443": true,
		"172.16.0.1:80": true, "[fd00::1]:80": true, "[::ffff:127.0.0.1]:80": true,
		"169.254.169.254:80": false, "169.254.1.1:80": false, "[fe80::1]:80": false, "[::ffff:169.254.169.254]:80": false,
		"0.0.0.0:80": false, "[::]:80": false, "224.0.0.1:80": false,
		"192.0.2.1:80": false, "8.8.8.8:53": false, "[2001:db8::1]:80": false, "[::ffff:8.8.8.8]:80": false,
	} {
		err := Guard{}.Check("tcp", addr, nil)
		if ok != (err == nil) {
			t.Errorf("%s: %v", addr, err)
		}
		if err != nil && !errors.Is(err, ErrPublicAddress) {
			t.Errorf("%s: %v is not ErrPublicAddress", addr, err)
		}
	}
	if err := (Guard{}).Check("tcp", "not an address", nil); err == nil {
		t.Error("an unparsable address passed")
	}
	if err := (Guard{AllowPublic: true}).Check("tcp", "169.254.169.254:80", nil); err != nil {
		t.Errorf("--allow-public: %v", err)
	}
	if err := (Guard{}).Check("tcp", "169.254.169.254:80", nil); err == nil || !strings.Contains(err.Error(), "link-local") {
		t.Errorf("metadata address: %v, want a refusal naming link-local", err)
	}
}

// The check runs on the address being dialed, before the connection is
// attempted: a client told to stay private never connects to a public
// address, whatever the address was when the run started.
func TestClientControlRefusesPublicDial(t *testing.T) {
	// 192.0.2.0/24 is TEST-NET-1: public by the rules, and Control stops
	// the dial before any packet could leave.
	c := NewClient("192.0.2.1:80", Options{})
	err := c.Do([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), time.Now().Add(time.Second), false, &Response{})
	if !errors.Is(err, ErrPublicAddress) {
		t.Fatalf("Do: %v, want ErrPublicAddress", err)
	}
	s, err := NewStd("https://192.0.2.1/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Do([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), time.Now().Add(time.Second), false, &Response{})
	if !errors.Is(err, ErrPublicAddress) {
		t.Fatalf("Std.Do: %v, want ErrPublicAddress", err)
	}
	// Loopback still works.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
			c.Close()
		}
	}()
	c = NewClient(ln.Addr().String(), Options{})
	resp := &Response{}
	if err := c.Do([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), time.Now().Add(2*time.Second), false, resp); err != nil || resp.Status != 200 {
		t.Fatalf("loopback: %v status %d", err, resp.Status)
	}
}
