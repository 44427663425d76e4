package keyvault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

// Limits, Azure Key Vault's.
const (
	MaxValueBytes       = 25 * 1024 // a secret's value
	MaxNameLength       = 127
	MaxContentType      = 255
	MaxTags             = 15
	MaxTagName          = 512
	MaxTagValue         = 256
	DefaultMaxResults   = 25 // a list page; also the largest maxresults
	versionHexLen       = 32
	vaultType           = "microsoft.keyvault/vaults"
	secretType          = "Microsoft.KeyVault/vaults/secrets"
	versionType         = "Microsoft.KeyVault/vaults/secrets/versions"
	maxWriteRetries     = 16
	reencryptPageLength = 100
)

// Service is the secret store of every key vault. It keeps secrets in a
// store.Store, their values sealed under the Keyring's current key.
//
// Concurrency: a Service is safe for concurrent use; every write is an
// optimistic read-modify-write on the store's etags, retried on a lost race.
type Service struct {
	st   store.Store
	keys *Keyring
	now  func() time.Time
	log  *slog.Logger
	dns  string
	// locks serialize this process's writers of one secret (striped by
	// its id), so that they queue instead of starving each other in
	// optimistic retries; the etag conditions still guard every write.
	locks [64]sync.Mutex
}

// lock takes the write lock of the secret with id sid and returns its
// release.
func (s *Service) lock(sid string) func() {
	h := fnv.New32a()
	h.Write([]byte(storeKey(sid)))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// Options configures a Service. The zero value is ready to use.
type Options struct {
	// Now is the clock deciding nbf and exp and stamping created/updated;
	// time.Now when nil.
	Now func() time.Time
	// Logger receives operational logs (ids, versions, codes; never values);
	// slog.Default() when nil.
	Logger *slog.Logger
	// DNSSuffix is the vault host suffix in secret ids; "vault.azure.net"
	// when empty.
	DNSSuffix string
}

// New returns the Service over st with values sealed by keys.
func New(st store.Store, keys *Keyring, opts Options) *Service {
	s := &Service{st: st, keys: keys, now: opts.Now, log: opts.Logger, dns: opts.DNSSuffix}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.dns == "" {
		s.dns = "vault.azure.net"
	}
	return s
}

// Attributes are a secret version's attributes. Times are whole seconds,
// as Key Vault keeps them.
type Attributes struct {
	Enabled   bool
	NotBefore *time.Time // nbf: Get refuses the version before it
	Expires   *time.Time // exp: Get refuses the version from it on
	Created   time.Time
	Updated   time.Time
}

// Bundle is one secret version. Value is set by Set and Get only.
type Bundle struct {
	VaultID     string
	Name        string // as first written
	Version     string // 32 lowercase hex digits
	Value       Value
	ContentType string
	Tags        map[string]string
	Attributes  Attributes
}

// SetOptions are the optional parts of a Set. The zero value makes an
// enabled version with no content type, tags or validity window.
type SetOptions struct {
	ContentType string
	Tags        map[string]string
	Enabled     *bool // nil: true
	NotBefore   *time.Time
	Expires     *time.Time
}

// Update changes a version's attributes, tags or content type; nil fields
// are kept. The value of a version never changes: Set a new version.
type Update struct {
	ContentType *string
	Tags        map[string]string // nil: keep; empty: remove all
	Enabled     *bool
	NotBefore   *time.Time
	Expires     *time.Time
}

// PageOptions pages List and Versions. The zero value reads the first page
// of DefaultMaxResults.
type PageOptions struct {
	MaxResults int    // 1..DefaultMaxResults; 0 for DefaultMaxResults
	SkipToken  string // Page.Next of the previous page
}

// Page is one page of bundles without values.
type Page struct {
	Bundles []Bundle
	Next    string // "" on the last page
}

// secretDoc is the document at {vaultID}/secrets/{name}: it orders the
// versions (serial) and names the newest, so that Set is one transaction
// guarded by its etag.
type secretDoc struct {
	Name   string `json:"name"`
	Serial int64  `json:"serial"`
	Latest string `json:"latest"`
}

// versionDoc is the document at {vaultID}/secrets/{name}/versions/{version}.
type versionDoc struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Serial      int64             `json:"serial"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Attributes  attrDoc           `json:"attributes"`
	Value       sealed            `json:"value"`
}

type attrDoc struct {
	Enabled bool   `json:"enabled"`
	NBF     *int64 `json:"nbf,omitempty"`
	Exp     *int64 `json:"exp,omitempty"`
	Created int64  `json:"created"`
	Updated int64  `json:"updated"`
}

// checkVault checks that vaultID names a key vault.
func checkVault(vaultID string) (store.ID, error) {
	p, err := store.ParseID(vaultID)
	if err != nil {
		return store.ID{}, err
	}
	if strings.ToLower(p.Type) != vaultType {
		return store.ID{}, armerror.New(store.CodeInvalidResourceID, "vaultId",
			"%s is a %s, not a key vault; want /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.KeyVault/vaults/{vault}.", shown(vaultID), p.Type)
	}
	return p, nil
}

// vaultName returns the vault's name, the last segment of its id.
func vaultName(vaultID string) string { return vaultID[strings.LastIndexByte(vaultID, '/')+1:] }

// CheckName reports whether name is a valid secret name: 1-127 of
// [0-9a-zA-Z-], Key Vault's rule.
func CheckName(name string) error {
	ok := name != "" && len(name) <= MaxNameLength
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-'
	}
	if !ok {
		return badParameter("name", "The request URI contains an invalid name: %s. A secret name is 1-%d characters of 0-9, a-z, A-Z and -.", shown(name), MaxNameLength)
	}
	return nil
}

func validVersion(v string) bool {
	if len(v) != versionHexLen {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

func newVersion() string {
	var b [versionHexLen / 2]byte
	rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

func secretID(vaultID, name string) string { return vaultID + "/secrets/" + name }
func versionID(vaultID, name, version string) string {
	return vaultID + "/secrets/" + name + "/versions/" + version
}

// storeKey is the store's case-folded key of id (store.ParseID's Key).
func storeKey(id string) string { return strings.ToLower(id) }

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	u := t.Unix()
	return &u
}

func timePtr(u *int64) *time.Time {
	if u == nil {
		return nil
	}
	t := time.Unix(*u, 0).UTC()
	return &t
}

// checkMeta validates what Set and Update share.
func checkMeta(contentType *string, tags map[string]string, nbf, exp *int64) error {
	var l armerror.List
	if contentType != nil && len(*contentType) > MaxContentType {
		l.Add(badParameter("contentType", "The content type is %d bytes; the limit is %d.", len(*contentType), MaxContentType))
	}
	if len(tags) > MaxTags {
		l.Add(badParameter("tags", "There are %d tags; the limit is %d.", len(tags), MaxTags))
	}
	for k, v := range tags {
		if k == "" || len(k) > MaxTagName {
			l.Add(badParameter("tags", "A tag name is 1-%d bytes; %q is %d.", MaxTagName, shown(k), len(k)))
		}
		if len(v) > MaxTagValue {
			l.Add(badParameter("tags", "The value of tag %q is %d bytes; the limit is %d.", shown(k), len(v), MaxTagValue))
		}
	}
	if nbf != nil && exp != nil && *exp <= *nbf {
		l.Add(badParameter("attributes.exp", "exp (%d) must be after nbf (%d).", *exp, *nbf))
	}
	return l.Err()
}

// Set stores value as a new version of the secret name in vaultID and
// returns it; the version becomes the newest.
func (s *Service) Set(ctx context.Context, vaultID, name string, value []byte, opts SetOptions) (Bundle, error) {
	if _, err := checkVault(vaultID); err != nil {
		return Bundle{}, err
	}
	if err := CheckName(name); err != nil {
		return Bundle{}, err
	}
	if len(value) > MaxValueBytes {
		// The message gives the size only, never the value.
		return Bundle{}, badParameter("value", "The secret value is %d bytes; Key Vault's limit is %d bytes (25 KiB).", len(value), MaxValueBytes)
	}
	nbf, exp := unixPtr(opts.NotBefore), unixPtr(opts.Expires)
	if err := checkMeta(&opts.ContentType, opts.Tags, nbf, exp); err != nil {
		return Bundle{}, err
	}
	now := s.now().Unix()
	enabled := opts.Enabled == nil || *opts.Enabled
	version := newVersion()
	vid := versionID(vaultID, name, version)
	doc := versionDoc{
		Name: name, Version: version, ContentType: opts.ContentType, Tags: maps.Clone(opts.Tags),
		Attributes: attrDoc{Enabled: enabled, NBF: nbf, Exp: exp, Created: now, Updated: now},
		Value:      s.keys.seal(storeKey(vid), value),
	}
	sid := secretID(vaultID, name)
	defer s.lock(sid)()
	for range maxWriteRetries {
		sd, cond, err := s.readSecret(ctx, sid)
		if err != nil && !store.IsNotFound(err) {
			return Bundle{}, err
		}
		if err != nil {
			sd, cond = secretDoc{Name: name}, store.CreateOnly()
		}
		sd.Serial++
		sd.Latest = version
		doc.Name, doc.Serial = sd.Name, sd.Serial
		sb, _ := json.Marshal(sd)  // cannot fail: strings and numbers
		vb, _ := json.Marshal(doc) // cannot fail
		_, err = s.st.Apply(ctx, []store.Op{
			store.PutOp(sid, sb, cond),
			store.PutOp(versionID(vaultID, sd.Name, version), vb, store.CreateOnly()),
		})
		if store.IsPreconditionFailed(err) || store.IsConflict(err) {
			continue // another writer of this secret won; read again
		}
		if err != nil {
			return Bundle{}, s.storeErr("set secret", err)
		}
		s.log.LogAttrs(ctx, slog.LevelDebug, "keyvault: secret set", slog.String("vault", vaultID), slog.String("secret", sd.Name), slog.String("version", version))
		b := s.bundle(vaultID, doc)
		b.Value = Value(append([]byte{}, value...))
		return b, nil
	}
	return Bundle{}, armerror.New(CodeConflict, "", "The secret %s is being written by too many clients at once; retry.", name)
}

// readSecret returns the secret document at sid and the condition that it
// is unchanged.
func (s *Service) readSecret(ctx context.Context, sid string) (secretDoc, store.Condition, error) {
	r, err := s.st.Get(ctx, sid)
	if err != nil {
		return secretDoc{}, store.Condition{}, err
	}
	var sd secretDoc
	if err := json.Unmarshal(r.Doc, &sd); err != nil {
		return secretDoc{}, store.Condition{}, errInternal("read "+sid, err)
	}
	return sd, store.IfMatch(r.Etag), nil
}

// storeErr passes the store's caller errors through and wraps the others
// (I/O, a closed store) as InternalServerError.
func (s *Service) storeErr(what string, err error) error {
	if _, ok := armerror.As(err); ok {
		return err
	}
	s.log.Error("keyvault: store failed", slog.String("op", what), slog.Any("err", err))
	return errInternal(what, err)
}

func (s *Service) bundle(vaultID string, d versionDoc) Bundle {
	return Bundle{
		VaultID: vaultID, Name: d.Name, Version: d.Version, ContentType: d.ContentType, Tags: d.Tags,
		Attributes: Attributes{
			Enabled: d.Attributes.Enabled, NotBefore: timePtr(d.Attributes.NBF), Expires: timePtr(d.Attributes.Exp),
			Created: time.Unix(d.Attributes.Created, 0).UTC(), Updated: time.Unix(d.Attributes.Updated, 0).UTC(),
		},
	}
}

// readVersion returns the version document and its etag.
func (s *Service) readVersion(ctx context.Context, vaultID, name, version string) (versionDoc, string, error) {
	if !validVersion(version) {
		return versionDoc{}, "", errSecretNotFound(name, version)
	}
	r, err := s.st.Get(ctx, versionID(vaultID, name, version))
	if store.IsNotFound(err) {
		return versionDoc{}, "", errSecretNotFound(name, version)
	}
	if err != nil {
		return versionDoc{}, "", s.storeErr("get secret", err)
	}
	var d versionDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return versionDoc{}, "", errInternal("read "+r.ID, err)
	}
	return d, r.Etag, nil
}

// Get returns a secret version with its value: version "" is the newest
// enabled version. A version that is disabled, not yet valid (nbf) or
// expired (exp) is refused with Forbidden and inner code SecretDisabled,
// SecretNotYetValid or SecretExpired; a missing one is SecretNotFound.
func (s *Service) Get(ctx context.Context, vaultID, name, version string) (Bundle, error) {
	if _, err := checkVault(vaultID); err != nil {
		return Bundle{}, err
	}
	if err := CheckName(name); err != nil {
		return Bundle{}, err
	}
	var d versionDoc
	var err error
	if version == "" {
		d, err = s.latestEnabled(ctx, vaultID, name)
	} else {
		d, _, err = s.readVersion(ctx, vaultID, name, version)
	}
	if err != nil {
		return Bundle{}, err
	}
	now := s.now().Unix()
	switch a := d.Attributes; {
	case !a.Enabled:
		return Bundle{}, errDisabled("get")
	case a.NBF != nil && now < *a.NBF:
		return Bundle{}, errNotYetValid("get")
	case a.Exp != nil && now >= *a.Exp:
		return Bundle{}, errExpired("get")
	}
	vid := versionID(vaultID, name, d.Version)
	p, err := s.keys.open(vid, storeKey(vid), d.Value)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "keyvault: stored secret unreadable", slog.String("id", vid), slog.String("code", armerror.Codes(err)[0]))
		return Bundle{}, err
	}
	b := s.bundle(vaultID, d)
	b.Value = p
	return b, nil
}

// latestEnabled returns the newest enabled version of a secret; when none
// is enabled, the newest (which Get then refuses as disabled).
func (s *Service) latestEnabled(ctx context.Context, vaultID, name string) (versionDoc, error) {
	sd, _, err := s.readSecret(ctx, secretID(vaultID, name))
	if store.IsNotFound(err) {
		return versionDoc{}, errSecretNotFound(name, "")
	}
	if err != nil {
		return versionDoc{}, s.storeErr("get secret", err)
	}
	d, _, err := s.readVersion(ctx, vaultID, name, sd.Latest)
	if err != nil || d.Attributes.Enabled {
		return d, err
	}
	// The newest is disabled: scan for the newest enabled one.
	newest := d
	var best *versionDoc
	err = s.eachVersion(ctx, vaultID, name, func(v versionDoc, _ store.Resource) error {
		if v.Attributes.Enabled && (best == nil || v.Serial > best.Serial) {
			best = &v
		}
		return nil
	})
	if err != nil {
		return versionDoc{}, err
	}
	if best == nil {
		return newest, nil
	}
	return *best, nil
}

// eachVersion calls fn for every version of a secret, in version order.
func (s *Service) eachVersion(ctx context.Context, vaultID, name string, fn func(versionDoc, store.Resource) error) error {
	opts := store.ListOptions{Parent: secretID(vaultID, name), Type: versionType, Limit: reencryptPageLength}
	for {
		page, err := s.st.List(ctx, opts)
		if err != nil {
			return s.storeErr("list versions", err)
		}
		for _, r := range page.Resources {
			var d versionDoc
			if err := json.Unmarshal(r.Doc, &d); err != nil {
				return errInternal("read "+r.ID, err)
			}
			if err := fn(d, r); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		opts.Continuation = page.Next
	}
}

// Update changes a version's attributes, tags or content type and returns
// it without its value; version "" is the newest version.
func (s *Service) Update(ctx context.Context, vaultID, name, version string, u Update) (Bundle, error) {
	if _, err := checkVault(vaultID); err != nil {
		return Bundle{}, err
	}
	if err := CheckName(name); err != nil {
		return Bundle{}, err
	}
	if err := checkMeta(u.ContentType, u.Tags, nil, nil); err != nil {
		return Bundle{}, err
	}
	defer s.lock(secretID(vaultID, name))()
	for range maxWriteRetries {
		v := version
		if v == "" {
			sd, _, err := s.readSecret(ctx, secretID(vaultID, name))
			if store.IsNotFound(err) {
				return Bundle{}, errSecretNotFound(name, "")
			}
			if err != nil {
				return Bundle{}, s.storeErr("update secret", err)
			}
			v = sd.Latest
		}
		d, etag, err := s.readVersion(ctx, vaultID, name, v)
		if err != nil {
			return Bundle{}, err
		}
		if u.ContentType != nil {
			d.ContentType = *u.ContentType
		}
		if u.Tags != nil {
			d.Tags = maps.Clone(u.Tags)
		}
		if u.Enabled != nil {
			d.Attributes.Enabled = *u.Enabled
		}
		if u.NotBefore != nil {
			d.Attributes.NBF = unixPtr(u.NotBefore)
		}
		if u.Expires != nil {
			d.Attributes.Exp = unixPtr(u.Expires)
		}
		if err := checkMeta(nil, nil, d.Attributes.NBF, d.Attributes.Exp); err != nil {
			return Bundle{}, err
		}
		d.Attributes.Updated = s.now().Unix()
		b, _ := json.Marshal(d) // cannot fail
		_, err = s.st.Put(ctx, versionID(vaultID, name, v), b, store.IfMatch(etag))
		if store.IsPreconditionFailed(err) {
			continue
		}
		if store.IsNotFound(err) {
			return Bundle{}, errSecretNotFound(name, v)
		}
		if err != nil {
			return Bundle{}, s.storeErr("update secret", err)
		}
		return s.bundle(vaultID, d), nil
	}
	return Bundle{}, armerror.New(CodeConflict, "", "The secret %s is being written by too many clients at once; retry.", name)
}

// ListPage returns one page of the secrets of a vault, each as its newest
// version's attributes without a value, in case-folded name order.
func (s *Service) ListPage(ctx context.Context, vaultID string, p PageOptions) (Page, error) {
	if _, err := checkVault(vaultID); err != nil {
		return Page{}, err
	}
	limit, err := p.limit()
	if err != nil {
		return Page{}, err
	}
	page, err := s.st.List(ctx, store.ListOptions{Parent: vaultID, Type: secretType, Limit: limit, Continuation: p.SkipToken})
	if err != nil {
		return Page{}, pageErr(s, err)
	}
	out := Page{Next: page.Next, Bundles: make([]Bundle, 0, len(page.Resources))}
	for _, r := range page.Resources {
		var sd secretDoc
		if err := json.Unmarshal(r.Doc, &sd); err != nil {
			return Page{}, errInternal("read "+r.ID, err)
		}
		d, _, err := s.readVersion(ctx, vaultID, sd.Name, sd.Latest)
		if armerror.Codes(err) != nil && armerror.Codes(err)[0] == CodeSecretNotFound {
			continue // deleted between the two reads
		}
		if err != nil {
			return Page{}, err
		}
		out.Bundles = append(out.Bundles, s.bundle(vaultID, d))
	}
	return out, nil
}

// VersionsPage returns one page of the versions of a secret without values,
// in version order (Key Vault lists versions unordered; this is stable).
func (s *Service) VersionsPage(ctx context.Context, vaultID, name string, p PageOptions) (Page, error) {
	if _, err := checkVault(vaultID); err != nil {
		return Page{}, err
	}
	if err := CheckName(name); err != nil {
		return Page{}, err
	}
	limit, err := p.limit()
	if err != nil {
		return Page{}, err
	}
	page, err := s.st.List(ctx, store.ListOptions{Parent: secretID(vaultID, name), Type: versionType, Limit: limit, Continuation: p.SkipToken})
	if err != nil {
		return Page{}, pageErr(s, err)
	}
	out := Page{Next: page.Next, Bundles: make([]Bundle, 0, len(page.Resources))}
	for _, r := range page.Resources {
		var d versionDoc
		if err := json.Unmarshal(r.Doc, &d); err != nil {
			return Page{}, errInternal("read "+r.ID, err)
		}
		out.Bundles = append(out.Bundles, s.bundle(vaultID, d))
	}
	return out, nil
}

func (p PageOptions) limit() (int, error) {
	switch {
	case p.MaxResults == 0:
		return DefaultMaxResults, nil
	case p.MaxResults < 1 || p.MaxResults > DefaultMaxResults:
		return 0, badParameter("maxresults", "maxresults is %d; it must be between 1 and %d.", p.MaxResults, DefaultMaxResults)
	}
	return p.MaxResults, nil
}

func pageErr(s *Service, err error) error {
	if e, ok := armerror.As(err); ok && e.Code == store.CodeInvalidContinuation {
		return badParameter("$skiptoken", "The $skiptoken is not one this vault issued; pass nextLink unchanged, or list again from the start.")
	}
	return s.storeErr("list secrets", err)
}

// List returns every secret of a vault (see ListPage).
func (s *Service) List(ctx context.Context, vaultID string) ([]Bundle, error) {
	return collect(func(p PageOptions) (Page, error) { return s.ListPage(ctx, vaultID, p) })
}

// Versions returns every version of a secret (see VersionsPage); a secret
// that does not exist has none.
func (s *Service) Versions(ctx context.Context, vaultID, name string) ([]Bundle, error) {
	return collect(func(p PageOptions) (Page, error) { return s.VersionsPage(ctx, vaultID, name, p) })
}

func collect(page func(PageOptions) (Page, error)) ([]Bundle, error) {
	var out []Bundle
	var p PageOptions
	for {
		pg, err := page(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pg.Bundles...)
		if pg.Next == "" {
			return out, nil
		}
		p.SkipToken = pg.Next
	}
}

// Delete removes a secret with all its versions, in one transaction, and
// returns its newest version without a value. Key Vault's soft delete
// (recovery, purge) is not reproduced: the secret is purged at once, as in
// a vault whose recovery level is Purgeable.
func (s *Service) Delete(ctx context.Context, vaultID, name string) (Bundle, error) {
	if _, err := checkVault(vaultID); err != nil {
		return Bundle{}, err
	}
	if err := CheckName(name); err != nil {
		return Bundle{}, err
	}
	sid := secretID(vaultID, name)
	defer s.lock(sid)()
	for range maxWriteRetries {
		sd, cond, err := s.readSecret(ctx, sid)
		if store.IsNotFound(err) {
			return Bundle{}, errSecretNotFound(name, "")
		}
		if err != nil {
			return Bundle{}, s.storeErr("delete secret", err)
		}
		var latest versionDoc
		ops := []store.Op{store.DeleteOp(sid, cond)} // the secret's etag guards against a concurrent Set
		err = s.eachVersion(ctx, vaultID, name, func(d versionDoc, r store.Resource) error {
			if d.Version == sd.Latest {
				latest = d
			}
			ops = append(ops, store.DeleteOp(r.ID, store.Condition{}))
			return nil
		})
		if err != nil {
			return Bundle{}, err
		}
		_, err = s.st.Apply(ctx, ops)
		if store.IsPreconditionFailed(err) || store.IsNotFound(err) {
			continue
		}
		if err != nil {
			return Bundle{}, s.storeErr("delete secret", err)
		}
		s.log.LogAttrs(ctx, slog.LevelDebug, "keyvault: secret deleted", slog.String("vault", vaultID), slog.String("secret", sd.Name), slog.Int("versions", len(ops)-1))
		return s.bundle(vaultID, latest), nil
	}
	return Bundle{}, armerror.New(CodeConflict, "", "The secret %s is being written by too many clients at once; retry.", name)
}

// Reencrypt rewrites every secret version of every vault that is not
// sealed under the keyring's current key, and returns how many it
// rewrote. Run it after Keyring.Rotate; once it returns nil, no value needs
// the older keys. A version that fails to decrypt stops it with that
// version's error (fix or delete the version and run it again).
func (s *Service) Reencrypt(ctx context.Context) (int, error) {
	n := 0
	opts := store.ListOptions{Type: versionType, Limit: reencryptPageLength}
	for {
		page, err := s.st.List(ctx, opts)
		if err != nil {
			return n, s.storeErr("reencrypt", err)
		}
		for _, r := range page.Resources {
			done, err := s.reencryptOne(ctx, r)
			if err != nil {
				return n, err
			}
			if done {
				n++
			}
		}
		if page.Next == "" {
			break
		}
		opts.Continuation = page.Next
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "keyvault: re-encrypted secrets", slog.Int("versions", n), slog.String("key", s.keys.Current()))
	return n, nil
}

// reencryptOne re-seals one version document under the current key,
// retrying when an Update races with it.
func (s *Service) reencryptOne(ctx context.Context, r store.Resource) (bool, error) {
	if i := strings.LastIndex(strings.ToLower(r.ID), "/versions/"); i > 0 {
		defer s.lock(r.ID[:i])()
	}
	for range maxWriteRetries {
		var d versionDoc
		if err := json.Unmarshal(r.Doc, &d); err != nil {
			return false, errInternal("read "+r.ID, err)
		}
		if d.Value.KeyID == s.keys.Current() {
			return false, nil
		}
		key := storeKey(r.ID)
		p, err := s.keys.open(r.ID, key, d.Value)
		if err != nil {
			return false, err
		}
		d.Value = s.keys.seal(key, p)
		clear(p)
		b, _ := json.Marshal(d) // cannot fail
		_, err = s.st.Put(ctx, r.ID, b, store.IfMatch(r.Etag))
		switch {
		case err == nil:
			return true, nil
		case store.IsNotFound(err):
			return false, nil // deleted meanwhile
		case !store.IsPreconditionFailed(err):
			return false, s.storeErr("reencrypt", err)
		}
		if r, err = s.st.Get(ctx, r.ID); store.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, s.storeErr("reencrypt", err)
		}
	}
	return false, armerror.New(CodeConflict, r.ID, "The secret version %s is being written by too many clients at once; run Reencrypt again.", r.ID)
}
