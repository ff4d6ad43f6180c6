package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Defaults of Server.VerifyFirstMaxSize and Server.VerifyFirstMemory.
const (
	DefaultVerifyFirstMaxSize = 8 << 20
	DefaultVerifyFirstMemory  = 64 << 20
)

// streamChunk is the read size of a streamed body, and so the most bytes held back until
// its hash checks: the last read, 1 byte to streamChunk.
const streamChunk = 64 << 10

// errMismatch marks stored bytes that differ from what their manifest says: other bytes,
// another size, or, for the decompressed coding, a gzip stream that does not decode.
var errMismatch = errors.New("does not match its manifest")

// mismatchError is what the client is told when a stored object failed its check before
// anything was sent.
func mismatchError(what string) *Error {
	return errorf(EInternal, "the stored %s does not match its manifest, so none of it was sent; "+
		"the server reported it to its operator (chatvault verify shows the object)", what)
}

// sendResult is what a verified send did.
type sendResult struct {
	bytes    int64  // body bytes written
	sha256   string // hex SHA-256 of what was read, as far as it was read
	complete bool   // every byte was sent, and they are what the manifest says
	err      error  // why not complete, once the header was sent (for the log)
}

// watchedReader remembers whether the store's own reader failed, to tell a store that
// cannot be read (internal) from stored bytes that do not decode (a mismatch).
type watchedReader struct {
	r   io.Reader
	err error
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF {
		w.err = err
	}
	return n, err
}

// writeError is a failure to write the response: the client went away or stopped
// reading. It says nothing about the stored bytes.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// classify turns a failure to read body, which decodes src, into errMismatch unless the
// store itself failed or the client did (a writeError): a client that hangs up must not
// pass for tampering, whose alert would then fire on every cancelled download.
func classify(err error, src *watchedReader) error {
	var we *writeError
	if err == nil || errors.Is(err, errMismatch) || src.err != nil || errors.As(err, &we) {
		return err
	}
	return fmt.Errorf("%w: %w", errMismatch, err)
}

// verifyFirstMax is the largest body read and checked before its first byte is sent, or
// -1 when none is.
func (s *Server) verifyFirstMax() int64 {
	switch {
	case s.VerifyFirstMaxSize == 0:
		return DefaultVerifyFirstMaxSize
	case s.VerifyFirstMaxSize < 0:
		return -1
	}
	return s.VerifyFirstMaxSize
}

// sendVerified answers 200 with body, which must be size bytes hashing to want (hex
// SHA-256), after setHeaders has set the response's headers. A client never receives all
// of a body that does not match:
//
//   - A body up to Server.VerifyFirstMaxSize, when the memory budget
//     (Server.VerifyFirstMemory) has room for it, is read and hashed in memory first. On a
//     mismatch or a read error nothing is sent: the error is returned (errMismatch when
//     the bytes are at fault) for the caller to answer, and no header is set.
//   - A larger one is streamed while it is hashed, but its last read (up to streamChunk
//     bytes) is held back until the body has ended and its size and hash check; when they
//     do not, it is never sent, and the caller must cut the connection (the client then
//     sees a body shorter than its Content-Length, not a clean end).
//
// Once the header is sent the error is nil, and the result says what happened.
func (s *Server) sendVerified(w http.ResponseWriter, body io.Reader, size int64, want string, setHeaders func(http.Header)) (sendResult, error) {
	if limit := s.verifyFirstMax(); size >= 0 && size <= limit && s.verifyBudget.TryAcquire(size) {
		defer s.verifyBudget.Release(size)
		return s.sendChecked(w, body, size, want, setHeaders)
	}
	return s.sendHeldBack(w, body, size, want, setHeaders)
}

func (s *Server) sendChecked(w http.ResponseWriter, body io.Reader, size int64, want string, setHeaders func(http.Header)) (sendResult, error) {
	var res sendResult
	buf := make([]byte, size)
	if _, err := io.ReadFull(body, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return res, fmt.Errorf("read: %w", err)
	}
	// Read to the end: a longer body does not match, and a gzip reader checks its CRC
	// only there.
	var one [1]byte
	if n, err := io.ReadFull(body, one[:]); n > 0 {
		return res, fmt.Errorf("%w: longer than %d bytes", errMismatch, size)
	} else if err != io.EOF {
		return res, fmt.Errorf("read: %w", err)
	}
	sum := sha256.Sum256(buf)
	res.sha256 = hex.EncodeToString(sum[:])
	if res.sha256 != want {
		return res, fmt.Errorf("%w: SHA-256 %s, want %s", errMismatch, res.sha256, want)
	}
	setHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	n, err := w.Write(buf)
	res.bytes = int64(n)
	if err != nil {
		res.err = &writeError{err}
	}
	res.complete = err == nil && int64(n) == size
	return res, nil
}

func (s *Server) sendHeldBack(w http.ResponseWriter, body io.Reader, size int64, want string, setHeaders func(http.Header)) (sendResult, error) {
	var res sendResult
	setHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	h := sha256.New()
	bufs := [2][]byte{make([]byte, streamChunk), make([]byte, streamChunk)}
	var held []byte
	var read int64
	for i := 0; ; i ^= 1 {
		n, err := fill(body, bufs[i])
		if n > 0 {
			read += int64(n)
			h.Write(bufs[i][:n])
			if len(held) > 0 {
				k, werr := w.Write(held)
				res.bytes += int64(k)
				if werr != nil {
					res.err = &writeError{werr}
					return res, nil
				}
			}
			held = bufs[i][:n] // the other buffer is read into next
		}
		if read > size {
			res.err = fmt.Errorf("%w: longer than %d bytes", errMismatch, size)
			return res, nil
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = fmt.Errorf("read: %w", err)
			return res, nil
		}
	}
	res.sha256 = hex.EncodeToString(h.Sum(nil))
	switch {
	case read != size:
		res.err = fmt.Errorf("%w: %d bytes, want %d", errMismatch, read, size)
		return res, nil
	case res.sha256 != want:
		res.err = fmt.Errorf("%w: SHA-256 %s, want %s", errMismatch, res.sha256, want)
		return res, nil
	}
	k, err := w.Write(held)
	res.bytes += int64(k)
	if err != nil {
		res.err = &writeError{err}
	}
	res.complete = err == nil && res.bytes == size
	return res, nil
}

// fill reads into b until it is full or r fails; io.EOF when r ended.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
