package efs

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
)

// Constraints of EFS's model (elasticfilesystem-2015-02-01). Go's regexp
// has no lookahead, so patterns that use one are checked by hand; the
// messages quote the model's pattern as AWS does.

const (
	fileSystemIDPattern  = `^(arn:aws[-a-z]*:elasticfilesystem:[0-9a-z-:]+:file-system/fs-[0-9a-f]{8,40}|fs-[0-9a-f]{8,40})$`
	accessPointIDPattern = `^(arn:aws[-a-z]*:elasticfilesystem:[0-9a-z-:]+:access-point/fsap-[0-9a-f]{8,40}|fsap-[0-9a-f]{8,40})$`
	pathPattern          = "^(\\/|(\\/(?!\\.)+[^$#<>;`|&?{}^*/\\n]+){1,4})$"
	permissionsPattern   = `^[0-7]{3,4}$`
	tagKeyPattern        = `^(?![aA]{1}[wW]{1}[sS]{1}:)([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$`
	tagValuePattern      = `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`
	kmsKeyIDPattern      = `^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9/_-]+|(arn:aws[-a-z]*:kms:[a-z0-9-]+:\d{12}:((key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|(key/mrk-[0-9a-f]{32})|(alias/[a-zA-Z0-9/_-]+))))$`
	maxID                = 4294967295 // the largest POSIX ID EFS accepts
)

var (
	fileSystemIDRE  = regexp.MustCompile(fileSystemIDPattern)
	accessPointIDRE = regexp.MustCompile(accessPointIDPattern)
	permissionsRE   = regexp.MustCompile(permissionsPattern)
	tagChars        = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
	kmsKeyIDRE      = regexp.MustCompile(kmsKeyIDPattern)
)

type tag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

// checkTags checks a Tags list: each key 1–128 characters, not starting
// with "aws:", each value up to 256, both from the model's character set.
func checkTags(v *violations, tags []tag) {
	for i, t := range tags {
		m := "tags." + strconv.Itoa(i+1) + ".member."
		switch {
		case t.Key == nil:
			v.null(m + "key")
		case len(*t.Key) < 1:
			v.add(*t.Key, m+"key", "Member must have length greater than or equal to 1")
		case len(*t.Key) > 128:
			v.add(*t.Key, m+"key", "Member must have length less than or equal to 128")
		case strings.HasPrefix(strings.ToLower(*t.Key), "aws:") || !tagChars.MatchString(*t.Key):
			v.add(*t.Key, m+"key", "Member must satisfy regular expression pattern: "+tagKeyPattern)
		}
		switch {
		case t.Value == nil:
			v.null(m + "value")
		case len(*t.Value) > 256:
			v.add(*t.Value, m+"value", "Member must have length less than or equal to 256")
		case !tagChars.MatchString(*t.Value):
			v.add(*t.Value, m+"value", "Member must satisfy regular expression pattern: "+tagValuePattern)
		}
	}
}

// nameTag is the value of the Name tag, which EFS shows as Name.
func nameTag(tags []tag) *string {
	for _, t := range tags {
		if t.Key != nil && *t.Key == "Name" {
			return t.Value
		}
	}
	return nil
}

// tagsOut is tags as EFS returns them: always a list, never null.
func tagsOut(tags []tag) []tag {
	if tags == nil {
		return []tag{}
	}
	return tags
}

// checkToken checks an idempotency token (CreationToken, ClientToken):
// required, 1–64 characters.
func checkToken(v *violations, tok *string, member string) {
	switch {
	case tok == nil:
		v.null(member)
	case len(*tok) < 1:
		v.add(*tok, member, "Member must have length greater than or equal to 1")
	case len(*tok) > 64:
		v.add(*tok, member, "Member must have length less than or equal to 64")
	}
}

// checkID checks a FileSystemId or AccessPointId, which may be given as an
// ID or as an ARN.
func checkID(v *violations, id, member string, re *regexp.Regexp, pattern string) {
	switch {
	case len(id) > 128:
		v.add(id, member, "Member must have length less than or equal to 128")
	case !re.MatchString(id):
		v.add(id, member, "Member must satisfy regular expression pattern: "+pattern)
	}
}

// validPath reports whether p satisfies the RootDirectory Path pattern: "/"
// or one to four "/"-separated names, none empty or starting with ".", none
// holding any of $#<>;`|&?{}^* or a newline.
func validPath(p string) bool {
	if p == "/" {
		return true
	}
	if !strings.HasPrefix(p, "/") {
		return false
	}
	parts := strings.Split(p[1:], "/")
	if len(parts) > 4 {
		return false
	}
	for _, part := range parts {
		if part == "" || strings.HasPrefix(part, ".") || strings.ContainsAny(part, "$#<>;`|&?{}^*\n") {
			return false
		}
	}
	return true
}

// localID is the ID part of an ID or an ARN of this account and region;
// ok is false for an ARN of another account or region, which names nothing
// here.
func (s *Service) localID(idOrARN, kind string) (string, bool) {
	if !strings.HasPrefix(idOrARN, "arn:") {
		return idOrARN, true
	}
	prefix := "arn:aws:elasticfilesystem:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + kind + "/"
	id, ok := strings.CutPrefix(idOrARN, prefix)
	return id, ok
}

// Paging tokens are the creation sequence number of the first item of the
// next page, opaque to clients.

func pageToken(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

func parsePageToken(tok string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil && n >= 0
}

// pageSize reads a MaxItems/MaxResults query parameter: at least 1; EFS
// caps it at 100, its default.
func pageSize(v *violations, raw, member string) int {
	if raw == "" {
		return 100
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		v.add(raw, member, "Member must be an integer")
		return 0
	}
	if n < 1 {
		v.add(n, member, "Member must have value greater than or equal to 1")
		return 0
	}
	return min(n, 100)
}
