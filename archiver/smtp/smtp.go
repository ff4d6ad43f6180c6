package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Security is how the connection to the relay is protected.
type Security string

const (
	// StartTLS (the default) requires the relay to offer STARTTLS and upgrades before
	// anything else is said; a relay without it is an error, never a silent downgrade.
	StartTLS Security = "starttls"
	// ImplicitTLS connects with TLS from the first byte (port 465, "SMTPS").
	ImplicitTLS Security = "tls"
	// None sends in the clear: only for a relay on the same host or a trusted network.
	None Security = "none"
)

// Config describes the relay.
type Config struct {
	Host     string
	Port     int
	From     string // the envelope and header sender, such as "chatvault <archive@acme.example>"
	Username string // empty: no authentication
	Password string
	Security Security
	// RootCAs verifies the relay's certificate; nil means the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds one Send, connection to QUIT, when ctx has no earlier deadline.
	Timeout time.Duration
	// Now stamps the Date header (default time.Now).
	Now func() time.Time
}

// Mailer sends text mail through one relay. It is safe for concurrent use: each Send
// opens its own connection, which suits the few mails a day export tasks produce.
type Mailer struct {
	cfg  Config
	from *mail.Address
}

// New checks cfg and returns a Mailer.
func New(cfg Config) (*Mailer, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: port %d out of range", cfg.Port)
	}
	switch cfg.Security {
	case "":
		cfg.Security = StartTLS
	case StartTLS, ImplicitTLS, None:
	default:
		return nil, fmt.Errorf("smtp: security %q is not starttls, tls or none", cfg.Security)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Mailer{cfg: cfg, from: from}, nil
}

// Send mails body (plain text, UTF-8) with subject to every address of to.
func (m *Mailer) Send(ctx context.Context, to []string, subject, body string) error {
	msg, rcpts, err := m.compose(to, subject, body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := m.deliver(ctx, rcpts, msg); err != nil {
		return &Error{Relay: m.addr(), Err: err}
	}
	return nil
}

// Error is a Send that failed in the conversation with the relay. Its message names the
// relay for the log; Public is what the mail's requester may be told.
type Error struct {
	Relay string // host:port
	Err   error
}

func (e *Error) Error() string { return "smtp: " + e.Relay + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Public is the relay's answer to the mail (a refused recipient, sender or message), or
// what kept the mail from the relay in words that carry neither the relay's address nor
// the connection's: those are the operator's, and a task's error is read by its
// organization.
func (e *Error) Public() string {
	var reply *textproto.Error
	var pe *publicError
	var partial *partialError
	switch {
	case errors.As(e.Err, &partial):
		return fmt.Sprintf("mailed to %d of %d recipients, then: %s", partial.sent, partial.total, (&Error{Err: partial.err}).Public())
	case errors.As(e.Err, &reply), errors.As(e.Err, &pe):
		return e.Err.Error()
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "the relay did not answer within smtp.timeout"
	case errors.Is(e.Err, context.Canceled):
		return "canceled"
	default:
		return "the relay could not be reached, or the connection to it failed (the server log has the details)"
	}
}

// Temporary reports whether the same mail may be sent again later: the relay answered
// 4xx ("try again later", RFC 5321 4.2.1), or could not be reached, or the connection
// failed or timed out; and no one has been mailed yet (a failure after the first
// message of many would mail its recipients twice).
func (e *Error) Temporary() bool {
	var reply *textproto.Error
	var partial *partialError
	var cert *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.As(e.Err, &partial), errors.Is(e.Err, context.Canceled), errors.As(e.Err, &cert):
		return false
	case errors.As(e.Err, &reply):
		return reply.Code >= 400 && reply.Code < 500
	case errors.Is(e.Err, context.DeadlineExceeded), errors.As(e.Err, &netErr),
		errors.Is(e.Err, io.EOF), errors.Is(e.Err, io.ErrUnexpectedEOF):
		return true
	}
	return false // refused by this side: no STARTTLS or SMTPUTF8, PLAIN in the clear
}

// partialError is a failure after some of the recipients were mailed.
type partialError struct {
	sent, total int
	err         error
}

func (e *partialError) Error() string {
	return fmt.Sprintf("mailed to %d of %d recipients, then: %v", e.sent, e.total, e.err)
}
func (e *partialError) Unwrap() error { return e.err }

// publicError is a failure that names nothing of the relay's: Public shows it.
type publicError struct{ msg string }

func (e *publicError) Error() string { return e.msg }

func (m *Mailer) addr() string { return net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port)) }

