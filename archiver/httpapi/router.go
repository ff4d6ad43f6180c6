package httpapi

import (
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Error codes of the router itself: no route has the path, or none has the method.
const (
	ENotFound         = "not_found"
	EMethodNotAllowed = "method_not_allowed"
)

// jsonRouter serves mux, but answers what no route matches (404, and 405 with Allow) in
// the API's JSON error shape instead of net/http's plain text, so that every answer of the
// API parses the same way. Such requests are counted under the route "unmatched".
//
// A path that is not clean (an empty, "." or ".." segment: //v1/exports,
// /v1/../v1/exports) is 404 not_found too. The mux would redirect it to the cleaned path,
// but its Location is built from the path the API sees: behind a proxy that strips a path
// prefix, the client is sent outside the API. No client of the API needs such paths, so
// no redirect is made at all, rather than one that guesses the prefix.
func (s *Server) jsonRouter(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err *Error
		if p := r.URL.EscapedPath(); cleanPath(p) != p {
			err = errorf(ENotFound, "no such resource: the path is not clean (an empty, . or .. segment)")
		} else if h, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		} else {
			// The mux's own answer says which case this is (and sets Allow for 405); it
			// is captured, not sent.
			c := &captured{header: http.Header{}}
			h.ServeHTTP(c, r)
			switch c.status {
			case http.StatusMethodNotAllowed:
				w.Header().Set("Allow", c.header.Get("Allow"))
				err = errorf(EMethodNotAllowed, "%s is not allowed here; allowed: %s", r.Method, c.header.Get("Allow"))
			default:
				// 404, or a redirect the mux would make (to add a trailing slash): the
				// API has no path that needs one, and a redirect's Location would miss
				// a proxy's path prefix (see above).
				err = errorf(ENotFound, "no such resource")
			}
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

// cleanPath is net/http's ServeMux's: p with a leading slash, no empty, "." or ".."
// segment, and its trailing slash kept. A path it changes is one the mux would redirect.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			np = p
		} else {
			np += "/"
		}
	}
	return np
}
