package s3

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/chatvault/chatvault/internal/reliability"
)

// proxyChildEnv marks the child process of TestMetadataNeverProxied.
const proxyChildEnv = "CHATVAULT_S3_PROXY_CHILD"

// testProxy is the proxy the child's environment names. Nothing listens there: the test
// only asks the transport which proxy a request would take, it sends nothing.
const testProxy = "http://127.0.0.1:9"

// TestMetadataNeverProxied runs itself in a child process with HTTP_PROXY and HTTPS_PROXY
// set (Go reads them once per process): the S3 client's transport sends S3 requests to the
// proxy but never a request for the instance's metadata or credentials (EC2 IMDS, the ECS
// and EKS credential endpoints: link-local addresses that only the host itself reaches).
// Through an egress proxy such a request fails ("no EC2 IMDS role found"), or reaches the
// metadata service of the proxy's own host and gets that host's role.
func TestMetadataNeverProxied(t *testing.T) {
	if os.Getenv(proxyChildEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMetadataNeverProxied$", "-test.v")
		cmd.Env = append(os.Environ(), proxyChildEnv+"=1",
			"HTTP_PROXY="+testProxy, "HTTPS_PROXY="+testProxy, "http_proxy=", "https_proxy=", "NO_PROXY=", "no_proxy=",
			"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestMetadataNeverProxied") {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		reliability.Record(t, "security", "HTTP_PROXY and HTTPS_PROXY set where S3's credentials come from the instance (EC2 IMDS, ECS task role, EKS Pod Identity)", reliability.Kept,
			"S3 requests take the proxy; requests to link-local and AWS metadata addresses go direct, never to the proxy (before: the instance role's credentials were asked of the proxy)")
		return
	}
	c, err := NewClient(context.Background(), ClientConfig{Region: "us-east-1", Endpoint: "https://s3.chatvault.onion"})
	if err != nil {
		t.Fatal(err)
	}
	checkProxy(t, "the S3 client", c.Options().HTTPClient)
	// The configuration's client is the one the credential chain's instance role
	// provider (EC2 IMDS) and STS are built with.
	ac, err := loadAWSConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	checkProxy(t, "the AWS configuration", ac.HTTPClient)
}

// checkProxy asks hc's transport which proxy each request would take.
func checkProxy(t *testing.T, what string, hc any) {
	t.Helper()
	bc, ok := hc.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("%s: HTTP client %T, want *awshttp.BuildableClient", what, hc)
	}
	proxy := bc.GetTransport().Proxy
	if proxy == nil {
		t.Fatalf("%s: no proxy function: the environment's proxy is not used", what)
	}
	for _, tc := range []struct {
		url   string
		proxy string
	}{
		{"https://s3.chatvault.onion/bucket/key", testProxy},
		{"https://bucket.s3.eu-west-1.amazonaws.com/key", testProxy},
		{"http://minio.chatvault.onion:9000/bucket", testProxy},
		{"http://169.254.169.254/latest/api/token", ""}, // EC2 IMDS
		{"http://[fd00:ec2::254]/latest/api/token", ""}, // EC2 IMDS over IPv6
		{"http://169.254.170.2/v2/credentials/id", ""},  // ECS task role
		{"http://169.254.170.23/v1/credentials", ""},    // EKS Pod Identity
		{"http://[fd00:ec2::23]/v1/credentials", ""},    // EKS Pod Identity over IPv6
		{"http://[fe80::1]/", ""},                       // any IPv6 link-local address
		{"http://127.0.0.1:9000/bucket", ""},            // loopback: Go's rule
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		u, err := proxy(req)
		got := ""
		if u != nil {
			got = u.String()
		}
		if err != nil || got != tc.proxy {
			t.Errorf("%s: %s goes through proxy %q (err %v), want %q", what, tc.url, got, err, tc.proxy)
		}
	}
}