func (m *Mailer) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: m.cfg.Host, RootCAs: m.cfg.RootCAs, MinVersion: tls.VersionTLS12}
}

// compose builds the RFC 5322 message. Addresses go through net/mail and the subject is
// refused if it holds a line break, so neither can smuggle in a header or a recipient.
func (m *Mailer) compose(to []string, subject, body string) ([]byte, []string, error) {
	if len(to) == 0 {
		return nil, nil, errors.New("smtp: no recipient")
	}
	if strings.ContainsAny(subject, "\r\n") {
		return nil, nil, errors.New("smtp: subject holds a line break")
	}
	rcpts := make([]string, len(to))
	heads := make([]string, len(to))
	for i, s := range to {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, nil, fmt.Errorf("smtp: recipient %q: %w", s, err)
		}
		if len(a.Address) > maxAddress {
			return nil, nil, fmt.Errorf("smtp: recipient %.40q…: longer than %d octets (RFC 5321)", a.Address, maxAddress)
		}
		rcpts[i], heads[i] = a.Address, a.String()
	}
	var id [16]byte
	rand.Read(id[:])
	domain := m.from.Address[strings.LastIndexByte(m.from.Address, '@')+1:]

	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ":" + fold(" "+v, 78-len(k)-1) + "\r\n") }
	header("From", m.from.String())
	header("To", strings.Join(heads, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", m.cfg.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies to a robot
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")))
	qp.Close()
	return b.Bytes(), rcpts, nil
}

// maxAddress is the longest address SMTP carries: a path is at most 256 octets with its
// angle brackets (RFC 5321 4.5.3.1.3).
const maxAddress = 254

// fold breaks a header's value (from the space after its colon) before spaces where its
// lines would be longer than 78 octets (RFC 5322 2.2.3), first beginning width octets in,
// so that no line exceeds the 998 octets a relay must accept: a To of many recipients,
// or a subject of several encoded words, is otherwise one line of thousands. Unfolding,
// which removes the CRLFs, gives back the value. The space after the colon is never a
// break: a field name alone on its line puzzles some readers.
func fold(line string, width int) string {
	var b strings.Builder
	for len(line) > width {
		i := strings.LastIndexByte(line[:width+1], ' ')
		if i <= 0 {
			// No space within the width: break at the next one, a long line beats a
			// broken token.
			if i = strings.IndexByte(line[width:], ' '); i < 0 {
				break
			}
			i += width
		}
		b.WriteString(line[:i] + "\r\n")
		line, width = line[i:], 78
	}
	b.WriteString(line)
	return b.String()
}

func (m *Mailer) deliver(ctx context.Context, rcpts []string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr())
	if err != nil {
		return ctxErr(ctx, err)
	}
	// net/smtp has no context: a deadline on the connection bounds every exchange, and
	// closing it on cancellation unblocks whatever is in flight.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if m.cfg.Security == ImplicitTLS {
		conn = tls.Client(conn, m.tlsConfig())
	}
	c, err := smtp.NewClient(conn, m.cfg.Host)
	if err != nil {
		conn.Close()
		return ctxErr(ctx, err)
	}
	defer c.Close()
	if err := m.session(c, helloName(conn.LocalAddr()), rcpts, msg); err != nil {
		return ctxErr(ctx, err)
	}
	// The relay answered 250 to the data: the mail is its to deliver. A QUIT it refuses, or
	// a connection it drops instead of answering, changes nothing of that, and calling
	// it a failure would fail a task whose link the recipients already have.
	_ = c.Quit()
	return nil
}

