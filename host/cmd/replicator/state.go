package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres"
)

func stateFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.from, "from", "", "copy: the state file or postgres:// URL to copy from")
	fs.StringVar(&o.to, "to", "", "backup: the file to write; copy: the state file or postgres:// URL to copy to")
}

// cmdState runs `replicator state SUBCOMMAND`: what an operator does to the
// state store as a whole.
func cmdState(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return errors.New("state needs a subcommand: backup or copy")
	}
	switch args[0] {
	case "backup":
		return a.stateBackup(ctx, args[1:])
	case "copy":
		return a.stateCopy(ctx, args[1:])
	}
	return fmt.Errorf("state has no subcommand %q; it has: backup, copy", args[0])
}

// stateBackup writes a consistent copy of the state file. It is written to
// a temporary file beside the target and renamed, so an interrupted backup
// never leaves a torn copy under the target's name.
func (a *app) stateBackup(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("state backup takes no arguments besides -to, got %q", args)
	}
	if a.opts.to == "" {
		return errors.New("state backup needs -to FILE, the file to write the copy to")
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	file, ok := store.(*state.File)
	if !ok {
		return errors.New("state backup copies a state file; back up a PostgreSQL database with pg_dump")
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.opts.to), filepath.Base(a.opts.to)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating the backup file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := file.Backup(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing backup %s: %w", a.opts.to, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing backup %s: %w", a.opts.to, err)
	}
	if err := os.Rename(tmp.Name(), a.opts.to); err != nil {
		return fmt.Errorf("writing backup %s: %w", a.opts.to, err)
	}
	fmt.Fprintf(a.stdout, "Wrote a copy of %s to %s.\n", a.storePath(), a.opts.to)
	return nil
}

// usesPostgres says whether the state is in PostgreSQL: the configuration
// has a state block and -state does not name a file.
func (a *app) usesPostgres() bool {
	return a.opts.state == "" && a.cfg != nil && a.cfg.State.Postgres != ""
}

// openBackend opens the store the configuration and flags say.
func (a *app) openBackend(ctx context.Context) (state.Store, error) {
	if !a.usesPostgres() {
		return a.openFile(a.storePath())
	}
	st := a.cfg.State
	keys, err := stateKeys(a.cfg)
	if err != nil {
		return nil, err
	}
	return postgres.Open(ctx, postgres.Options{URL: st.Postgres, Keys: keys, TakeoverAfter: st.TakeoverAfter, Log: a.log})
}

// openFile opens the state file at path.
func (a *app) openFile(path string) (state.Store, error) {
	opts, err := a.stateOptions()
	if err != nil {
		return nil, err
	}
	s, err := state.OpenFile(path, opts)
	if err != nil {
		return nil, err // not a Store holding a nil *File
	}
	return s, nil
}

// stateKeys is the keyring of cfg's state block.
func stateKeys(cfg *config.Config) (*state.Keyring, error) {
	keys, err := state.NewKeyring(cfg.State.EncryptionKey, cfg.State.PreviousEncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("state block at %s: %w", cfg.State.DeclRange, err)
	}
	return keys, nil
}

// historyStore opens the store to read the run history from: the state
// file -state names, or where the configuration keeps its state, read
// without decoding the pipelines and without the encryption key, so that
// the credentials stay sealed and unread.
func (a *app) historyStore(ctx context.Context) (state.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	if a.opts.state == "" {
		cfg, diags := config.LoadStore(a.opts.config)
		a.cfg = cfg
		if diags.HasErrors() {
			return nil, &engine.DiagnosticsError{Diags: diags}
		}
	}
	var s state.Store
	var err error
	if a.usesPostgres() {
		s, err = postgres.Open(ctx, postgres.Options{URL: a.cfg.State.Postgres, TakeoverAfter: a.cfg.State.TakeoverAfter, Log: a.log})
	} else {
		// The history needs no key: only credentials are sealed.
		s, err = state.OpenFile(a.storePath(), state.FileOptions{Fresh: a.opts.freshState, Log: a.log})
	}
	if err != nil {
		return nil, err
	}
	a.store = s
	return s, nil
}

// storeName names the store in messages, without a password.
func (a *app) storeName() string {
	if a.usesPostgres() {
		return "the database " + postgres.Redacted(a.cfg.State.Postgres)
	}
	return a.storePath()
}

// stateCopy copies checkpoints, credentials and run history from one store
// to another: -from and -to each name a state file or a PostgreSQL URL.
func (a *app) stateCopy(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("state copy takes no arguments besides -from and -to, got %q", args)
	}
	if a.opts.from == "" || a.opts.to == "" {
		return errors.New("state copy needs -from and -to: each a state file or a postgres:// URL")
	}
	from, err := a.openNamed(ctx, a.opts.from, true)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := a.openNamed(ctx, a.opts.to, false)
	if err != nil {
		return err
	}
	defer to.Close()
	n, err := state.Copy(ctx, from, to, hostID())
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", postgres.Redacted(a.opts.from), postgres.Redacted(a.opts.to), err)
	}
	fmt.Fprintf(a.stdout, "Copied %d pipeline(s) with %d stream(s) and %d run(s), and the credentials of %d source(s), from %s to %s.\n",
		n.Pipelines, n.Streams, n.Runs, n.Credentials, postgres.Redacted(a.opts.from), postgres.Redacted(a.opts.to))
	if n.Paused > 0 {
		fmt.Fprintf(a.stdout, "%d paused pipeline(s) stay paused there.\n", n.Paused)
	}
	return nil
}

// isDatabase tells a PostgreSQL connection string from a file path.
func isDatabase(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") ||
		strings.Contains(s, "host=") || strings.Contains(s, "dbname=")
}

// openNamed opens a store named on the command line. A database takes its
// keys from the configuration's state block.
func (a *app) openNamed(ctx context.Context, name string, mustExist bool) (state.Store, error) {
	if !isDatabase(name) {
		if mustExist {
			if _, err := os.Stat(name); err != nil {
				return nil, fmt.Errorf("state file %s: %w", name, err)
			}
		}
		return a.openFile(name)
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	if cfg.State.EncryptionKey == "" {
		return nil, fmt.Errorf("copying to or from %s needs the encryption_key of the state block in %s, which has none", postgres.Redacted(name), cfg.Path)
	}
	keys, err := stateKeys(cfg)
	if err != nil {
		return nil, err
	}
	return postgres.Open(ctx, postgres.Options{URL: name, Keys: keys, TakeoverAfter: cfg.State.TakeoverAfter, Log: a.log})
}
