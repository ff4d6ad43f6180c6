package smtptest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// Reply is a scripted server's answer to one command: Text (such as "250 ok") is sent
// with CRLF unless Silent; HangUp closes the connection after it.
type Reply struct {
	Text   string
	Silent bool // send nothing and keep reading (a relay that never answers)
	HangUp bool
}

// Scripted is a plain-text SMTP server whose every answer a test chooses, for the relays
// a well-behaved server cannot play: one that drops the connection after accepting a
// message, one that never answers. Its go-smtp counterpart is Start.
type Scripted struct {
	Host string
	Port int

	mu       sync.Mutex
	commands []string
	messages [][]byte
}

// StartScripted serves connections on 127.0.0.1 until the test ends. answer gets each
// command line without CRLF, and "." for the end of a message's data (which it may
// accept with "250 ..." or refuse); DATA is answered "354" by answer too. The greeting is
// "220 scripted".
func StartScripted(t testing.TB, answer func(cmd string) Reply) *Scripted {
	t.Helper()
	return StartScriptedOn(t, "127.0.0.1", answer)
}

// StartScriptedOn is StartScripted on another loopback address, such as 127.0.0.2: a
// relay that net/smtp does not take for localhost.
func StartScriptedOn(t testing.TB, host string, answer func(cmd string) Reply) *Scripted {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s := &Scripted{Host: host, Port: l.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	var conns sync.Map
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s.serve(c, answer)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return s
}

func (s *Scripted) serve(c net.Conn, answer func(string) Reply) {
	r := bufio.NewReader(c)
	if _, err := fmt.Fprint(c, "220 scripted\r\n"); err != nil {
		return
	}
	inData := false
	var data []byte
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		if inData {
			if cmd != "." {
				data = append(data, line...)
				continue
			}
			inData = false
			s.mu.Lock()
			s.messages = append(s.messages, data)
			s.mu.Unlock()
			data = nil
		} else {
			s.mu.Lock()
			s.commands = append(s.commands, cmd)
			s.mu.Unlock()
		}
		rep := answer(cmd)
		if !rep.Silent {
			if _, err := fmt.Fprint(c, rep.Text+"\r\n"); err != nil {
				return
			}
		}
		if rep.HangUp {
			return
		}
		if strings.EqualFold(cmd, "DATA") && strings.HasPrefix(rep.Text, "354") {
			inData = true
		}
	}
}

// Commands returns the command lines received so far (not the data).
func (s *Scripted) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Messages returns the data of every message that reached its final ".", whatever the
// answer to it was.
func (s *Scripted) Messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.messages...)
}

// Relay answers as a relay that accepts everything: what a script falls back to.
func Relay(cmd string) Reply {
	switch verb, _, _ := strings.Cut(strings.ToUpper(cmd), " "); verb {
	case "EHLO", "HELO", "MAIL", "RCPT", "RSET", "NOOP", ".":
		return Reply{Text: "250 ok"}
	case "DATA":
		return Reply{Text: "354 go ahead"}
	case "QUIT":
		return Reply{Text: "221 bye", HangUp: true}
	}
	return Reply{Text: "502 not implemented"}
}
