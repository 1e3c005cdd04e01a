package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// channelRecord is a channel as the state file keeps it: its secret
// sealed when the file has keys, in Sealed, else in Secret.
type channelRecord struct {
	ID           string    `json:"id"`
	Pipeline     string    `json:"pipeline"`
	URL          string    `json:"url"`
	Secret       string    `json:"secret,omitempty"`
	Sealed       []byte    `json:"sealed,omitempty"`
	SecretField  string    `json:"secret_field"`
	MaxBodyBytes int       `json:"max_body_bytes,omitempty"`
	Streams      []string  `json:"streams"`
	Expires      time.Time `json:"expires,omitzero"`
	Watched      time.Time `json:"watched"`
	Signaled     time.Time `json:"signaled,omitzero"`
}

func decodeChannel(v []byte) (channelRecord, error) {
	var r channelRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return channelRecord{}, fmt.Errorf("%w: the stored channel is not valid JSON: %w", errUnreadable, err)
	}
	return r, nil
}

// SaveChannel stores c, keeping the time of its last callback.
func (s *File) SaveChannel(ctx context.Context, c Channel) error {
	if err := CheckChannel(c); err != nil {
		return err
	}
	r := channelRecord{
		ID: c.ID, Pipeline: c.Pipeline, URL: c.URL, SecretField: c.SecretField, MaxBodyBytes: c.MaxBodyBytes,
		Streams: c.Streams, Expires: c.Expires.UTC(), Watched: c.Watched.UTC(),
	}
	if s.keys != nil {
		sealed, err := s.keys.Seal(channelAAD(c.Key), []byte(c.Secret))
		if err != nil {
			return err
		}
		r.Sealed = sealed
	} else {
		r.Secret = c.Secret
	}
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChannels)
		if v := b.Get([]byte(c.Key)); v != nil {
			if old, err := decodeStored([]byte(c.Key), v, decodeChannel); err == nil {
				r.Signaled = old.Signaled
			}
		}
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return put(b, []byte(c.Key), v)
	})
	if err != nil {
		return fmt.Errorf("saving channel %s of pipeline %q: %w", c.ID, c.Pipeline, err)
	}
	return nil
}

// DeleteChannel forgets the channel with key.
func (s *File) DeleteChannel(ctx context.Context, key string) error {
	err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketChannels).Delete([]byte(key)) })
	if err != nil {
		return fmt.Errorf("forgetting a channel: %w", err)
	}
	return nil
}

// Channels returns every stored channel.
func (s *File) Channels(ctx context.Context) ([]Channel, error) {
	var out []Channel
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChannels)
		if b == nil { // a file not yet opened for writing by this version
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			r, err := decodeStored(k, v, decodeChannel)
			if err != nil {
				return fmt.Errorf("channel %q: %w", k, err)
			}
			c := Channel{
				Key: string(k), ID: r.ID, Pipeline: r.Pipeline, URL: r.URL, Secret: r.Secret,
				SecretField: r.SecretField, MaxBodyBytes: r.MaxBodyBytes, Streams: r.Streams,
				Expires: r.Expires, Watched: r.Watched, Signaled: r.Signaled,
			}
			// Without keys, a sealed secret stays empty: it verifies no
			// callback, and what `replicator status` shows needs none.
			if r.Sealed != nil && s.keys != nil {
				plain, err := s.keys.Open(channelAAD(c.Key), r.Sealed)
				if err != nil {
					return fmt.Errorf("channel %q of pipeline %q: %w", k, r.Pipeline, err)
				}
				c.Secret = string(plain)
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading the change-signal channels: %w", err)
	}
	return out, nil
}

// SetSignaled records a verified callback of the channel with key.
func (s *File) SetSignaled(ctx context.Context, key string, at time.Time) (string, error) {
	var pipeline string
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChannels)
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		r, err := decodeStored([]byte(key), v, decodeChannel)
		if err != nil {
			return err
		}
		pipeline = r.Pipeline
		if !at.After(r.Signaled) {
			return nil
		}
		r.Signaled = at.UTC()
		if v, err = json.Marshal(r); err != nil {
			return err
		}
		return put(b, []byte(key), v)
	})
	if err != nil {
		return "", fmt.Errorf("recording a callback: %w", err)
	}
	return pipeline, nil
}
