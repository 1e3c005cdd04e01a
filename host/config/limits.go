package config

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"syscall"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Bounds on configuration input, so that no file can exhaust the host's
// memory, stack or time: a configuration is refused when it passes one,
// and what it reads and produces grows at most linearly with its size.
const (
	// MaxNesting is how deeply brackets, braces, parentheses, quoted
	// strings and template interpolations may nest. The HCL parser recurses
	// once per level, so without a bound a file of nested brackets
	// overflows the stack; real configurations stay within a handful.
	MaxNesting = 100
	// MaxFileFuncSize is the largest file file() reads: it is meant for
	// secrets and short values.
	MaxFileFuncSize = 1 << 20
	// MaxConfigFileSize is the largest configuration file Load reads. The
	// parser holds about 100 bytes for each byte of a dense file, and needs
	// several times that while it parses; a tenant's file is a few hundred
	// bytes, and a thousand tenants fit in one file of this size.
	MaxConfigFileSize = 1 << 20
	// MaxConfigSize bounds the files of one configuration together, for
	// the same reason: a folder of many files is parsed and held whole.
	MaxConfigSize = 4 << 20
	// MaxTokens bounds the tokens of one configuration's files together:
	// names, numbers, strings, symbols, comments and line breaks, each
	// one. The parser holds a few hundred bytes for each, so that the
	// bytes alone let a dense configuration hold a gigabyte; a tenant
	// takes some 150.
	MaxTokens = 500_000
	// MaxStringPieces bounds the pieces of one quoted string or heredoc:
	// the lexer starts a new piece at each line of a heredoc and at each $
	// or % sign that starts no interpolation, and the parser joins them
	// one by one, copying what it has joined so far each time, in time
	// that grows with the number of pieces times the string's length.
	MaxStringPieces = 1000
	// MaxNumberLength bounds a number as written, in characters: reading a
	// number takes time that grows with the square of its digits, and no
	// setting takes more than a handful.
	MaxNumberLength = 100
	// MaxExpansionPerFile bounds what the env() and file() calls of one
	// configuration file return together, each call counted: a small file
	// calling file() a thousand times would otherwise hold a thousand
	// copies. A connector block, decoded on its own, is held to it too.
	MaxExpansionPerFile = 4 << 20
	// MaxExpansion bounds what the env() and file() calls of a whole
	// configuration return together: with a folder of a thousand tenants,
	// 16 KiB each on average.
	MaxExpansion = 16 << 20
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

// tooLargeError says a file holds more than the reader's limit; head is
// what was read of it, the limit's worth and a byte more.
type tooLargeError struct {
	path  string
	limit int64
	head  []byte
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s", e.path, sizeText(e.limit))
}

// where is the position of the first byte past the limit.
func (e *tooLargeError) where() hcl.Range {
	before := e.head[:e.limit]
	line := bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	pos := hcl.Pos{Line: line, Column: utf8.RuneCount(before[lineStart:]) + 1, Byte: int(e.limit)}
	end := pos
	end.Column++
	end.Byte++
	return hcl.Range{Filename: e.path, Start: pos, End: end}
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
	if n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
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
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &tooLargeError{path: path, limit: limit, head: b}
	}
	return b, nil
}

// checkTokens reports the first place in src that passes a bound the
// parser needs kept: more than room tokens, what MaxTokens leaves of the
// configuration; nesting deeper than MaxNesting; a string of more than
// MaxStringPieces pieces; a number longer than MaxNumberLength or beyond
// a 64-bit float's range. It works on the lexer's tokens, which come
// without recursion and in time linear in src, so that the parser is only
// handed what it parses in linear time and small memory. It returns how
// many tokens src holds.
func checkTokens(src []byte, filename string, room int) (int, hcl.Diagnostics) {
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	if len(tokens) > room {
		return len(tokens), tooManyTokens(tokens[room].Range)
	}
	depth, pieces := 0, 0
	for _, tok := range tokens {
		if tok.Type == hclsyntax.TokenQuotedLit || tok.Type == hclsyntax.TokenStringLit {
			// Consecutive pieces always belong to one string: a nested
			// string is set off by the tokens of its interpolation.
			if pieces++; pieces > MaxStringPieces {
				return len(tokens), tooManyPieces(tok.Range)
			}
			continue
		}
		pieces = 0
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			if depth++; depth > MaxNesting {
				return len(tokens), tooDeep(tok.Range)
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if depth > 0 {
				depth--
			}
		case hclsyntax.TokenNumberLit:
			if d := checkNumber(tok); d != nil {
				return len(tokens), d
			}
		}
	}
	return len(tokens), nil
}

