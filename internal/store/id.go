package store

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
)

// This file holds what every backend needs to agree on: how an id is
// parsed and indexed, what a valid document is, what an etag looks like and
// how a List is filtered and resumed. Backends call these; users need not.

// ID is a resource id parsed for indexing.
type ID struct {
	ID            string // as given
	Key           string // network.Key(ID): the case-folded identity
	Subscription  string
	ResourceGroup string // "" at subscription scope
	// Type is the ARM type: Microsoft.Resources/subscriptions and
	// Microsoft.Resources/resourceGroups for the scopes themselves, the
	// namespace of the last providers/ section and its types otherwise
	// (Microsoft.Authorization/locks for a lock on a virtual network).
	Type string
	// Parent is the id of the enclosing resource or scope, spelled as in ID
	// ("" for a subscription).
	Parent string
}

const (
	maxIDLength = 4096
	idShape     = "want /subscriptions/{subscription}[/resourceGroups/{group}][/providers/{namespace}/{type}/{name}[/{childType}/{childName}]...] or /providers/{namespace}/{type}/{name}..."
)

// ParseID parses an ARM resource id: a subscription, a resource group, or a
// provider resource under either or at tenant scope (/providers/…, with no
// subscription and no parent), including child resources and extension
// resources (…/providers/Microsoft.Authorization/locks/{name} under another
// resource). It agrees with network.ParseResourceID on the ids that both
// accept, and is stricter: no empty segment, no trailing slash, no control
// character, valid UTF-8. Errors have code InvalidResourceId.
func ParseID(id string) (ID, error) {
	r, why, args := parseID(id)
	if why == "" {
		return r, nil
	}
	shown := id
	if len(shown) > 200 {
		shown = shown[:200] + "…"
	}
	return ID{}, armerror.New(CodeInvalidResourceID, "id", "%q is not a resource id: %s; %s.",
		shown, fmt.Sprintf(why, args...), idShape)
}

// TryParseID is ParseID for callers that only need to know whether id
// parses: it builds no error.
func TryParseID(id string) (ID, bool) {
	r, why, _ := parseID(id)
	return r, why == ""
}

// parseID parses id; on failure why (a format) and args say why.
func parseID(id string) (_ ID, why string, args []any) {
	bad := func(why string, args ...any) (ID, string, []any) { return ID{}, why, args }
	switch {
	case id == "":
		return bad("it is empty")
	case len(id) > maxIDLength:
		return bad("it is longer than %d bytes", maxIDLength)
	case !utf8.ValidString(id):
		return bad("it is not valid UTF-8")
	case strings.IndexFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return bad("it contains a control character")
	case id[0] != '/':
		return bad("it does not start with /")
	case strings.HasSuffix(id, "/"):
		return bad("it ends with /")
	}
	segs := strings.Split(id[1:], "/")
	for _, s := range segs {
		if s == "" {
			return bad("it has an empty segment (//)")
		}
	}
	// upTo returns the id spelled as given up to (not including) segs[n].
	start := make([]int, len(segs)+1) // start[n]: the offset of segs[n] in id
	start[0] = 1
	for n, s := range segs {
		start[n+1] = start[n] + len(s) + 1
	}
	upTo := func(n int) string { return id[:start[n]-1] }
	r := ID{ID: id, Key: network.Key(id)}
	i := 0
	switch {
	case keyword(segs[0], "providers"):
		// A tenant-scope resource, e.g. /providers/Microsoft.Management/
		// managementGroups/{name}: no subscription, no parent scope.
	case len(segs) < 2 || !keyword(segs[0], "subscriptions"):
		return bad("it does not start with /subscriptions/{subscription} or /providers/{namespace}")
	default:
		r.Subscription, i = segs[1], 2
		if i == len(segs) {
			r.Type = "Microsoft.Resources/subscriptions"
			return r, "", nil
		}
	}
	if r.Subscription != "" && keyword(segs[i], "resourceGroups") {
		if i+1 == len(segs) {
			return bad("resourceGroups has no name")
		}
		r.ResourceGroup = segs[i+1]
		i += 2
		if i == len(segs) {
			r.Type, r.Parent = "Microsoft.Resources/resourceGroups", upTo(2)
			return r, "", nil
		}
	}
	var ns string
	var types []string
	for i < len(segs) {
		if !keyword(segs[i], "providers") {
			return bad("found %q where providers/{namespace} belongs", segs[i])
		}
		if i+1 == len(segs) {
			return bad("providers has no namespace")
		}
		section := i
		ns, types = segs[i+1], types[:0]
		i += 2
		for i < len(segs) && !keyword(segs[i], "providers") {
			if i+1 == len(segs) {
				return bad("type %q has no name", segs[i])
			}
			types = append(types, segs[i])
			r.Parent = upTo(i)
			i += 2
		}
		if len(types) == 0 {
			return bad("providers/%s has no {type}/{name}", ns)
		}
		if len(types) == 1 {
			r.Parent = ""
			if section > 0 {
				r.Parent = upTo(section)
			}
		}
	}
	r.Type = ns + "/" + strings.Join(types, "/")
	return r, "", nil
}

