package state

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func keyring(t *testing.T, current, previous string) *Keyring {
	t.Helper()
	k, err := NewKeyring(current, previous)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openKeys(t *testing.T, path string, keys *Keyring) (*File, error) {
	t.Helper()
	s, err := OpenFile(path, FileOptions{Keys: keys})
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

const secretCreds = `{"refresh_token":"the-refresh-token"}`

// TestFileEncryptsCredentials: with a key, the file holds no credential
// in plain; without the key, or with another, reading them says which key
// to set; a rotated key reads them and seals anew.
func TestFileEncryptsCredentials(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := openKeys(t, path, keyring(t, oldKey, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCredentials(ctx, NoFence, "source.zoho.eu", json.RawMessage(secretCreds)); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Credentials(ctx, "source.zoho.eu"); err != nil || string(c) != secretCreds {
		t.Fatalf("credentials %s, %v", c, err)
	}
	s.Close()
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("the-refresh-token")) {
		t.Error("the state file holds the refresh token in plain")
	}

	oldID := keyring(t, oldKey, "").KeyID()
	for _, tc := range []struct {
		name string
		keys *Keyring
		want []string
	}{
		{"no key", nil, []string{"encrypted with key " + oldID, "set the state block's encryption_key"}},
		{"another key", keyring(t, newKey, ""), []string{"encrypted with key " + oldID, "neither encryption_key", "previous_encryption_key"}},
	} {
		s, err := openKeys(t, path, tc.keys)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, err = s.Credentials(ctx, "source.zoho.eu")
		for _, want := range tc.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v lacks %q", tc.name, err, want)
			}
		}
		if strings.Contains(err.Error(), "damaged") {
			t.Errorf("%s: a missing key is called damage: %v", tc.name, err)
		}
		s.Close()
	}

	// Rotation: the new key current, the old one previous.
	s, err = openKeys(t, path, keyring(t, newKey, oldKey))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Credentials(ctx, "source.zoho.eu"); err != nil || string(c) != secretCreds {
		t.Fatalf("credentials under the previous key: %s, %v", c, err)
	}
	if err := s.SaveCredentials(ctx, NoFence, "source.zoho.eu", json.RawMessage(secretCreds)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = openKeys(t, path, keyring(t, newKey, ""))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Credentials(ctx, "source.zoho.eu"); err != nil || string(c) != secretCreds {
		t.Errorf("credentials saved again under the new key: %s, %v", c, err)
	}
}

// TestFileSealsPlainCredentialsAtOpen: credentials stored in plain, before
// a key was configured, are sealed when the file is opened with one.
func TestFileSealsPlainCredentialsAtOpen(t *testing.T) {
	path := format1(t)
	var logged bytes.Buffer
	s, err := OpenFile(path, FileOptions{Keys: keyring(t, newKey(t), ""), Log: hclog.New(&hclog.LoggerOptions{Output: &logged})})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Credentials(ctx, "source.zoho.eu"); err != nil || string(c) != `{"refresh_token":"plain-refresh-token"}` {
		t.Errorf("credentials %s, %v", c, err)
	}
	s.Close()
	if !strings.Contains(logged.String(), "encrypted the credentials stored in plain") {
		t.Errorf("nothing logged of the encryption:\n%s", logged.String())
	}
	if v := rawValue(t, path, "credentials", "source.zoho.eu"); len(v) == 0 || bytes.Contains(v, []byte("plain-refresh-token")) {
		t.Errorf("stored credentials after an open with a key: %q", v)
	}
}
