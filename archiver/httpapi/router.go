package httpapi

import (
	"net/http"
	"strconv"
)

// Error codes of the router itself: no route has the path, or none has the method.
const (
	ENotFound         = "not_found"
	EMethodNotAllowed = "method_not_allowed"
)

// jsonRouter serves mux, but answers what no route matches (404, and 405 with Allow) in
// the API's JSON error shape instead of net/http's plain text, so that every answer of the
// API parses the same way. Such requests are counted under the route "unmatched".
func (s *Server) jsonRouter(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux's own answer says which case this is (and sets Allow for 405); it is
		// captured, not sent.
		c := &captured{header: http.Header{}}
		h.ServeHTTP(c, r)
		var err *Error
		switch c.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", c.header.Get("Allow"))
			err = errorf(EMethodNotAllowed, "%s is not allowed here; allowed: %s", r.Method, c.header.Get("Allow"))
		case http.StatusNotFound, 0:
			err = errorf(ENotFound, "no such resource")
		default:
			// Anything else the mux answers by itself (a redirect to the clean path) goes
			// out as the mux sends it.
			mux.ServeHTTP(w, r)
			return
		}
		s.requests.WithLabelValues("unmatched", strconv.Itoa(statusOf[err.Code])).Inc()
		s.Error(w, r, err)
	})
}

// captured records a handler's status and headers and drops its body.
type captured struct {
	header http.Header
	status int
}

func (c *captured) Header() http.Header { return c.header }

func (c *captured) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *captured) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(p), nil
}
