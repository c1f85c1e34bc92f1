package cloudwatchlogs

import (
	"errors"
	"strings"
)

// pattern is a parsed filterPattern for unstructured log events: terms that
// must all appear, "?" terms of which one must appear, "-" terms that must
// not appear, and quoted phrases of any of those kinds. Matching is a
// case-sensitive substring match, as CloudWatch Logs does.
type pattern struct {
	all, any, none []string
}

var errUnsupportedPattern = errors.New("JSON and space-delimited filter patterns are not supported by the simulator")

func parsePattern(s string) (pattern, error) {
	var p pattern
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		return p, errUnsupportedPattern
	}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		kind := byte(0)
		if s[0] == '-' || s[0] == '?' {
			kind, s = s[0], s[1:]
		}
		var term string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return p, errors.New("unterminated quoted term in filter pattern")
			}
			term, s = s[1:1+end], s[2+end:]
		} else {
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			term, s = s[:end], s[end:]
		}
		if term == "" {
			continue
		}
		switch kind {
		case '-':
			p.none = append(p.none, term)
		case '?':
			p.any = append(p.any, term)
		default:
			p.all = append(p.all, term)
		}
	}
	return p, nil
}

func (p pattern) match(msg string) bool {
	for _, t := range p.none {
		if strings.Contains(msg, t) {
			return false
		}
	}
	for _, t := range p.all {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	if len(p.any) == 0 {
		return true
	}
	for _, t := range p.any {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}
