package compute

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// This file checks the payload's values: idle durations, passwords, SSH
// keys, VM size names.

// formatIdle renders an idle time as the SDK's convert_seconds_to_duration
// does: "PT<seconds>S".
func formatIdle(d time.Duration) string {
	return "PT" + strconv.FormatInt(int64(d/time.Second), 10) + "S"
}

// parseIdle parses the ISO-8601 durations nodeIdleTimeBeforeScaleDown takes
// — P[nW][nD][T[nH][nM][nS]], each number possibly with a fraction — and
// floors them to whole seconds, as the SDK's convert_duration_to_seconds
// (isodate, then floor) does. It returns why s is not one, or "". Years and
// months have no fixed length and are refused, as isodate's Duration has no
// total_seconds.
func parseIdle(s string) (time.Duration, string) {
	bad := fmt.Sprintf("%q is not one (for example PT1800S, PT30M, PT1H30M)", s)
	if len(s) > 64 {
		return 0, "the value is too long to be one (for example PT1800S, PT30M, PT1H30M)"
	}
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" || rest == "T" {
		return 0, bad
	}
	total := new(big.Rat)
	units := "WD" // the units allowed next, in order
	inTime := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime, units, rest = true, "HMS", rest[1:]
			if rest == "" {
				return 0, bad
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == len(rest) {
			return 0, bad
		}
		num, unit := rest[:i], rest[i]
		rest = rest[i+1:]
		if !inTime && (unit == 'Y' || unit == 'M') {
			return 0, fmt.Sprintf("%q is in years or months, which have no fixed length in seconds; use days, hours, minutes and seconds (for example PT1800S)", s)
		}
		k := strings.IndexByte(units, unit)
		if k < 0 {
			return 0, bad
		}
		units = units[k+1:]
		v, ok := isoDecimal(num)
		if !ok {
			return 0, bad
		}
		total.Add(total, v.Mul(v, new(big.Rat).SetInt64(unitSeconds(unit))))
	}
	secs := new(big.Int).Quo(total.Num(), total.Denom()) // floor, as total ≥ 0
	if !secs.IsInt64() || secs.Int64() > math.MaxInt64/int64(time.Second) {
		return 0, fmt.Sprintf("%q is longer than vnetml can count (292 years)", s)
	}
	return time.Duration(secs.Int64()) * time.Second, ""
}

func unitSeconds(unit byte) int64 {
	switch unit {
	case 'W':
		return 7 * 86400
	case 'D':
		return 86400
	case 'H':
		return 3600
	case 'M':
		return 60
	}
	return 1
}

// isoDecimal parses digits with at most one decimal sign ('.' or ',', as
// ISO-8601 allows) and digits on at least one side of it.
func isoDecimal(s string) (*big.Rat, bool) {
	intPart, frac, _ := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if intPart+frac == "" || strings.ContainsAny(intPart+frac, ".,") {
		return nil, false
	}
	return new(big.Rat).SetString(cmp.Or(intPart, "0") + "." + cmp.Or(frac, "0"))
}

// passwordClasses counts the character classes of the SDK's password
// policy that p hits: lower case, upper case, digit, special (ASCII only,
// as Python's string.ascii_lowercase etc.).
func passwordClasses(p string) int {
	var lower, upper, digit, special bool
	for _, c := range p {
		switch {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		case strings.ContainsRune(passwordSpecials, c):
			special = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, special} {
		if b {
			n++
		}
	}
	return n
}

// sshKeyTypes are the OpenSSH public key types accepted.
var sshKeyTypes = []string{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519", "ssh-rsa"}

// checkSSHKey says why k is not an OpenSSH public key line ("<type>
// <base64> [comment]" whose decoded blob starts with the same type), or "".
func checkSSHKey(k string) string {
	k = strings.TrimSpace(k)
	if strings.ContainsAny(k, "\r\n") {
		return "it has more than one line"
	}
	if strings.HasPrefix(k, "-----BEGIN") || strings.HasPrefix(k, "---- BEGIN") {
		return "it is a PEM or RFC 4716 key (a private key, or ssh-keygen -e output), not an OpenSSH public key"
	}
	f := strings.Fields(k)
	if len(f) < 2 {
		return "it has no key type and base64 blob"
	}
	if _, ok := slices.BinarySearch(sshKeyTypes, f[0]); !ok {
		return fmt.Sprintf("%q is not a supported key type", f[0])
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "the key blob is not valid base64"
	}
	if len(blob) < 4 {
		return "the key blob is truncated"
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n) > uint64(len(blob)-4) || string(blob[4:4+n]) != f[0] {
		return fmt.Sprintf("the key blob is not a %s key", f[0])
	}
	return ""
}

// suggestSizes proposes the catalog's sizes closest to v, or says where the
// list is.
func suggestSizes(location, v string) string {
	u := strings.ToUpper(strings.TrimSpace(v))
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, s := range Sizes(location) {
		limit := max(3, len(s.Name)/4)
		d := armerror.Distance(u, s.Name, limit)
		if !strings.HasPrefix(u, "STANDARD_") {
			d = min(d, armerror.Distance("STANDARD_"+u, s.Name, limit))
		}
		if d < limit {
			cs = append(cs, cand{s.Name, d})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.name, b.name)) })
	if len(cs) == 0 {
		return fmt.Sprintf("; AmlCompute.supported_vmsizes lists the %d sizes there (for example %s)", len(Sizes(location)), DefaultVMSize)
	}
	names := make([]string, 0, 3)
	for _, c := range cs[:min(3, len(cs))] {
		names = append(names, c.name)
	}
	return "; did you mean " + strings.Join(names, ", ") + "?"
}
