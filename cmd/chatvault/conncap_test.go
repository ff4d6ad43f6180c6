package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestServeConnectionCap: an anonymous client that opens connections and keeps them
// (one /healthz each, then idle keep-alive) must not take the process's file descriptors:
// before http.maxConnections, 590 such connections against an open-file limit of 600 made
// the folder store's opens fail ("too many open files"), so exports answered 500 and a
// seal or an audit flush would have failed the same way. Past the cap a connection is
// closed as it is accepted; the connections already open, and the store, keep working.
func TestServeConnectionCap(t *testing.T) {
	cleanEnv(t)
	common, token := sealedSample(t)
	t.Setenv("CHATVAULT_HTTP_MAXCONNECTIONS", "3")
	released := make(chan struct{}, 16)
	serveHooks.connReleased = func() { released <- struct{}{} }
	t.Cleanup(func() { serveHooks.connReleased = nil })
	s := startServe(t, common...)

	dial := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	roundTrip := func(c net.Conn, br *bufio.Reader, req string) (*http.Response, []byte) {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	healthz := "GET /healthz HTTP/1.1\r\nHost: chatvault\r\n\r\n"
	body := `{"date":"2026-11-22"}`
	export := fmt.Sprintf("POST /messageevent.export HTTP/1.1\r\nHost: chatvault\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", token, len(body), body)
	wantExport := func(c net.Conn, br *bufio.Reader) {
		t.Helper()
		resp, b := roundTrip(c, br, export)
		sum := sha256.Sum256(b)
		if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != resp.Header.Get("X-Chatvault-Sha256") {
			t.Fatalf("export: %d, %d bytes, sha256 %x, header %s", resp.StatusCode, len(b), sum, resp.Header.Get("X-Chatvault-Sha256"))
		}
	}

	// A client of the API, kept alive, and two idle connections: the cap is reached.
	client, clientBR := dial()
	wantExport(client, clientBR)
	var idle []net.Conn
	for range 2 {
		c, br := dial()
		if resp, _ := roundTrip(c, br, healthz); resp.StatusCode != 200 {
			t.Fatalf("healthz: %d", resp.StatusCode)
		}
		idle = append(idle, c)
	}

	// One more is closed unanswered (Connection: close, so that a server without the cap
	// answers and closes rather than keeping it).
	c, _ := dial()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: chatvault\r\nConnection: close\r\n\r\n") // may find it closed
	if b := readUntilClosed(t, c); len(b) != 0 {
		t.Fatalf("a connection past http.maxConnections was answered: %.80q", b)
	}

	// The connections open keep working, and so does the store behind them.
	wantExport(client, clientBR)

	// A connection closed gives its place to the next.
	idle[0].Close()
	<-released
	c, br := dial()
	if resp, _ := roundTrip(c, br, healthz); resp.StatusCode != 200 {
		t.Fatalf("healthz once a place was free: %d", resp.StatusCode)
	}
	if !strings.Contains(s.logs.String(), "connection refused: http.maxConnections") {
		t.Errorf("the refusal is not logged:\n%s", s.logs)
	}

	reliability.Record(t, "security", "connection flood (idle keep-alive connections past http.maxConnections)", reliability.Refused,
		"closed at accept; the connections open and the store's file descriptors keep working")
}
