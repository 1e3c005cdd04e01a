// Package jsonl is a destination that appends every record it receives to
// a file as one JSON line. It serves to inspect what a pipeline produces
// and to measure the pipeline without a service behind it.
//
// Each record becomes
//
//	{"stream":"s","key":"k","op":"upsert","generation":7,"source_time":"2026-01-02T03:04:05Z","data":{...}}
//
// with source_time left out when unknown and data left out for deletes, and
// each full refresh complete becomes
//
//	{"stream":"s","full_refresh_complete":{"generation":7}}
//
// A record's generation is the one its run writes, so the file can be read
// as a table: apply the lines in order, a delete removing its key, and a
// full refresh complete removing the stream's keys last written in an older
// generation.
//
// A record's data is copied as given (the contract makes it a JSON object);
// only line breaks in its whitespace are turned into spaces so that it
// stays on one line.
//
// Only whole lines are written. A last line left torn by a run killed in
// the middle of a write is removed when the file is next opened, so that
// appending never merges it with a new line.
package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// Version is the destination's own version.
const Version = "1.0.0"

// bufferSize is the write buffer: large enough that a batch of ordinary
// records costs few write calls. Only whole lines leave it, so a process
// killed mid-write leaves at most the last line torn, which the next open
// removes.
const bufferSize = 256 << 10

// Destination is the JSON lines destination. Create it with New.
type Destination struct {
	log hclog.Logger
}

// New returns a JSON lines destination logging to log.
func New(log hclog.Logger) *Destination {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Destination{log: log}
}

// settings is the destination's configuration, declared once: the Spec's
// attributes and the decoding both come from it.
type settings struct {
	Path  string `config:"path,required" description:"The output file; it is created if missing and appended to otherwise."`
	Fsync bool   `config:"fsync" default:"true" description:"Sync the file to disk before acknowledging each checkpoint."`
}

// Spec describes the destination's configuration.
func (d *Destination) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{
		Name:        "jsonl",
		Version:     Version,
		Description: "Appends every record to a file as one JSON line.",
		Config:      config.MustAttributes[settings](),
	}, nil
}

func parseConfig(raw json.RawMessage) (settings, error) {
	c, err := config.Decode[settings](raw)
	if err != nil {
		return settings{}, fmt.Errorf("jsonl config: %w", err)
	}
	if c.Path == "" {
		return settings{}, errors.New("jsonl config: path is empty; set it to the file to write")
	}
	return c, nil
}

// Check makes sure the output file's folder exists and is writable by
// creating and removing a file in it.
func (d *Destination) Check(_ context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	if fi, err := os.Stat(c.Path); err == nil && fi.IsDir() {
		return contract.CheckResponse{}, fmt.Errorf("path %s is a folder; set path to a file inside it", c.Path)
	}
	dir := filepath.Dir(c.Path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return contract.CheckResponse{}, fmt.Errorf("folder %s does not exist; create it or change path", dir)
	case err != nil:
		return contract.CheckResponse{}, fmt.Errorf("folder %s cannot be used: %w", dir, err)
	case !fi.IsDir():
		return contract.CheckResponse{}, fmt.Errorf("%s is not a folder; change path", dir)
	}
	f, err := os.CreateTemp(dir, ".jsonl-check-*")
	if err != nil {
		return contract.CheckResponse{}, fmt.Errorf("folder %s is not writable; fix its permissions or change path: %w",
			dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return contract.CheckResponse{}, fmt.Errorf("folder %s: removing the test file %s: %w", dir, filepath.Base(name), err)
	}
	return contract.CheckResponse{Message: "records will be appended to " + c.Path}, nil
}

// Write appends what in carries to the output file. It acknowledges a
// checkpoint or full refresh complete once every line before it is flushed
// and, with fsync on, synced to disk.
func (d *Destination) Write(ctx context.Context, req contract.WriteRequest, in contract.Input) (err error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(c.Path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening output file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing output file %s: %w", c.Path, cerr)
		}
	}()
	if err := d.repair(f); err != nil {
		return err
	}
	w := writer{f: f, buf: make([]byte, 0, bufferSize), fsync: c.Fsync, gens: map[string]uint64{}}
	for _, ws := range req.Streams {
		w.gens[ws.Name] = ws.Generation
	}
	var lines int64
	for {
		msg, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			if err := w.durable(); err != nil {
				return err
			}
			d.log.Debug("write finished", "path", c.Path, "lines", lines)
			return nil
		}
		if err != nil {
			return fmt.Errorf("receiving records: %w", err)
		}
		switch {
		case msg.Checkpoint != nil:
			if err := w.durable(); err != nil {
				return err
			}
			if err := in.Ack(ctx, msg.Checkpoint.ID); err != nil {
				return fmt.Errorf("acknowledging checkpoint %d: %w", msg.Checkpoint.ID, err)
			}
		case msg.FullRefreshComplete != nil:
			frc := msg.FullRefreshComplete
			if err := w.line(appendFullRefresh(w.scratch[:0], frc)); err != nil {
				return err
			}
			lines++
			if err := w.durable(); err != nil {
				return err
			}
			if err := in.Ack(ctx, frc.ID); err != nil {
				return fmt.Errorf("acknowledging full refresh complete %d of stream %q: %w", frc.ID, frc.Stream, err)
			}
		default:
			for i := range msg.Records {
				r := &msg.Records[i]
				if r.Op != contract.Delete && len(r.Data) == 0 {
					return fmt.Errorf("record %q of stream %q is an upsert without data; the source must send a JSON object",
						r.Key, r.Stream)
				}
				if err := w.line(w.appendRecord(w.scratch[:0], r)); err != nil {
					return err
				}
			}
			lines += int64(len(msg.Records))
		}
	}
}

