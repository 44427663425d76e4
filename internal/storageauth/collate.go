package storageauth

// Azure Storage sorts the names of canonicalized x-ms-* headers not by byte
// value but by the collation of the service's string comparison, and a
// client that sorts bytewise fails on names such as x-ms-meta-a_b and
// x-ms-meta-a-c (https://github.com/Azure/azure-sdk-for-python/pull/33951
// lists the service's order; Azure's SDKs carry the same weights). The
// collation has two levels:
//
//  1. Compare the names with hyphens, apostrophes and other ignorable
//     characters removed, character by character, by primary weight:
//     the punctuation ! # $ % & * . ^ _ ` | ~ + (in that order) before the
//     digits, before the letters (case-insensitively); a proper prefix
//     sorts first.
//  2. If equal, compare position by position: an ordinary character sorts
//     before the end of the name, which sorts before an apostrophe, which
//     sorts before a hyphen.
//
// Bytes outside ASCII, which no header name on the wire carries, sort after
// the letters by value, so that the order stays total.

// primaryOrder lists the characters that count at level 1, lowest first.
const primaryOrder = "!#$%&*.^_`|~+0123456789abcdefghijklmnopqrstuvwxyz"

// Level-2 weights. Everything but an apostrophe or a hyphen weighs 0.
const (
	w2End        = 1
	w2Apostrophe = 2
	w2Hyphen     = 3
)

var primaryWeight [256]uint16

func init() {
	for i := 0; i < len(primaryOrder); i++ {
		c := primaryOrder[i]
		primaryWeight[c] = uint16(i + 1)
		if 'a' <= c && c <= 'z' {
			primaryWeight[c-'a'+'A'] = uint16(i + 1)
		}
	}
	for c := 0x80; c < 0x100; c++ {
		primaryWeight[c] = uint16(len(primaryOrder) + c)
	}
}

func weight2(s []byte, i int) int {
	if i >= len(s) {
		return w2End
	}
	switch s[i] {
	case '\'':
		return w2Apostrophe
	case '-':
		return w2Hyphen
	}
	return 0
}

// collate compares two header names in Azure's order: -1, 0 or +1. Two
// names that differ only in ignorable control characters compare equal;
// callers break the tie bytewise.
func collate(a, b []byte) int {
	i, j := 0, 0
	for {
		for i < len(a) && primaryWeight[a[i]] == 0 {
			i++
		}
		for j < len(b) && primaryWeight[b[j]] == 0 {
			j++
		}
		switch {
		case i == len(a) && j == len(b):
		case i == len(a):
			return -1
		case j == len(b):
			return +1
		default:
			wa, wb := primaryWeight[a[i]], primaryWeight[b[j]]
			if wa != wb {
				return cmpInt(int(wa), int(wb))
			}
			i++
			j++
			continue
		}
		break
	}
	for k := 0; k < len(a) || k < len(b); k++ {
		if c := cmpInt(weight2(a, k), weight2(b, k)); c != 0 {
			return c
		}
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return +1
	}
	return 0
}
