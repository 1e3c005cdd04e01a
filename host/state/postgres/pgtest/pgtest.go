// Package pgtest starts a throwaway PostgreSQL server for tests: initdb
// and pg_ctl in a temporary folder, listening only on a Unix socket there.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// Server is a running throwaway server.
type Server struct {
	dir  string
	bin  string
	cred *syscall.Credential // whom the server runs as when the tests run as root
	n    atomic.Int64
}

// bin finds the folder of initdb and pg_ctl: PATH, then Debian's place.
func bin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	return "", errors.New("initdb and pg_ctl were not found on PATH nor in /usr/lib/postgresql/*/bin; install PostgreSQL (apt-get install postgresql) to run these tests")
}

// Start initialises and starts a server in a new temporary folder.
func Start() (*Server, error) {
	b, err := bin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "replicator-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: b}
	// PostgreSQL refuses to run as root.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			return nil, errors.New("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := s.run("initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C"); err != nil {
		s.Remove()
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return nil
}

// Start starts the server again after Stop.
func (s *Server) Start() error {
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400", s.dir)
	return s.run("pg_ctl", "-D", s.data(), "-w", "-l", filepath.Join(s.dir, "log"), "-o", opts, "start")
}

// Stop stops the server, ending every session.
func (s *Server) Stop() error {
	return s.run("pg_ctl", "-D", s.data(), "-w", "-m", "fast", "stop")
}

// Remove stops the server and deletes its folder.
func (s *Server) Remove() {
	_ = s.Stop()
	_ = os.RemoveAll(s.dir)
}

// URL is the connection string of a database.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s", s.dir, db)
}

// NewDatabase creates an empty database and returns its connection string.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d", s.n.Add(1))
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// Exec runs SQL in the postgres database, as a superuser: for tests that
// end sessions (pg_terminate_backend) or look at them.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// Log returns the server's log, for failing tests.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return strings.TrimSpace(string(b))
}
