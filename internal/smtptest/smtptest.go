package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/testcert"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted mail.
type Message struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // whether the session was encrypted when the message came
	User string // the authenticated user, if any
}

// Options shape the server.
type Options struct {
	NoTLS    bool   // do not offer STARTTLS
	Implicit bool   // speak TLS from the first byte (SMTPS) instead of offering STARTTLS
	Username string // require authentication with these credentials
	Password string
	// Mechanisms are the SASL mechanisms offered for it, of PLAIN and LOGIN (default
	// PLAIN alone); LOGIN alone is what Microsoft 365's smtp.office365.com offers.
	Mechanisms []string
	// CertName, when set, is the only name the certificate is for (instead of 127.0.0.1
	// and localhost): a relay whose certificate is another host's.
	CertName string
}

// Server is a running SMTP server.
type Server struct {
	Host  string
	Port  int
	Roots *x509.CertPool // trusts the server's certificate

	certs [][]byte // the certificate chain, DER

	mu       sync.Mutex
	messages []Message
	arrived  chan struct{}
	opt      Options
}

// Start starts a server on 127.0.0.1 and stops it when the test ends. It fails the test
// when the server cannot start.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, arrived: make(chan struct{}, 1024), opt: opt}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 1 << 20
	if !opt.NoTLS {
		cert, roots := selfSigned(t, opt.CertName)
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.Roots, s.certs = roots, cert.Certificate
		if opt.Implicit {
			l = tls.NewListener(l, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		// Closing the listener too covers a Close that comes before Serve has registered
		// it, which would otherwise leave Serve accepting forever.
		srv.Close()
		l.Close()
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("smtptest: serve: %v", err)
		}
	})
	return s
}

// Certificates returns the server's certificate chain (DER), to write a CA file from.
func (s *Server) Certificates() [][]byte { return s.certs }

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait blocks until n messages have arrived in all, or the timeout passes.
func (s *Server) Wait(n int, timeout time.Duration) ([]Message, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if m := s.Messages(); len(m) >= n {
			return m, nil
		}
		select {
		case <-s.arrived:
		case <-deadline.C:
			return s.Messages(), errors.New("smtptest: timed out waiting for mail")
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	msg  Message
}

func (x *session) AuthMechanisms() []string {
	if x.s.opt.Username == "" {
		return nil
	}
	if len(x.s.opt.Mechanisms) > 0 {
		return x.s.opt.Mechanisms
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(mech string) (sasl.Server, error) {
	// A relay refuses a mechanism it does not offer (504), as real ones do.
	if !slices.Contains(x.AuthMechanisms(), mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, pass string) error {
		if user != x.s.opt.Username || pass != x.s.opt.Password {
			return errors.New("invalid credentials")
		}
		x.user = user
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
}

// loginServer is the server side of SASL LOGIN (draft-murchison-sasl-login), which
// go-sasl has only a client for: it asks for the user name and the password in turn,
// taking the user name from an initial response when the client sends one.
type loginServer struct {
	check func(user, pass string) error
	user  *string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch {
	case l.user == nil && response == nil:
		return []byte("Username:"), false, nil
	case l.user == nil:
		u := string(response)
		l.user = &u
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(*l.user, string(response))
	}
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opt.Username != "" && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.msg = Message{From: from}
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.msg.To = append(x.msg.To, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, tlsOn := x.conn.TLSConnectionState()
	x.msg.Data, x.msg.TLS, x.msg.User = b, tlsOn, x.user
	x.s.mu.Lock()
	x.s.messages = append(x.s.messages, x.msg)
	x.s.mu.Unlock()
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.msg = Message{} }
func (x *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost, or for name alone, valid
// for the test.
func selfSigned(t testing.TB, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	ips, names := []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}
	if name != "" {
		ips, names = nil, []string{name}
	}
	c := testcert.New(t, "smtptest", ips, names, 24*time.Hour)
	return c.TLS(), c.Pool()
}
