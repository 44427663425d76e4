package blobstore

import (
	"strings"
	"unicode/utf8"
)

// MaxBlobNameLength is Azure's limit on a blob name, in characters.
const MaxBlobNameLength = 1024

// validAccount checks Azure's storage account name rule: 3-24 lowercase
// letters and digits. The account becomes a directory name, so this is
// also what keeps it inside the root.
func validAccount(name string) error {
	if len(name) < 3 || len(name) > 24 {
		return newErr(CodeInvalidResourceName, "account", "account name %q must be 3-24 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return newErr(CodeInvalidResourceName, "account", "account name %q may hold only lowercase letters and digits", name)
		}
	}
	return nil
}

// ValidContainerName checks Azure's container name rule: 3-63 characters,
// lowercase letters, digits and hyphens, starting and ending with a letter
// or digit, no two hyphens in a row.
// https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata#container-names
func ValidContainerName(name string) error {
	const hint = "; use 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit"
	if len(name) < 3 || len(name) > 63 {
		return newErr(CodeInvalidResourceName, "container", "container name %q is %d characters long%s", name, len(name), hint)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(name)-1 && name[i-1] != '-':
		default:
			return newErr(CodeInvalidResourceName, "container", "container name %q is not valid%s", name, hint)
		}
	}
	return nil
}

// ValidBlobName checks a blob name: 1-1024 characters of valid UTF-8, with
// no control characters and nothing XML 1.0 cannot carry (list responses are
// XML). Any other name, "../x", "/abs" and "a//b" included, is stored as is:
// names never become file names (see blobKey), so they cannot escape the root.
func ValidBlobName(name string) error {
	if name == "" {
		return newErr(CodeInvalidResourceName, "blob", "the blob name is empty")
	}
	if !utf8.ValidString(name) {
		return newErr(CodeInvalidResourceName, "blob", "the blob name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > MaxBlobNameLength {
		return newErr(CodeInvalidResourceName, "blob", "the blob name is %d characters long; the limit is %d", n, MaxBlobNameLength)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r >= 0xD800 && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF {
			return newErr(CodeInvalidResourceName, "blob", "the blob name holds the character %U, which is not allowed; remove control characters", r)
		}
	}
	return nil
}

// maxMetadataSize is Azure's limit on the total size of user metadata.
const maxMetadataSize = 8 << 10

// validMetadata checks user metadata: names are C# identifiers (Azure's
// rule), compared case-insensitively and stored lowercased; values are
// printable ASCII-safe header text; the total is at most 8 KiB.
func validMetadata(md map[string]string) error {
	total := 0
	for k, v := range md {
		total += len(k) + len(v)
		if !isIdentifier(k) {
			return newErr(CodeInvalidMetadata, "x-ms-meta-"+k, "metadata name %q is not a valid identifier; use letters, digits and underscores, not starting with a digit", k)
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) || !utf8.ValidString(v) {
			return newErr(CodeInvalidMetadata, "x-ms-meta-"+k, "metadata value of %q holds control characters", k)
		}
	}
	if total > maxMetadataSize {
		return newErr(CodeMetadataTooLarge, "x-ms-meta-*", "metadata totals %d bytes; the limit is %d", total, maxMetadataSize)
	}
	return nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
