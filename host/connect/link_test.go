package connect

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLinkOpens(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	key, old, other := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("x", 32))
	l, err := NewLink("source.zoho.crm", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	token, err := l.Sign(old)
	if err != nil {
		t.Fatal(err)
	}
	// A link signed before a key rotation opens with the previous key.
	got, err := OpenLink([][]byte{key, old}, token, now)
	if err != nil || got != l {
		t.Fatalf("OpenLink = %+v, %v; want %+v", got, err, l)
	}
	if _, err := OpenLink([][]byte{other}, token, now); !errors.Is(err, ErrTampered) {
		t.Errorf("a link of another key: %v", err)
	}
	if _, err := OpenLink([][]byte{old}, token, now.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("a link at its expiry: %v", err)
	}
	// A state signed with the same key is not a link.
	var st webState
	state, _ := sign(old, purposeState, webState{Link: l})
	if _, err := OpenLink([][]byte{old}, state, now); !errors.Is(err, ErrTampered) {
		t.Errorf("a state opened as a link: %v", err)
	}
	if err := open([][]byte{old}, purposeState, token, &st); !errors.Is(err, ErrTampered) {
		t.Errorf("a link opened as a state: %v", err)
	}
	for _, bad := range []string{"", ".", token + "x", "x" + token, strings.Replace(token, ".", "", 1)} {
		if _, err := OpenLink([][]byte{old}, bad, now); !errors.Is(err, ErrTampered) {
			t.Errorf("OpenLink(%q): %v", bad, err)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Second, MaxLinkTTL + time.Second} {
		if _, err := NewLink("source.zoho.crm", ttl, now); err == nil {
			t.Errorf("a link lasting %s was made", ttl)
		}
	}
}
