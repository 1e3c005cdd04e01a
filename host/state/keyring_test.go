package state

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func newKey(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestKeyringRotation(t *testing.T) {
	oldKey, newKeyS := newKey(t), newKey(t)
	old, err := NewKeyring(oldKey, "")
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"refresh_token":"secret"}`)
	sealed, err := old.Seal("source.zoho.eu", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("sealed credentials hold the plaintext")
	}
	// Rotated: the old key is previous; what it sealed still opens, and
	// new seals use the new key.
	raw, _ := base64.StdEncoding.DecodeString(newKeyS)
	rotated, err := NewKeyring(hex.EncodeToString(raw), oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open("source.zoho.eu", sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open with the previous key: %q, %v", got, err)
	}
	resealed, _ := rotated.Seal("source.zoho.eu", plain)
	if _, err := old.Open("source.zoho.eu", resealed); err == nil || !strings.Contains(err.Error(), "neither encryption_key") {
		t.Errorf("old keyring opened the new key's seal: %v", err)
	}
	// Bound to the source.
	if _, err := rotated.Open("source.zoho.us", sealed); err == nil {
		t.Error("credentials opened under another source")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := old.Open("source.zoho.eu", tampered); err == nil {
		t.Error("altered credentials opened")
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 63)} {
		if _, err := NewKeyring(bad, ""); err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("key %q: %v", bad, err)
		}
	}
}

// FuzzOpenCredentials: stored bytes never panic the keyring, and only what
// it sealed opens.
func FuzzOpenCredentials(f *testing.F) {
	k, err := NewKeyring(strings.Repeat("ab", 32), "")
	if err != nil {
		f.Fatal(err)
	}
	// Seal draws a fresh nonce, and each fuzzing process runs this setup
	// anew: the envelope is a constant, made once by Seal, so that every
	// process knows the same one and a seed from one process is no forgery
	// in another.
	sealed, err := hex.DecodeString("019a2db2e23f1504cde576776a4521626bfca66033b18ff4b9b5657b8b0db20caeda35ccc28fbe7a1408dcaa")
	if err != nil {
		f.Fatal(err)
	}
	if plain, err := k.Open("source.a.b", sealed); err != nil || string(plain) != `{"t":1}` {
		f.Fatalf("the constant envelope opens to %q, %v", plain, err)
	}
	f.Add(sealed)
	f.Add([]byte{1})
	f.Add(append([]byte{1}, sealed[1:10]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if plain, err := k.Open("source.a.b", b); err == nil && !bytes.Equal(b, sealed) && len(plain) > 0 {
			// GCM's tag makes a forgery all but impossible; finding one
			// means the envelope is checked wrongly.
			t.Fatalf("forged credentials opened: %q", plain)
		}
	})
}
