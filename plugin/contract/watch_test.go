package contract

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestChannelLimits(t *testing.T) {
	for s, want := range map[string]bool{
		strings.Repeat("a", MinChannelSecret-1):   false,
		strings.Repeat("a", MinChannelSecret):     true,
		strings.Repeat("Z9_-", 10) + "0123456789": true, // 50
		strings.Repeat("a", MaxChannelSecret+1):   false,
		strings.Repeat("a", 30) + ".":             false,
		strings.Repeat("a", 30) + "=":             false,
		strings.Repeat("a", 30) + "é":             false,
	} {
		if got := ValidChannelSecret(s); got != want {
			t.Errorf("ValidChannelSecret(%q) = %v", s, got)
		}
	}
	for id, want := range map[string]bool{
		"":                                  false,
		"p.contacts-1_a":                    true,
		strings.Repeat("x", MaxChannelID):   true,
		strings.Repeat("x", MaxChannelID+1): false,
		"a/b":                               false,
		"a b":                               false,
	} {
		if got := ValidChannelID(id); got != want {
			t.Errorf("ValidChannelID(%q) = %v", id, got)
		}
	}
}

func TestChangeSignalsValidate(t *testing.T) {
	for _, c := range []ChangeSignals{
		{SecretField: "token"},
		{SecretField: "client_state", MaxBodyBytes: MaxSignalBodyBytes},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, c := range []ChangeSignals{
		{},
		{SecretField: "a b"},
		{SecretField: "token", MaxBodyBytes: -1},
		{SecretField: "token", MaxBodyBytes: MaxSignalBodyBytes + 1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v is valid", c)
		}
	}
	if got := (ChangeSignals{SecretField: "t"}).BodyLimit(); got != DefaultSignalBodyBytes {
		t.Errorf("default body limit %d", got)
	}
}

func TestRenewBefore(t *testing.T) {
	since := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for life, left := range map[time.Duration]time.Duration{
		7 * 24 * time.Hour: 56 * time.Hour,   // a third of a week
		48 * time.Hour:     24 * time.Hour,   // a day before, earlier than a third
		time.Hour:          20 * time.Minute, // a third: a day before is before it began
	} {
		expires := since.Add(life)
		if got := expires.Sub(RenewBefore(since, expires)); got != left {
			t.Errorf("a subscription of %v is renewed %v before it ends, want %v", life, got, left)
		}
	}
}

func TestChangeSignalsVerify(t *testing.T) {
	c := ChangeSignals{SecretField: "token", MaxBodyBytes: 200}
	secret, old := strings.Repeat("s", 43), strings.Repeat("o", 43)
	for body, want := range map[string]error{
		`{"token":"` + secret + `","ids":["1"]}`:      nil,
		`{"ids":["1"],"token":"` + old + `"}`:         nil, // the previous secret, during a rotation
		`{"token":"` + secret + `x"}`:                 ErrSignalForged,
		`{"token":"` + strings.Repeat("s", 42) + `"}`: ErrSignalForged,
		`{"Token":"` + secret + `"}`:                  ErrSignalForged,
		`{"token":["` + secret + `"]}`:                ErrSignalForged,
		`{"token":""}`:                                ErrSignalForged,
		`["` + secret + `"]`:                          ErrSignalForged,
		`not json ` + secret:                          ErrSignalForged,
		`{"token":"` + secret + `","pad":"` + strings.Repeat("x", 200) + `"}`: ErrSignalTooLarge,
	} {
		if got := c.Verify([]byte(body), secret, old); !errors.Is(got, want) {
			t.Errorf("Verify(%.60s) = %v, want %v", body, got, want)
		}
	}
	if got := c.Verify([]byte(`{"token":""}`), ""); !errors.Is(got, ErrSignalForged) {
		t.Errorf("an empty secret matched: %v", got)
	}
}
