package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
)

func TestServesUntilStopped(t *testing.T) {
	t.Setenv("ROGER365_SIM_KEY", "")
	data := filepath.Join(t.TempDir(), "book.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-key", "k1", "-replicator", "r1,Zoho CRM,zoho,Contacts", "-data", data}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no first line: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "roger365-sim listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	do := func(method, path, body string) string {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	got := do("GET", "/v1/replicators/r1", "")
	if got != `{"id":"r1","name":"Zoho CRM","source_type":"zoho","entity":"Contacts"}` {
		t.Errorf("replicator %s", got)
	}
	do(
		"PUT",
		"/v1/replicators/r1/contacts",
		`{"stream":"contacts","generation":1,"contacts":[{"source_id":"1","display_name":"Ada","phones":[{"type":"work",`+
			`"number":"+31201234567"}]}]}`,
	)
	if got := do("GET", "/v1/lookup?number=%2B31201234567", ""); !strings.Contains(got,
		`"source_id":"1","replicator_id":"r1","phone_type":"work"`) {
		t.Errorf("lookup %s", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The phonebook was written on the way out.
	sim, err := rogersim.New(rogersim.Options{DataFile: data})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if m := sim.Lookup("+31201234567"); len(m) != 1 {
		t.Errorf("after restart: %v", m)
	}
}

func TestFlags(t *testing.T) {
	t.Setenv("ROGER365_SIM_KEY", "")
	if err := run(context.Background(), nil, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "no API key") {
		t.Errorf("without a key: %v", err)
	}
	if err := run(context.Background(), []string{"-key", "k", "-replicator", ",x"}, io.Discard, io.Discard); err == nil {
		t.Error("a replicator without an id was accepted")
	}
	r, err := parseReplicator("r7")
	if err != nil || r != (rogersim.Replicator{ID: "r7", Name: "Replicator r7", SourceType: "crm", Entity: "contacts"}) {
		t.Errorf("defaults %+v %v", r, err)
	}
	r, err = parseReplicator("r8, Sales ,hubspot,")
	if err != nil || r != (rogersim.Replicator{ID: "r8", Name: "Sales", SourceType: "hubspot", Entity: "contacts"}) {
		t.Errorf("partial %+v %v", r, err)
	}
}
