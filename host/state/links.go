package state

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Connect links are signed with a key every host sharing the state knows:
// one derived from the encryption key when the state has one (so a copy
// of the database alone cannot sign links), else a random key the state
// file keeps. Their use is recorded in the state, so that a link connects
// its source once, whichever host it reaches.

// LinkKeySize is the size of a connect links' signing key.
const LinkKeySize = 32

// ErrLinkUsed is returned by ConnectWithLink for a link that connected
// its source already.
var ErrLinkUsed = errors.New("the connect link was used already")

// linkKeyPurpose separates the links' key from other uses of the
// encryption key.
const linkKeyPurpose = "replicator connect links v1"

// LinkKeys returns the keys connect links are signed with, derived from
// the current key and the previous one: the first signs, each verifies,
// so that links made before a key rotation still open.
func (k *Keyring) LinkKeys() [][]byte {
	var out [][]byte
	for _, key := range []*aeadKey{k.current, k.previous} {
		if key != nil {
			out = append(out, key.link)
		}
	}
	return out
}

// deriveLinkKey derives the links' key from an encryption key.
func deriveLinkKey(raw []byte) []byte {
	m := hmac.New(sha256.New, raw)
	m.Write([]byte(linkKeyPurpose))
	return m.Sum(nil)
}

// Buckets of connect links: the key the file signs with when it has no
// encryption key, and the links used, by id.
var (
	bucketLinkKey = []byte("link_key")
	bucketLinks   = []byte("links")
	keyLinkKey    = []byte("key")
)

// linkKeyRecord is the state file's own links' key.
type linkKeyRecord struct {
	Key []byte `json:"key"`
}

// linkRecord is a used link.
type linkRecord struct {
	Source  string    `json:"source"`
	Used    time.Time `json:"used"`
	Expires time.Time `json:"expires"`
}

// LinkKeys returns the keys connect links are signed with: derived from
// the encryption key, or else the file's own, made at the first call.
func (s *File) LinkKeys(ctx context.Context) ([][]byte, error) {
	if s.keys != nil {
		return s.keys.LinkKeys(), nil
	}
	var key []byte
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLinkKey)
		if err != nil {
			return err
		}
		v, err := get(b, keyLinkKey)
		if err != nil {
			return err
		}
		if v != nil {
			var r linkKeyRecord
			if err := json.Unmarshal(v, &r); err != nil || len(r.Key) != LinkKeySize {
				return fmt.Errorf("%w: the stored key of connect links is not one", errUnreadable)
			}
			key = r.Key
			return nil
		}
		key = make([]byte, LinkKeySize)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		v, err = json.Marshal(linkKeyRecord{Key: key})
		if err != nil {
			return err
		}
		return put(b, keyLinkKey, v)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the key of connect links: %w", err)
	}
	return [][]byte{key}, nil
}

// LinkUsed returns when connect link id connected its source, or the zero
// time.
func (s *File) LinkUsed(ctx context.Context, id string) (time.Time, error) {
	var r linkRecord
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLinks)
		if b == nil {
			return nil
		}
		v, err := get(b, []byte(id))
		if err != nil || v == nil {
			return err
		}
		return json.Unmarshal(v, &r)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("reading whether connect link %s was used: %w", id, err)
	}
	return r.Used, nil
}

// ConnectWithLink stores source's credentials and records link id used,
// in one transaction; links expired for a day are forgotten meanwhile.
func (s *File) ConnectWithLink(ctx context.Context, id, source string, expires time.Time, c json.RawMessage) error {
	if id == "" || source == "" || len(c) == 0 || !json.Valid(c) {
		return fmt.Errorf("connecting %s: the link id, the source and valid credentials are required", source)
	}
	now := time.Now().UTC()
	rec, err := json.Marshal(linkRecord{Source: source, Used: now, Expires: expires.UTC()})
	if err != nil {
		return err
	}
	v := []byte(c)
	if s.keys != nil {
		if v, err = s.keys.Seal(source, c); err != nil {
			return err
		}
	}
	err = s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLinks)
		if err != nil {
			return err
		}
		if b.Get([]byte(id)) != nil {
			return ErrLinkUsed
		}
		if err := forgetExpiredLinks(b, now); err != nil {
			return err
		}
		if err := put(b, []byte(id), rec); err != nil {
			return err
		}
		return put(tx.Bucket(bucketCredentials), []byte(source), v)
	})
	if err != nil {
		return fmt.Errorf("connecting %s: %w", source, err)
	}
	return nil
}

// LinkGrace is how long the record of a used link outlives the link:
// an expired link is refused for its expiry, whatever the record.
const LinkGrace = 24 * time.Hour

func forgetExpiredLinks(b *bolt.Bucket, now time.Time) error {
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var r linkRecord
		if p, err := unframe(k, v); err == nil && json.Unmarshal(p, &r) == nil && now.Sub(r.Expires) < LinkGrace {
			return nil
		}
		old = append(old, k)
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