// keyword reports whether a segment is the keyword kw (ASCII) in any
// case, as Key folds it: strings.EqualFold would also take "ſubscriptions",
// which Key keeps distinct from "subscriptions".
func keyword(seg, kw string) bool {
	if len(seg) != len(kw) {
		return false
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		k := kw[i]
		if 'A' <= k && k <= 'Z' {
			k += 'a' - 'A'
		}
		if c != k {
			return false
		}
	}
	return true
}

// CheckDoc reports whether doc can be stored under id: a JSON object in
// UTF-8. Errors have code InvalidRequestContent.
func CheckDoc(id string, doc []byte) error {
	if !json.Valid(doc) {
		if len(bytes.TrimSpace(doc)) == 0 {
			return armerror.New(CodeInvalidContent, id, "The document for %s is empty; send the resource as a JSON object.", id)
		}
		var v json.RawMessage
		err := json.Unmarshal(doc, &v)
		return armerror.New(CodeInvalidContent, id, "The document for %s is not valid JSON: %v.", id, err)
	}
	if !utf8.Valid(doc) {
		return armerror.New(CodeInvalidContent, id, "The document for %s is not valid UTF-8.", id)
	}
	if bytes.TrimLeft(doc, " \t\r\n")[0] != '{' {
		return armerror.New(CodeInvalidContent, id, "The document for %s is not a JSON object; a resource is {\"name\": …, \"properties\": {…}}.", id)
	}
	return nil
}

// NewEtag returns a fresh ARM-style weak etag, W/"<random uuid>".
func NewEtag() string {
	var u [16]byte
	rand.Read(u[:]) // never fails (crypto/rand since Go 1.24)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return `W/"` + string(b[:]) + `"`
}

// Query is ListOptions checked and case-folded, for backends: a resource
// is listed when Matches says so and its Key sorts after After.
type Query struct {
	Subscription  string // case-folded; "" for any
	ResourceGroup string // case-folded; "" for any
	Type          string // case-folded; "" for any
	KeyPrefix     string // case-folded parent id + "/"; "" for any
	After         string // a Key; "" to start at the beginning
	Limit         int    // 0 for no limit
}

// Query checks o and returns it case-folded, with its continuation token
// decoded.
func (o ListOptions) Query() (Query, error) {
	q := Query{
		Subscription:  strings.ToLower(o.Subscription),
		ResourceGroup: strings.ToLower(o.ResourceGroup),
		Type:          strings.ToLower(o.Type),
		Limit:         o.Limit,
	}
	if o.Limit < 0 {
		return Query{}, armerror.New(CodeInvalidQuery, "limit", "The limit %d is negative; use 0 for no limit.", o.Limit)
	}
	if o.Parent != "" {
		p, err := ParseID(o.Parent)
		if err != nil {
			e, _ := armerror.As(err)
			c := *e
			c.Target = "parent"
			return Query{}, &c
		}
		q.KeyPrefix = p.Key + "/"
	}
	if o.Continuation != "" {
		b, err := base64.RawURLEncoding.DecodeString(o.Continuation)
		after, ok := strings.CutPrefix(string(b), continuationVersion)
		if err != nil || !ok || after == "" {
			return Query{}, armerror.New(CodeInvalidContinuation, "continuation",
				"The continuation token is not one this store issued; pass Page.Next unchanged, or start again without one.")
		}
		q.After = after
	}
	return q, nil
}

const continuationVersion = "1:"

// Matches reports whether the resource with id passes q's filters (not its
// paging).
func (q Query) Matches(id ID) bool {
	return (q.Subscription == "" || strings.ToLower(id.Subscription) == q.Subscription) &&
		(q.ResourceGroup == "" || strings.ToLower(id.ResourceGroup) == q.ResourceGroup) &&
		(q.Type == "" || strings.ToLower(id.Type) == q.Type) &&
		(q.KeyPrefix == "" || strings.HasPrefix(id.Key, q.KeyPrefix))
}

// Continuation returns the token that resumes a List after the resource
// whose Key is key.
func Continuation(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(continuationVersion + key))
}
