package rogersim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileVersion is the layout of the data file; load refuses other versions.
const fileVersion = 1

type fileDoc struct {
	Version     int              `json:"version"`
	Replicators []fileReplicator `json:"replicators"`
}

type fileReplicator struct {
	Replicator Replicator      `json:"replicator"`
	Contacts   []StoredContact `json:"contacts"`
}

// snapshot is the phonebook at one moment. Entries are immutable, so holding
// their pointers is enough and the store lock is released before encoding.
type snapshot struct {
	replicators []snapReplicator
}

type snapReplicator struct {
	info    Replicator
	entries []*entry
}

// snapshot copies the store's structure; the caller holds the store lock.
func (s *store) snapshot() snapshot {
	var snap snapshot
	for _, rs := range s.replicators {
		sr := snapReplicator{info: rs.info}
		for _, entries := range rs.streams {
			for _, e := range entries {
				sr.entries = append(sr.entries, e)
			}
		}
		snap.replicators = append(snap.replicators, sr)
	}
	return snap
}

// writeFile writes snap to path atomically: a temporary file in the same
// folder, synced, then renamed over path.
func writeFile(path string, snap snapshot) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("creating a temporary data file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 256<<10)
	enc := json.NewEncoder(w)
	// Streamed by hand so a large phonebook is never one buffer in memory.
	fmt.Fprintf(w, "{\"version\":%d,\"replicators\":[", fileVersion)
	for i, r := range snap.replicators {
		if i > 0 {
			w.WriteString(",")
		}
		w.WriteString("\n{\"replicator\":")
		if err := enc.Encode(r.info); err != nil {
			return fmt.Errorf("encoding replicator %s: %w", r.info.ID, err)
		}
		w.WriteString(",\"contacts\":[")
		for j, e := range r.entries {
			if j > 0 {
				w.WriteString(",")
			}
			if err := enc.Encode(StoredContact{Stream: e.stream, Generation: e.generation, Contact: e.contact}); err != nil {
				return fmt.Errorf("encoding contact %s: %w", e.contact.SourceID, err)
			}
		}
		w.WriteString("]}")
	}
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the data file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the data file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing the data file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replacing the data file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		// Makes the rename itself durable; not every platform supports it.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// loadFile fills s from path; a missing file is an empty phonebook.
func (s *store) loadFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening the data file: %w", err)
	}
	defer f.Close()
	var doc fileDoc
	if err := json.NewDecoder(bufio.NewReaderSize(f, 256<<10)).Decode(&doc); err != nil {
		return fmt.Errorf("reading the data file %s: %w", path, err)
	}
	if doc.Version != fileVersion {
		return fmt.Errorf("data file %s has version %d, this simulator reads version %d", path, doc.Version, fileVersion)
	}
	for _, fr := range doc.Replicators {
		s.addReplicator(fr.Replicator)
		rs := s.replicators[fr.Replicator.ID]
		for _, sc := range fr.Contacts {
			entries := rs.streams[sc.Stream]
			if entries == nil {
				entries = map[string]*entry{}
				rs.streams[sc.Stream] = entries
			}
			s.put(entries, entries[sc.Contact.SourceID], newEntry(rs.info.ID, sc.Stream, sc.Generation, sc.Contact))
		}
	}
	return nil
}