// helloName is what EHLO calls this client: the address literal of the connection's own
// end (RFC 5321 4.1.3), valid where no fully qualified name is known (a container's host
// name is rarely one), which "localhost" is not; relays that check refused it.
func helloName(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "localhost"
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + ta.IP.String() + "]"
}

// auth picks the mechanism of the relay's offer: PLAIN, else LOGIN, which Microsoft 365's
// smtp.office365.com offers alone (net/smtp would send AUTH PLAIN whatever the offer, and
// such a relay refused every mail). Both refuse to send the password over an unencrypted
// connection to anything but localhost.
func (m *Mailer) auth(c *smtp.Client) (smtp.Auth, error) {
	ok, offer := c.Extension("AUTH")
	mechs := strings.Fields(strings.ToUpper(offer))
	switch {
	case !ok:
		return nil, &publicError{"the relay offers no authentication (AUTH), and smtp.username is set"}
	case slices.Contains(mechs, "PLAIN"):
		return smtp.PlainAuth("", m.cfg.Username, m.cfg.Password, m.cfg.Host), nil
	case slices.Contains(mechs, "LOGIN"):
		return &loginAuth{user: m.cfg.Username, pass: m.cfg.Password, host: m.cfg.Host}, nil
	}
	return nil, &publicError{fmt.Sprintf("the relay offers AUTH %s; chatvault authenticates with PLAIN or LOGIN", offer)}
}

// loginAuth is SASL LOGIN (draft-murchison-sasl-login): the user name and the password,
// each asked for by the relay in turn.
type loginAuth struct {
	user, pass, host string
	step             int
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	// As net/smtp's PlainAuth: never in the clear but to this host, and only to the host
	// configured (a relay's name from a redirected connection gets nothing).
	if !server.TLS && !LocalRelay(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	// Relays word their prompts variously ("Username:", "User Name"); what is asked for
	// first is the user name, then the password.
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", fromServer)
}

// LocalRelay reports whether host names this host, the only relay net/smtp's PlainAuth
// (and loginAuth) authenticate to over an unencrypted connection; config refuses a
// username with smtp.security none to any other, at start rather than at every mail.
func LocalRelay(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (m *Mailer) session(c *smtp.Client, hello string, rcpts []string, msg []byte) error {
	if err := c.Hello(hello); err != nil {
		return err
	}
	if m.cfg.Security == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return &publicError{"the relay does not offer STARTTLS (set smtp.security to none only for a trusted relay)"}
		}
		if err := c.StartTLS(m.tlsConfig()); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if m.cfg.Username != "" {
		a, err := m.auth(c)
		if err != nil {
			return err
		}
		if err := c.Auth(a); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	// An address beyond ASCII needs the relay's SMTPUTF8 (RFC 6531), which net/smtp's Mail
	// asks for when offered; without it, net/smtp would send the address raw anyway.
	if ok, _ := c.Extension("SMTPUTF8"); !ok {
		for _, a := range append([]string{m.from.Address}, rcpts...) {
			if !ascii(a) {
				return &publicError{fmt.Sprintf("the relay does not offer SMTPUTF8, which the address %s needs", a)}
			}
		}
	}
	// A relay need take only 100 recipients a message and answers 452 to the next (RFC
	// 5321 4.5.3.1.8): more go in further messages of the same session.
	for sent := 0; sent < len(rcpts); sent += maxRcpts {
		err := m.transaction(c, rcpts[sent:min(sent+maxRcpts, len(rcpts))], msg)
		if err != nil && sent > 0 {
			return &partialError{sent: sent, total: len(rcpts), err: err}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxRcpts is the number of recipients every relay must take in one message.
const maxRcpts = 100

func (m *Mailer) transaction(c *smtp.Client, rcpts []string, msg []byte) error {
	if err := c.Mail(m.from.Address); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("recipient %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ctxErr prefers the context's error: a send cut off by cancellation or the timeout should
// say so, not report "use of closed network connection".
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	// The connection's deadline is the context's, but its timer may fire first.
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}
