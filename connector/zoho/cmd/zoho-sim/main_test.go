package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestRunServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	var logs strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- run(
			ctx, []string{"-contacts", "25", "-accounts", "5", "-dc", "us", "-client-secret", "s3cret", "-v"}, w, &logs,
		)
		w.Close()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("no output: %v", lines.Err())
	}
	first := lines.Text()
	base, ok := strings.CutPrefix(first, "zoho-sim listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q", first)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()

	resp, err := http.Get(base + "/admin/client")
	if err != nil {
		t.Fatal(err)
	}
	var client map[string]string
	err = json.NewDecoder(resp.Body).Decode(&client)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if client["dc"] != "us" || client["client_secret"] != "s3cret" || client["accounts_url"] != base+"/accounts/{dc}" {
		t.Errorf("client %v", client)
	}
	resp, err = http.Get(base + "/admin/records/Contacts")
	if err != nil {
		t.Fatal(err)
	}
	var count map[string]int
	err = json.NewDecoder(resp.Body).Decode(&count)
	resp.Body.Close()
	if err != nil || count["count"] != 25 {
		t.Errorf("count %v %v", count, err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(logs.String(), "GET /admin/client 200") {
		t.Errorf("request log %q", logs.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-dc", "mars"}, {"-contacts", "-5"}, {"stray"}, {"-nope"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
