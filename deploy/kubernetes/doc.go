// Package kubernetes holds no code: its test decodes the manifests beside it strictly into
// Kubernetes' own Go types and checks what they deploy. It is a module of its own so that
// k8s.io/api and k8s.io/apimachinery stay out of chatvault's go.mod (and out of the
// image's `go mod download`); make test runs it with `cd deploy/kubernetes && go test`.
package kubernetes
