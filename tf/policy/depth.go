package policy

import (
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The HCL parsers are recursive descent parsers without a depth limit, and
// a Go stack overflow is fatal rather than a recoverable panic: one megabyte
// of "(((((" or of "!!!!!" in a tenant file would bring the server down.
// So before a file reaches a parser, a linear, non-recursive scan estimates
// how deep the parser would recurse, and files past a generous bound are
// refused without being parsed. The precise rule (MaxNestingDepth, over the
// parsed blocks and expressions) is applied afterwards by the walker.

// maxScanDepth caps the pre-scan bound whatever MaxNestingDepth says, so a
// misconfigured limit cannot re-open the stack overflow.
const maxScanDepth = 1000

// scanLimit is the bound of the pre-scan for a given MaxNestingDepth. A
// level of the parsed tree costs at most a few brackets, quotes or
// operators of the source (a .tf.json resource is four JSON objects deep
// before its first argument), hence the factor.
func scanLimit(maxDepth int) int {
	return min(3*maxDepth+10, maxScanDepth)
}

// tokenNesting walks the tokens of native HCL (a configuration file or a
// template) and returns the line at which the estimated parser recursion
// first exceeds limit.
//
// It counts open brackets, braces, parentheses, quotes, heredocs and
// template sequences, plus the operators the parser handles by recursion
// (unary "!" and "-", the "?" of a conditional whose false branch nests,
// the "*" of a splat) and template if/for directives. Operators are
// counted per bracket group and forgotten where the expression they nest
// in is complete: at "," and "=", when their group closes, and at a
// newline where newlines end expressions (the top level, block bodies and
// object constructors, but not parentheses, brackets, interpolations or
// for expressions, where the parser skips newlines).
func tokenNesting(tokens hclsyntax.Tokens, limit int) (line int, tooDeep bool) {
	groups := []group{{newlineEnds: true}} // groups[0] is the top level
	depth := 0                             // len(groups)-1 plus every group's ops
	for i, tok := range tokens {
		top := len(groups) - 1
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			newlineEnds := tok.Type == hclsyntax.TokenOBrace && !opensFor(tokens[i+1:])
			groups = append(groups, group{newlineEnds: newlineEnds})
			depth++
			if tok.Type == hclsyntax.TokenTemplateControl {
				// A template if/for nests everything up to its end
				// directive: count it in the enclosing template.
				switch directive(tokens[i+1:]) {
				case "if", "for":
					groups[top].ops++
					depth++
				case "endif", "endfor":
					if groups[top].ops > 0 {
						groups[top].ops--
						depth--
					}
				}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if top > 0 {
				depth -= 1 + groups[top].ops
				groups = groups[:top]
			}
		case hclsyntax.TokenStar:
			// The star of a full splat, a[*], sits in a bracket group
			// that closes right after it, yet the parser nests for each
			// splat of a chain: count it in the enclosing group.
			if top > 0 && i > 0 && tokens[i-1].Type == hclsyntax.TokenOBrack {
				groups[top-1].ops++
			} else {
				groups[top].ops++
			}
			depth++
		case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenQuestion:
			groups[top].ops++
			depth++
		case hclsyntax.TokenComma, hclsyntax.TokenEqual:
			depth -= groups[top].ops
			groups[top].ops = 0
		case hclsyntax.TokenNewline:
			if groups[top].newlineEnds {
				depth -= groups[top].ops
				groups[top].ops = 0
			}
		}
		if depth > limit {
			return tok.Range.Start.Line, true
		}
	}
	return 0, false
}

// group is an open bracket (or quote, or template sequence) of the scan.
type group struct {
	ops         int  // recursing operators pending in the group
	newlineEnds bool // whether a newline ends an expression here
}

// opensFor reports whether the tokens after a "{" start a for expression,
// which the parser reads ignoring newlines.
func opensFor(rest hclsyntax.Tokens) bool {
	for _, tok := range rest {
		if tok.Type != hclsyntax.TokenNewline {
			return tok.Type == hclsyntax.TokenIdent && string(tok.Bytes) == "for"
		}
	}
	return false
}

// directive returns the keyword that follows a "%{" (the scanner keeps a
// strip marker "~" in the "%{" token).
func directive(rest hclsyntax.Tokens) string {
	if len(rest) > 0 && rest[0].Type == hclsyntax.TokenIdent {
		return string(rest[0].Bytes)
	}
	return ""
}

// jsonNesting returns the line at which the nesting of JSON objects and
// arrays in src first exceeds limit. Brackets inside strings do not count;
// strings are HCL templates, scanned separately before they are parsed.
func jsonNesting(src string, limit int) (line int, tooDeep bool) {
	line = 1
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\n' {
			line++
		}
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > limit {
				return line, true
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return 0, false
}
