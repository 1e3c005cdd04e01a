// Command bench measures the figures the project tracks and prints each as
// a line "figure <name> <value> <unit>". `make bench` runs it after
// building the binaries into $REPLICATOR_BIN.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	only := flag.String("only", "", "run only the benchmarks whose name starts with this")
	flag.Parse()
	bin := os.Getenv("REPLICATOR_BIN")
	if bin == "" {
		fmt.Fprintln(os.Stderr, "bench: set REPLICATOR_BIN to the folder of the built binaries (make bench does)")
		os.Exit(2)
	}
	bin, _ = filepath.Abs(bin)
	ctx := context.Background()
	b := &bench{bin: bin}
	for _, s := range suites() {
		if *only != "" && !hasPrefix(s.name, *only) {
			continue
		}
		if err := s.run(ctx, b); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", s.name, err)
			os.Exit(1)
		}
	}
}

type suite struct {
	name string
	run  func(context.Context, *bench) error
}

func suites() []suite {
	return []suite{
		{"plugin", benchPlugins},
		{"roger365", benchRoger365},
		{"zoho_small", benchZohoSmall},
		{"zoho_idle", benchZohoIdle},
		{"zoho_full", benchZohoFull},
		{"fleet", benchFleet},
		{"console", benchConsole},
		{"fleet_scale", benchFleetScale},
		{"validate", benchValidate},
		{"fleet_takeover", benchFleetTakeover},
		{"notify", benchNotify},
	}
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

type bench struct{ bin string }

func figure(name string, value float64, unit string) {
	switch {
	case value >= 100:
		fmt.Printf("figure %s %.0f %s\n", name, value, unit)
	default:
		fmt.Printf("figure %s %.2f %s\n", name, value, unit)
	}
}
