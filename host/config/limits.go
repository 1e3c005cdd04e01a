package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Bounds on configuration input, so that no file can exhaust the host's
// memory or stack.
const (
	// MaxNesting is how deeply brackets, braces, parentheses, quoted
	// strings and template interpolations may nest. The HCL parser recurses
	// once per level, so without a bound a file of nested brackets
	// overflows the stack; real configurations stay within a handful.
	MaxNesting = 100
	// MaxFileFuncSize is the largest file file() reads: it is meant for
	// secrets and short values.
	MaxFileFuncSize = 1 << 20
	// MaxConfigFileSize is the largest configuration file Load reads.
	MaxConfigFileSize = 16 << 20
)

// notRegularError says a path names a folder, device, pipe or socket
// rather than a file.
type notRegularError struct {
	path string
	mode fs.FileMode
}

func (e *notRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.path, modeText(e.mode))
}

// tooLargeError says a file holds more than the reader's limit.
type tooLargeError struct {
	path  string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s", e.path, sizeText(e.limit))
}

func modeText(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return "a device"
	}
	return "a special file"
}

func sizeText(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readRegular reads the regular file at path, following symlinks, and
// fails with a *notRegularError for anything else and a *tooLargeError
// when it holds more than limit bytes. It neither blocks on a named pipe
// nor reads an endless device.
func readRegular(path string, limit int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &notRegularError{path: path, mode: info.Mode()}
	}
	// O_NONBLOCK: should the path be swapped for a named pipe after the
	// Stat, opening it returns at once instead of waiting for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &notRegularError{path: path, mode: info.Mode()}
	}
	if info.Size() > limit {
		return nil, &tooLargeError{path: path, limit: limit}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &tooLargeError{path: path, limit: limit}
	}
	return b, nil
}

// checkNesting reports the first place in src where brackets, braces,
// parentheses, quotes or template interpolations nest deeper than
// MaxNesting. It works on the lexer's tokens, which come without
// recursion, so that the parser is only handed what it can parse.
func checkNesting(src []byte, filename string) hcl.Diagnostics {
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	depth := 0
	for _, tok := range tokens {
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
			if depth > MaxNesting {
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Configuration nested too deeply",
					Detail: fmt.Sprintf("Brackets, braces, parentheses, quotes and template interpolations are nested more than %d levels deep here, more than replicator reads. "+
						"Look for brackets that are opened and never closed, and write the value with less nesting.", MaxNesting),
					Subject: tok.Range.Ptr(),
				}}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}
