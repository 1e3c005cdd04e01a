package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestGrantCode(t *testing.T) {
	tests := []struct {
		name, flag, stdin string
		want, err         string
		warns, prompts    bool
	}{
		{name: "standard input", flag: "-", stdin: "1000.abc.def\n", want: "1000.abc.def"},
		{name: "standard input without line end", flag: "-", stdin: " 1000.abc.def ", want: "1000.abc.def"},
		{name: "first line of standard input", flag: "-", stdin: "1000.abc\nmore\n", want: "1000.abc"},
		{name: "empty standard input", flag: "-", stdin: "", err: "no grant code on standard input"},
		{name: "blank line on standard input", flag: "-", stdin: "\n", err: "no grant code on standard input"},
		{name: "prompt", stdin: "1000.abc\n", want: "1000.abc", prompts: true},
		{name: "nothing at the prompt", stdin: "\n", err: "no grant code given", prompts: true},
		{name: "flag value", flag: "1000.abc", want: "1000.abc", warns: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs, stderr bytes.Buffer
			a := &app{
				opts:   options{code: tt.flag},
				log:    hclog.New(&hclog.LoggerOptions{Output: &logs}),
				stdin:  strings.NewReader(tt.stdin),
				stdout: &bytes.Buffer{},
				stderr: &stderr,
			}
			got, err := a.grantCode("source.zoho.eu")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("grantCode = %q, %v; want an error with %q", got, err, tt.err)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("grantCode = %q, %v; want %q", got, err, tt.want)
			}
			if warned := strings.Contains(logs.String(), "process list"); warned != tt.warns {
				t.Errorf("warned about the process list: %v, want %v (log: %q)", warned, tt.warns, logs.String())
			}
			if prompted := strings.Contains(stderr.String(), "Paste the grant code for source.zoho.eu"); prompted != tt.prompts {
				t.Errorf("prompted: %v, want %v", prompted, tt.prompts)
			}
		})
	}
}
