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
// seal or an audit flush would have failed the same way. At the cap a newcomer takes the
// place of the connection idle the longest; when none is idle it is closed as it is
// accepted, and the connections open, and the store, keep working.
func TestServeConnectionCap(t *testing.T) {
	cleanEnv(t)
	common, token := sealedSample(t)
	t.Setenv("CHATVAULT_HTTP_MAXCONNECTIONS", "3")
	released, idled := make(chan struct{}, 16), make(chan struct{}, 16)
	serveHooks.connReleased = func() { released <- struct{}{} }
	serveHooks.connIdle = func() { idled <- struct{}{} }
	t.Cleanup(func() { serveHooks.connReleased, serveHooks.connIdle = nil, nil })
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
	// busy is a connection in the middle of a request's headers: not idle, so never
	// replaced (http.readHeaderTimeout, 10 s, cuts it later).
	busy := func() net.Conn {
		c, _ := dial()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: chatvault\r\n"); err != nil {
			t.Fatal(err)
		}
		return c
	}
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
	healthzOnce := "GET /healthz HTTP/1.1\r\nHost: chatvault\r\nConnection: close\r\n\r\n"

	// The cap is reached: a client idle between two exports, and two busy connections.
	client, clientBR := dial()
	wantExport(client, clientBR)
	<-idled
	busy1, busy2 := busy(), busy()

	// A newcomer takes the idle client's place: the client finds its connection closed,
	// as HTTP allows of an idle one, and a client library opens another.
	c, br := dial()
	if resp, _ := roundTrip(c, br, healthzOnce); resp.StatusCode != 200 {
		t.Fatalf("healthz in the idle connection's place: %d", resp.StatusCode)
	}
	if b := readUntilClosed(t, client); len(b) != 0 {
		t.Fatalf("the idle connection replaced got %q", b)
	}
	<-released // the idle client's
	<-released // the newcomer's, closed after its answer
	busy()     // the third place

	// With none idle, one more is closed unanswered (Connection: close, so that a server
	// without the cap answers and closes rather than keeping it).
	c, _ = dial()
	io.WriteString(c, healthzOnce) // may find it closed
	if b := readUntilClosed(t, c); len(b) != 0 {
		t.Fatalf("a connection past http.maxConnections, none idle, was answered: %.80q", b)
	}
	if !strings.Contains(s.logs.String(), "connection refused: http.maxConnections reached") {
		t.Errorf("the refusal is not logged:\n%s", s.logs)
	}

	// A connection closed gives its place to the next, and the store behind works.
	busy1.Close()
	<-released
	client, clientBR = dial()
	wantExport(client, clientBR)
	busy2.Close()

	reliability.Record(t, "security", "connection flood (idle keep-alive connections past http.maxConnections)", reliability.Refused,
		"the connection idle the longest gives its place; with none idle, closed at accept; the store's file descriptors keep working")
}
