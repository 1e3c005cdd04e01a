package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/state"
)

const hookSecret = "a-channel-secret-of-43-characters-xxxxxxxxx"

// TestCallbacksKeepTheListenersRules: the pipeline's page shows its
// notifications live and until when; the callback endpoint needs no
// token, but a callback for a name the host does not serve is refused
// like any request (421); public_url's host is served, and a verified
// callback answered 204. The channel's pipeline, "manual", runs only
// when asked, so nothing runs before the callback wakes it.
func TestCallbacksKeepTheListenersRules(t *testing.T) {
	expires := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	f := newConsoleFixtureWith(t, consoleSetup{
		host: tokenHost + `  public_url    = "https://hooks.example.com/replicator"` + "\n",
		before: func(dir string) {
			s, err := state.OpenFile(filepath.Join(dir, config.DefaultStateFile), state.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.SaveChannel(context.Background(), state.Channel{
				Key: "the-key", ID: "the-id", Pipeline: "manual", URL: "https://hooks.example.com/replicator/hooks/the-key",
				Secret: hookSecret, SecretField: "token", Streams: []string{"items"}, Expires: expires, Watched: time.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
	f.login()
	want := "Change notifications live until " + expires.Local().Format(time.DateTime) + "; no callback yet."
	if _, _, body := f.get("/pipelines/manual"); !strings.Contains(body, want) {
		t.Errorf("the pipeline's page does not say %q:\n%s", want, body)
	}
	callback := func(host, token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, f.base+"/hooks/the-key", strings.NewReader(`{"token":"`+token+`"}`))
		req.Host = host
		code, _, _ := f.do(req)
		return code
	}
	if code := callback("evil.example", hookSecret); code != http.StatusMisdirectedRequest {
		t.Errorf("a callback for another name: %d, want 421", code)
	}
	if code := callback("hooks.example.com", "not-the-secret"); code != http.StatusUnauthorized {
		t.Errorf("a forged callback: %d, want 401", code)
	}
	if code := callback("hooks.example.com", hookSecret); code != http.StatusNoContent {
		t.Errorf("a verified callback: %d, want 204", code)
	}
}