// errorAt is one error at at.
func errorAt(at hcl.Range, summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: at.Ptr()}}
}

func tooManyTokens(at hcl.Range) hcl.Diagnostics {
	return errorAt(at, "Configuration has too many tokens", fmt.Sprintf(
		"The configuration's files hold more than %d tokens together, the most replicator reads for one configuration, and pass it here: "+
			"names, numbers, strings, symbols, comments and line breaks count one each. "+
			"Shorten the files, or spread the pipelines over several configurations, each run by hosts of its own.", MaxTokens))
}

func tooDeep(at hcl.Range) hcl.Diagnostics {
	return errorAt(at, "Configuration nested too deeply", fmt.Sprintf(
		"Brackets, braces, parentheses, quotes and template interpolations are nested more than %d levels deep here, more than replicator reads. "+
			"Look for brackets that are opened and never closed, and write the value with less nesting.", MaxNesting))
}

func tooManyPieces(at hcl.Range) hcl.Diagnostics {
	return errorAt(at, "String in too many pieces", fmt.Sprintf(
		"A string is read in pieces: a heredoc one line at a time, and any string split again at each $ or %% sign that starts no interpolation. "+
			"This one has more than %d pieces, the most replicator reads in one string. Keep long text in a file of its own and read it with file(\"path\").", MaxStringPieces))
}

// checkNumber reports a number literal that is too long to read quickly,
// or so far beyond a 64-bit float's range that printing it, as a setting
// that takes a string does, would write as many digits as its exponent
// says.
func checkNumber(tok hclsyntax.Token) hcl.Diagnostics {
	if len(tok.Bytes) > MaxNumberLength {
		return errorAt(tok.Range, "Number too long", fmt.Sprintf(
			"This number is written with more than %d characters, more than replicator reads in one number. Write it shorter.", MaxNumberLength))
	}
	// Read as cty reads numbers; the parser reports what does not read.
	f, _, err := big.ParseFloat(string(tok.Bytes), 10, 512, big.ToNearestEven)
	if err == nil && !inFloat64Range(f) {
		return errorAt(tok.Range, "Number out of range", fmt.Sprintf(
			"%s is beyond the range of a 64-bit float (up to about 1.8e308, and no closer to zero than about 5e-324), the numbers replicator reads. Write a number within it.", tok.Bytes))
	}
	return nil
}

// inFloat64Range says whether f is zero or lies within a 64-bit float's
// range, from the smallest subnormal, 2^-1074, to just under 2^1024.
func inFloat64Range(f *big.Float) bool {
	if f.Sign() == 0 {
		return true
	}
	// f is m × 2^exp with ½ ≤ |m| < 1.
	exp := f.MantExp(nil)
	return !f.IsInf() && exp <= 1024 && exp >= -1073
}

// checkExpressions reports each expression in body that is not of the
// kinds a configuration is written with: values written out (strings with
// their interpolations, numbers, bools, lists, maps, negation), calls of
// env() and file(), and references to blocks. The configuration has no
// variables, so nothing else is of use in it, and the rest can make a
// small file expand without bound: nested for expressions multiply, and
// products of numbers grow until printing one takes hours.
func checkExpressions(body hcl.Body) hcl.Diagnostics {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	return hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
		var what string
		var at hcl.Range
		switch e := n.(type) {
		case *hclsyntax.LiteralValueExpr, *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr,
			*hclsyntax.TupleConsExpr, *hclsyntax.ObjectConsExpr, *hclsyntax.ObjectConsKeyExpr,
			*hclsyntax.FunctionCallExpr, *hclsyntax.ScopeTraversalExpr, *hclsyntax.ParenthesesExpr,
			*hclsyntax.UnaryOpExpr:
			return nil
		case *hclsyntax.ForExpr:
			what, at = "for expressions", e.OpenRange
		case *hclsyntax.TemplateJoinExpr, *hclsyntax.AnonSymbolExpr:
			return nil // parts of a for directive and a splat, reported as such
		case *hclsyntax.BinaryOpExpr:
			what, at = "operators", e.SrcRange
		case *hclsyntax.ConditionalExpr:
			what, at = "conditional expressions", e.SrcRange
		case hclsyntax.Expression:
			what, at = "index and splat expressions", e.Range()
		default:
			return nil // bodies, blocks and attributes
		}
		return errorAt(at, "Unsupported expression", fmt.Sprintf(
			"A configuration is written with values: strings (with ${ } interpolation), numbers, bools, lists and maps, and the functions env() and file(). "+
				"It has no variables to compute with, so replicator does not read %s. Write the value itself.", what))
	})
}
