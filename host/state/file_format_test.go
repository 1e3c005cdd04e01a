package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// format1 copies testdata/format1.db, a state file written before values
// were framed, into the test's folder. A host died while holding it:
// pipeline p's claim is held and its second run is still running.
func format1(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "format1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawValue reads a value as the file holds it, bypassing the store.
func rawValue(t *testing.T, path string, keys ...string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(keys[0]))
		for _, k := range keys[1 : len(keys)-1] {
			if b == nil {
				return nil
			}
			b = b.Bucket([]byte(k))
		}
		if b != nil {
			v = bytes.Clone(b.Get([]byte(keys[len(keys)-1])))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOpenFormat1File opens a state file of the format before checksums:
// everything in it reads as before, and its values are framed from then on.
func TestOpenFormat1File(t *testing.T) {
	path := format1(t)
	for range 2 { // the second open finds the file converted
		s, err := OpenFile(path, FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Stream(ctx, "p", "items")
		if err != nil || string(st.State) != `{"next":42}` || st.Generation != 7 {
			t.Errorf("stream %+v, %v", st, err)
		}
		runs, err := s.Runs(ctx, "p", 0)
		if err != nil || len(runs) != 2 || runs[0].Outcome != OutcomeCrashed || runs[0].Read != 4 || runs[0].Written != 2 || runs[1].Outcome != OutcomeSucceeded {
			t.Errorf("runs %+v, %v", runs, err)
		}
		c, err := s.Credentials(ctx, "source.zoho.eu")
		if err != nil || string(c) != `{"refresh_token":"plain-refresh-token"}` {
			t.Errorf("credentials %s, %v", c, err)
		}
		// The held claim of the dead host was released: it can be taken.
		claimFor(t, s, "p")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if v := rawValue(t, path, "streams", "p", "items"); bytes.HasPrefix(v, []byte("{")) {
		t.Errorf("the stream's value is still plain JSON: %q", v)
	}
	if v := rawValue(t, path, "meta", "format"); v == nil {
		t.Error("the file has no format of record")
	}
}

// TestOpenFormat1FileDamaged: a damaged value of a file of the old format
// is refused before it could be framed with a checksum that would vouch
// for it; the file is left as it was.
func TestOpenFormat1FileDamaged(t *testing.T) {
	path := format1(t)
	damageFile(t, path, []byte(`"next":42}`), []byte(`"next":4}}`))
	before, _ := os.ReadFile(path)
	_, err := OpenFile(path, FileOptions{})
	wantDamaged(t, err, path, `stream "items" of pipeline "p"`, "not valid JSON")
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the refused file was changed")
	}
}

// TestOpenNewerFormat refuses a file written by a newer replicator, and
// says so rather than calling it damaged.
func TestOpenNewerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newer.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keyFormat, frame(keyFormat, []byte{formatFramed + 1}))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenFile(path, FileOptions{})
	if err == nil || errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "state file "+path+": it was written by a newer replicator") {
		t.Errorf("newer file: %v", err)
	}
}

// TestOpenFormat1FileConvertedInPart opens a file whose conversion was cut
// short: some values framed, the format not yet recorded. The conversion
// goes on; a framed value that fails its checksum is damage all the same.
func TestOpenFormat1FileConvertedInPart(t *testing.T) {
	for _, damage := range []bool{false, true} {
		path := format1(t)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketStreams).Bucket([]byte("p"))
			v := frame([]byte("items"), b.Get([]byte("items")))
			if damage {
				v[len(v)-2]++
			}
			return b.Put([]byte("items"), v)
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		s, err := OpenFile(path, FileOptions{})
		if damage {
			wantDamaged(t, err, path, `stream "items" of pipeline "p"`, "fails its checksum")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Stream(ctx, "p", "items")
		if err != nil || string(st.State) != `{"next":42}` {
			t.Errorf("stream %+v, %v", st, err)
		}
		if runs, err := s.Runs(ctx, "p", 0); err != nil || len(runs) != 2 {
			t.Errorf("runs %+v, %v", runs, err)
		}
		s.Close()
	}
}
