package attach

import "strings"

// EncodingSuffix is the file-name suffix that says a captured file's bytes are encoded as
// recorded (Entry.ContentEncoding): ".gz" for gzip, the encodings in the order the host
// applied them ("gzip, br": ".gz.br"); "" for none. A reader that names or serves the
// file adds it, so that the name says what the bytes are: they are kept, hashed and
// served as served, never decoded (decoding them would give bytes the index does not
// name). An encoding without a usual suffix gets ".<name>" when its name is a plain
// token, else ".encoded".
func EncodingSuffix(encoding string) string {
	var b strings.Builder
	for _, e := range strings.Split(encoding, ",") {
		switch e = strings.ToLower(strings.TrimSpace(e)); e {
		case "", "identity":
		case "gzip", "x-gzip":
			b.WriteString(".gz")
		case "br":
			b.WriteString(".br")
		case "zstd":
			b.WriteString(".zst")
		case "compress", "x-compress":
			b.WriteString(".Z")
		case "deflate":
			b.WriteString(".zz") // zlib, not raw deflate
		default:
			if plainToken(e) {
				b.WriteString("." + e)
			} else {
				b.WriteString(".encoded")
			}
		}
	}
	return b.String()
}

func plainToken(s string) bool {
	if len(s) > 16 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
