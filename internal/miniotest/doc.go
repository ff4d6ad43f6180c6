// Package miniotest starts a real MinIO server for tests of the S3 adapters, so they run
// the AWS SDK on the wire against a server rather than against mocks.
//
// The server binary comes from the CHATVAULT_MINIO environment variable, which `make test`
// sets after scripts/minio.sh has built (or found cached) the pinned MinIO version. Without
// it, or when the server does not start, tests fail: an S3 adapter that is silently not
// tested must not look like one that passed. Under `go test -short` they skip instead.
package miniotest
