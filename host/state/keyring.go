package state

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Keyring encrypts credentials at rest with AES-256-GCM. It seals with the
// current key and opens with the current or the previous one, so that a
// key can be rotated: configure the new key as current and the old one as
// previous, and credentials are re-encrypted as they are next saved (or all
// at once by `replicator state copy`).
type Keyring struct {
	current, previous *aeadKey
}

type aeadKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
	link []byte // the connect links' key derived from it
}

// Sealed credentials are: a version byte, the key's ID (the first bytes of
// the SHA-256 of the key, which names the key without revealing it), the
// GCM nonce, then the ciphertext with its tag.
const (
	sealVersion = 1
	keyIDSize   = 8
)

// NewKeyring builds a keyring from keys of 32 random bytes written in
// base64 or hex (`openssl rand -base64 32` makes one); previous may be
// empty.
func NewKeyring(current, previous string) (*Keyring, error) {
	k := &Keyring{}
	var err error
	if k.current, err = parseKey(current); err != nil {
		return nil, fmt.Errorf("encryption_key: %w", err)
	}
	if previous != "" {
		if k.previous, err = parseKey(previous); err != nil {
			return nil, fmt.Errorf("previous_encryption_key: %w", err)
		}
	}
	return k, nil
}

func parseKey(s string) (*aeadKey, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		raw = b
	} else if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		raw = b
	} else {
		return nil, errors.New("the key is not 32 bytes written in base64 or hex; make one with `openssl rand -base64 32`")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &aeadKey{aead: aead, link: deriveLinkKey(raw)}
	sum := sha256.Sum256(raw)
	copy(k.id[:], sum[:])
	return k, nil
}

// KeyID is the current key's ID in hex, as error messages show it.
func (k *Keyring) KeyID() string { return hex.EncodeToString(k.current.id[:]) }

// Seal encrypts credentials for the row of source: the reference is bound
// to the ciphertext, so credentials moved to another source's row do not
// open.
func (k *Keyring) Seal(source string, plain []byte) ([]byte, error) {
	nonce := make([]byte, k.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypting credentials of %s: %w", source, err)
	}
	out := append([]byte{sealVersion}, k.current.id[:]...)
	out = append(out, nonce...)
	return k.current.aead.Seal(out, nonce, plain, []byte(source)), nil
}

// isSealed reports whether stored credentials are what Seal made rather
// than plain JSON, which never starts with the version byte.
func isSealed(b []byte) bool { return len(b) > 0 && b[0] == sealVersion }

// sealedKeyID is the ID of the key that sealed b, in hex.
func sealedKeyID(b []byte) string {
	if len(b) < 1+keyIDSize {
		return "(unknown)"
	}
	return hex.EncodeToString(b[1 : 1+keyIDSize])
}

// Open decrypts what Seal made for source.
func (k *Keyring) Open(source string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+keyIDSize || sealed[0] != sealVersion {
		return nil, fmt.Errorf("stored credentials of %s are not in a format this replicator knows", source)
	}
	id := sealed[1 : 1+keyIDSize]
	var key *aeadKey
	for _, c := range []*aeadKey{k.current, k.previous} {
		if c != nil && bytes.Equal(c.id[:], id) {
			key = c
			break
		}
	}
	if key == nil {
		return nil, fmt.Errorf("stored credentials of %s were encrypted with key %x, which is neither encryption_key (%s) nor previous_encryption_key; configure the key they were stored with",
			source, id, k.KeyID())
	}
	rest := sealed[1+keyIDSize:]
	if len(rest) < key.aead.NonceSize() {
		return nil, fmt.Errorf("stored credentials of %s are truncated", source)
	}
	plain, err := key.aead.Open(nil, rest[:key.aead.NonceSize()], rest[key.aead.NonceSize():], []byte(source))
	if err != nil {
		return nil, fmt.Errorf("stored credentials of %s do not decrypt with key %x: they were altered or belong to another source", source, id)
	}
	return plain, nil
}
