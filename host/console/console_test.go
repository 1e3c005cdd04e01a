package console

import (
	"strings"
	"testing"
)

func TestTokenRequiredOffLoopback(t *testing.T) {
	for _, listen := range []string{":8080", "0.0.0.0:8080", "192.0.2.7:8080", "example.org:80"} {
		if _, err := New(Options{Listen: listen}); err == nil || !strings.Contains(err.Error(), "console_token") {
			t.Errorf("New on %s without a token: %v, want an error naming console_token", listen, err)
		}
	}
	for _, listen := range []string{"127.0.0.1:8080", "[::1]:8080", "localhost:8080"} {
		if _, err := New(Options{Listen: listen}); err != nil {
			t.Errorf("New on loopback %s without a token: %v", listen, err)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/pipelines/a": "/pipelines/a", "": "/", "//evil.example/": "/", "https://evil.example/": "/",
		"/\\evil": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
