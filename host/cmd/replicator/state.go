package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/replicatorhq/replicator/host/state"
)

// cmdState runs `replicator state SUBCOMMAND`: what an operator does to the
// state store as a whole.
func cmdState(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return errors.New("state needs a subcommand: backup")
	}
	switch args[0] {
	case "backup":
		return a.stateBackup(ctx, args[1:])
	}
	return fmt.Errorf("state has no subcommand %q; it has: backup", args[0])
}

// stateBackup writes a consistent copy of the state file. It is written to
// a temporary file beside the target and renamed, so an interrupted backup
// never leaves a torn copy under the target's name.
func (a *app) stateBackup(_ context.Context, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("state backup takes no arguments besides -to, got %q", args)
	}
	if a.opts.to == "" {
		return errors.New("state backup needs -to FILE, the file to write the copy to")
	}
	store, err := a.openStore()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.opts.to), filepath.Base(a.opts.to)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating the backup file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	file, ok := store.(*state.File)
	if !ok {
		return errors.New("state backup copies a state file; back up a PostgreSQL database with pg_dump")
	}
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
