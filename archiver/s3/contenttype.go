package s3

import "path"

// contentTypes maps the last extension of the keys chatvault writes to the media type the
// object is stored with (events-….jsonl.gz is gzip). S3 returns an object's Content-Type
// on every GET, presigned downloads included, so a browser or an examiner's tool is told
// what the bytes are instead of S3's default binary/octet-stream. A table rather than
// mime.TypeByExtension, whose answer depends on the host's /etc/mime.types.
var contentTypes = map[string]string{
	".gz":    "application/gzip",
	".jsonl": "application/x-ndjson",
	".json":  "application/json",
	".zip":   "application/zip",
	".html":  "text/html; charset=utf-8",
	".csv":   "text/csv; charset=utf-8",
	".txt":   "text/plain; charset=utf-8",
	".pem":   "application/x-pem-file",
}

// contentType returns the media type of key by its extension, application/octet-stream
// for any other.
func contentType(key string) string {
	if t, ok := contentTypes[path.Ext(key)]; ok {
		return t
	}
	return "application/octet-stream"
}