// repair removes a torn last line: what a run killed in the middle of a
// write left behind. Appending after it would merge it with the next line
// into one that cannot be read. Its record was never acknowledged, so the
// source sends it again.
func (d *Destination) repair(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("inspecting output file %s: %w", f.Name(), err)
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil
	}
	end := fi.Size()
	var last [1]byte
	if _, err := f.ReadAt(last[:], end-1); err != nil {
		return fmt.Errorf("reading the end of output file %s: %w", f.Name(), err)
	}
	if last[0] == '\n' {
		return nil
	}
	// Look back for the end of the last whole line.
	keep := int64(0)
	chunk := make([]byte, 64<<10)
	for at := end; at > 0 && keep == 0; {
		n := min(int64(len(chunk)), at)
		at -= n
		if _, err := f.ReadAt(chunk[:n], at); err != nil {
			return fmt.Errorf("reading output file %s: %w", f.Name(), err)
		}
		if i := bytes.LastIndexByte(chunk[:n], '\n'); i >= 0 {
			keep = at + int64(i) + 1
		}
	}
	if err := f.Truncate(keep); err != nil {
		return fmt.Errorf("removing the torn last line of output file %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing output file %s to disk: %w", f.Name(), err)
	}
	d.log.Warn(
		"removed a torn last line from the output file, left by a run that was stopped mid-write; its records are sent again",
		"path", f.Name(), "bytes", end-keep)
	return nil
}

// writer turns messages into lines in one file.
type writer struct {
	f       *os.File
	buf     []byte // whole lines not yet written
	fsync   bool
	scratch []byte // the line being built, reused

	// gens is the generation each stream of the run writes.
	gens map[string]uint64
	// The last stream name seen, its JSON encoding and its generation's:
	// batches hold one stream, so they are encoded once rather than per
	// record.
	stream     string
	streamJSON []byte
	genJSON    []byte
}

// line buffers a built line and keeps its memory for the next one. The
// buffer is written out whole before it would overflow; a line longer
// than the buffer is written by itself.
func (w *writer) line(b []byte) error {
	w.scratch = b
	if len(w.buf)+len(b) > cap(w.buf) {
		if err := w.flush(); err != nil {
			return err
		}
		if len(b) > cap(w.buf) {
			return w.write(b)
		}
	}
	w.buf = append(w.buf, b...)
	return nil
}

func (w *writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.write(w.buf)
	w.buf = w.buf[:0]
	return err
}

func (w *writer) write(b []byte) error {
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("writing output file %s: %w", w.f.Name(), err)
	}
	return nil
}

// durable writes buffered lines and, when configured, syncs the file.
func (w *writer) durable() error {
	if err := w.flush(); err != nil {
		return err
	}
	if w.fsync {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("syncing output file %s to disk: %w", w.f.Name(), err)
		}
	}
	return nil
}

func (w *writer) appendRecord(b []byte, r *contract.Record) []byte {
	if r.Stream != w.stream || w.streamJSON == nil {
		w.stream = r.Stream
		w.streamJSON = appendString(w.streamJSON[:0], r.Stream)
		w.genJSON = strconv.AppendUint(append(w.genJSON[:0], `,"generation":`...), w.gens[r.Stream], 10)
	}
	b = append(b, `{"stream":`...)
	b = append(b, w.streamJSON...)
	b = append(b, `,"key":`...)
	b = appendString(b, r.Key)
	if r.Op == contract.Delete {
		b = append(b, `,"op":"delete"`...)
	} else {
		b = append(b, `,"op":"upsert"`...)
	}
	b = append(b, w.genJSON...)
	if !r.SourceTime.IsZero() {
		b = append(b, `,"source_time":"`...)
		b = r.SourceTime.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if r.Op != contract.Delete {
		b = append(b, `,"data":`...)
		b = appendData(b, r.Data)
	}
	return append(b, '}', '\n')
}

func appendFullRefresh(b []byte, frc *contract.FullRefreshComplete) []byte {
	b = append(b, `{"stream":`...)
	b = appendString(b, frc.Stream)
	b = append(b, `,"full_refresh_complete":{"generation":`...)
	b = strconv.AppendUint(b, frc.Generation, 10)
	return append(b, '}', '}', '\n')
}

// appendData appends a record's JSON data, turning any CR or LF into a
// space. In valid JSON they can only be whitespace between tokens (strings
// hold them escaped), so the value is unchanged and stays on one line.
func appendData(b []byte, data []byte) []byte {
	if bytes.IndexByte(data, '\n') < 0 && bytes.IndexByte(data, '\r') < 0 {
		return append(b, data...)
	}
	at := len(b)
	b = append(b, data...)
	for i := at; i < len(b); i++ {
		if b[i] == '\n' || b[i] == '\r' {
			b[i] = ' '
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Quotes, backslashes and control
// characters are escaped; other characters, non-ASCII included, are copied
// as UTF-8. Bytes that are not valid UTF-8 cannot be said in JSON and
// become U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
