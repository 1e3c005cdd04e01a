package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// validateTenants is how many tenant files validate_2000_s checks.
const validateTenants = 2000

// benchValidate measures `replicator validate` of a folder of many tenant
// files. validate_2000_s is the median wall time, process start to exit,
// of three runs of `replicator validate` on 2,000 pipeline files
// (generator -> jsonl, 4,000 connector blocks), after one that warms the
// page cache.
func benchValidate(ctx context.Context, b *bench) error {
	dir, err := tenantFolder(validateTenants, 10)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	replicator := filepath.Join(b.bin, "replicator")
	if out, err := b.command(ctx, dir, replicator, "init", "-config", ".").CombinedOutput(); err != nil {
		return fmt.Errorf("init: %w\n%s", err, out)
	}
	var took []time.Duration
	for i := range 4 {
		start := time.Now()
		if out, err := b.command(ctx, dir, replicator, "validate", "-config", ".").CombinedOutput(); err != nil {
			return fmt.Errorf("validate: %w\n%s", err, out)
		}
		if i > 0 {
			took = append(took, time.Since(start))
		}
	}
	slices.Sort(took)
	figure("validate_2000_s", took[len(took)/2].Seconds(), "s")
	return nil
}
