package keyvault

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vnetml/vnetml/internal/store"
)

func TestSetGetVersionsListDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v1, err := f.svc.Set(ctx, testVault, "db-password", []byte("one"), SetOptions{ContentType: "text/plain", Tags: map[string]string{"app": "ml"}})
	if err != nil {
		t.Fatal(err)
	}
	if !validVersion(v1.Version) || v1.Version != strings.ToLower(v1.Version) {
		t.Fatalf("version %q is not 32 lowercase hex digits", v1.Version)
	}
	f.clock.add(time.Minute)
	v2, err := f.svc.Set(ctx, testVault, "DB-Password", []byte("two"), SetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Name != "db-password" {
		t.Errorf("name spelled %q, want the first spelling", v2.Name)
	}
	if _, err := f.svc.Set(ctx, testVault, "registry", []byte("reg"), SetOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, secret, version, want string
	}{
		{"latest", "db-password", "", "two"},
		{"latest any case", "DB-PASSWORD", "", "two"},
		{"v1", "db-password", v1.Version, "one"},
		{"v1 upper hex", "db-password", strings.ToUpper(v1.Version), "one"},
		{"v2", "db-password", v2.Version, "two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := f.svc.Get(ctx, testVault, tc.secret, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if string(b.Value) != tc.want {
				t.Errorf("value %q, want %q", string(b.Value), tc.want)
			}
		})
	}
	got, err := f.svc.Get(ctx, testVault, "db-password", v1.Version)
	if err != nil {
		t.Fatal(err)
	}
	want := Bundle{VaultID: testVault, Name: "db-password", Version: v1.Version, Value: Value("one"), ContentType: "text/plain",
		Tags: map[string]string{"app": "ml"}, Attributes: Attributes{Enabled: true, Created: t0, Updated: t0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get v1 (-want +got):\n%s", diff)
	}

	vs, err := f.svc.Versions(ctx, testVault, "db-password")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("%d versions, want 2", len(vs))
	}
	for _, v := range vs {
		if v.Value != nil {
			t.Error("Versions returned a value")
		}
	}
	list, err := f.svc.List(ctx, testVault)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list {
		names = append(names, b.Name+"@"+b.Version)
		if b.Value != nil {
			t.Error("List returned a value")
		}
	}
	if diff := cmp.Diff([]string{"db-password@" + v2.Version, "registry@" + list[1].Version}, names); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	del, err := f.svc.Delete(ctx, testVault, "db-password")
	if err != nil {
		t.Fatal(err)
	}
	if del.Version != v2.Version {
		t.Errorf("Delete returned version %s, want the newest %s", del.Version, v2.Version)
	}
	for _, v := range []string{"", v1.Version} {
		if _, err := f.svc.Get(ctx, testVault, "db-password", v); InnerOrCode(err) != CodeSecretNotFound {
			t.Errorf("Get %q after delete: %v", v, err)
		}
	}
	if _, err := f.svc.Delete(ctx, testVault, "db-password"); InnerOrCode(err) != CodeSecretNotFound {
		t.Errorf("second Delete: %v", err)
	}
	page, err := f.st.List(ctx, store.ListOptions{Parent: testVault})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Resources) != 2 { // registry and its one version
		t.Errorf("store holds %d documents after delete, want 2", len(page.Resources))
	}
	// A secret set again after delete starts afresh.
	if _, err := f.svc.Set(ctx, testVault, "db-password", []byte("three"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if vs, _ := f.svc.Versions(ctx, testVault, "db-password"); len(vs) != 1 {
		t.Errorf("%d versions after delete and set, want 1", len(vs))
	}
}

func TestLatestIsNewestEnabled(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var versions []string
	for i := range 4 {
		b, err := f.svc.Set(ctx, testVault, "s", []byte(fmt.Sprint("v", i)), SetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, b.Version)
	}
	disable := func(i int) {
		if _, err := f.svc.Update(ctx, testVault, "s", versions[i], Update{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name    string
		do      func()
		want    string // value of Get ""; "" for an error
		wantErr string
	}{
		{"all enabled", func() {}, "v3", ""},
		{"newest disabled", func() { disable(3) }, "v2", ""},
		{"two newest disabled", func() { disable(2) }, "v1", ""},
		{"all disabled", func() { disable(1); disable(0) }, "", InnerSecretDisabled},
		{"oldest re-enabled", func() { f.svc.Update(ctx, testVault, "s", versions[0], Update{Enabled: ptr(true)}) }, "v0", ""},
	}
	for _, s := range steps {
		s.do()
		b, err := f.svc.Get(ctx, testVault, "s", "")
		if got := InnerOrCode(err); got != s.wantErr || string(b.Value) != s.want {
			t.Errorf("%s: Get = %q, %v; want %q, %q", s.name, string(b.Value), err, s.want, s.wantErr)
		}
	}
}

func TestValidityRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	nbf, exp := t0.Add(time.Hour), t0.Add(2*time.Hour)
	b, err := f.svc.Set(ctx, testVault, "windowed", []byte("w"), SetOptions{NotBefore: &nbf, Expires: &exp})
	if err != nil {
		t.Fatal(err)
	}
	off, err := f.svc.Set(ctx, testVault, "off", []byte("o"), SetOptions{Enabled: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		at      time.Time
		secret  string
		version string
		want    string // inner code; "" for success
	}{
		{"before nbf", t0, "windowed", "", InnerSecretNotYetValid},
		{"before nbf by version", t0, "windowed", b.Version, InnerSecretNotYetValid},
		{"a second before nbf", nbf.Add(-time.Second), "windowed", "", InnerSecretNotYetValid},
		{"at nbf", nbf, "windowed", "", ""},
		{"inside", nbf.Add(30 * time.Minute), "windowed", "", ""},
		{"a second before exp", exp.Add(-time.Second), "windowed", "", ""},
		{"at exp", exp, "windowed", "", InnerSecretExpired},
		{"after exp", exp.Add(time.Hour), "windowed", b.Version, InnerSecretExpired},
		{"disabled", t0, "off", "", InnerSecretDisabled},
		{"disabled by version", t0, "off", off.Version, InnerSecretDisabled},
		{"missing", t0, "nope", "", CodeSecretNotFound},
		{"missing version", t0, "windowed", strings.Repeat("0", 32), CodeSecretNotFound},
		{"malformed version", t0, "windowed", "xyz", CodeSecretNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.set(tc.at)
			_, err := f.svc.Get(ctx, testVault, tc.secret, tc.version)
			if got := InnerOrCode(err); got != tc.want {
				t.Fatalf("Get: %v; want %q", err, tc.want)
			}
			if tc.want != "" && tc.want != CodeSecretNotFound {
				if e, _ := armErr(err); e.Code != CodeForbidden || status(e.Code) != 403 {
					t.Errorf("code %s, want Forbidden (403)", e.Code)
				}
			}
		})
	}
	if _, err := f.svc.Get(ctx, testVault, "off", ""); err == nil || !strings.Contains(err.Error(), "Operation get is not allowed on a disabled secret.") {
		t.Errorf("disabled message: %v", err)
	}
}

func TestSetRejects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tooMany := map[string]string{}
	for i := range MaxTags + 1 {
		tooMany[fmt.Sprint("t", i)] = "v"
	}
	big := bytes.Repeat([]byte("S"), MaxValueBytes+1)
	for _, tc := range []struct {
		name    string
		vault   string
		secret  string
		value   []byte
		opts    SetOptions
		want    string
		wantMsg string
	}{
		{"ok max name", testVault, strings.Repeat("a", 127), []byte("x"), SetOptions{}, "", ""},
		{"ok max value", testVault, "big", big[:MaxValueBytes], SetOptions{}, "", ""},
		{"ok empty value", testVault, "empty", nil, SetOptions{}, "", ""},
		{"empty name", testVault, "", []byte("x"), SetOptions{}, CodeBadParameter, "invalid name"},
		{"long name", testVault, strings.Repeat("a", 128), []byte("x"), SetOptions{}, CodeBadParameter, "invalid name"},
		{"underscore", testVault, "a_b", []byte("x"), SetOptions{}, CodeBadParameter, "invalid name"},
		{"slash", testVault, "a/b", []byte("x"), SetOptions{}, CodeBadParameter, "invalid name"},
		{"unicode", testVault, "café", []byte("x"), SetOptions{}, CodeBadParameter, "invalid name"},
		{"value too large", testVault, "big", big, SetOptions{}, CodeBadParameter, "25600"},
		{"content type too long", testVault, "s", []byte("x"), SetOptions{ContentType: strings.Repeat("c", 256)}, CodeBadParameter, "content type"},
		{"too many tags", testVault, "s", []byte("x"), SetOptions{Tags: tooMany}, CodeBadParameter, "tags"},
		{"exp before nbf", testVault, "s", []byte("x"), SetOptions{NotBefore: ptr(t0), Expires: ptr(t0)}, CodeBadParameter, "after nbf"},
		{"not a vault", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a", "s", []byte("x"), SetOptions{}, store.CodeInvalidResourceID, "not a key vault"},
		{"not an id", "vault", "s", []byte("x"), SetOptions{}, store.CodeInvalidResourceID, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Set(ctx, tc.vault, tc.secret, tc.value, tc.opts)
			if got := InnerOrCode(err); got != tc.want {
				t.Fatalf("Set: %v; want %q", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q lacks %q", err, tc.wantMsg)
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte("SSSSSSSS")) {
				t.Error("the error quotes the value")
			}
		})
	}
}

// TestCiphertextMovedFailsIntegrity copies one secret's sealed value into
// another secret's document (and another version's): reading it must fail
// the integrity check, never decrypt to the other secret's value.
func TestCiphertextMovedFailsIntegrity(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, _ := f.svc.Set(ctx, testVault, "a", []byte("value-of-a"), SetOptions{})
	b, _ := f.svc.Set(ctx, testVault, "b", []byte("value-of-b"), SetOptions{})
	b2, _ := f.svc.Set(ctx, testVault, "b", []byte("value-of-b2"), SetOptions{})
	other := "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/other"
	o, _ := f.svc.Set(ctx, other, "a", []byte("other-a"), SetOptions{})

	sealedOf := func(vault, name, version string) json.RawMessage {
		r, err := f.st.Get(ctx, versionID(vault, name, version))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		json.Unmarshal(r.Doc, &m)
		return m["value"]
	}
	implant := func(vault, name, version string, v json.RawMessage) {
		id := versionID(vault, name, version)
		r, err := f.st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		json.Unmarshal(r.Doc, &m)
		m["value"] = v
		doc, _ := json.Marshal(m)
		if _, err := f.st.Put(ctx, id, doc, store.Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name                 string
		fromVault, fromName  string
		fromVersion          string
		toVault, toName, toV string
	}{
		{"another secret", testVault, "a", a.Version, testVault, "b", b.Version},
		{"another version", testVault, "b", b.Version, testVault, "b", b2.Version},
		{"another vault", other, "a", o.Version, testVault, "a", a.Version},
	} {
		t.Run(tc.name, func(t *testing.T) {
			implant(tc.toVault, tc.toName, tc.toV, sealedOf(tc.fromVault, tc.fromName, tc.fromVersion))
			got, err := f.svc.Get(ctx, tc.toVault, tc.toName, tc.toV)
			if InnerOrCode(err) != CodeIntegrity {
				t.Fatalf("Get = %q, %v; want %s", string(got.Value), err, CodeIntegrity)
			}
			if status(CodeIntegrity) != 500 {
				t.Error("integrity failures are not 500")
			}
		})
	}
}

func TestRotateAndReencrypt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	want := map[string]string{} // vault/name/version -> value
	set := func(vault, name, value string) {
		b, err := f.svc.Set(ctx, vault, name, []byte(value), SetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want[vault+"|"+name+"|"+b.Version] = value
	}
	other := "/subscriptions/sub2/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v2"
	for i := range 120 { // more than one Reencrypt page
		set(testVault, fmt.Sprint("s", i%40), fmt.Sprint("value-", i))
	}
	set(other, "x", "other-x")
	oldKey := f.keys.Current()
	if _, err := f.keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	set(testVault, "after-rotate", "new") // sealed under the new key already
	checkAll := func(svc *Service) {
		t.Helper()
		for k, v := range want {
			p := strings.Split(k, "|")
			b, err := svc.Get(ctx, p[0], p[1], p[2])
			if err != nil || string(b.Value) != v {
				t.Fatalf("Get %s = %q, %v; want %q", k, string(b.Value), err, v)
			}
		}
	}
	checkAll(f.svc) // old and new keys both in use
	n, err := f.svc.Reencrypt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 121 {
		t.Errorf("Reencrypt rewrote %d versions, want 121", n)
	}
	if n, _ := f.svc.Reencrypt(ctx); n != 0 {
		t.Errorf("second Reencrypt rewrote %d, want 0", n)
	}
	// Remove the old key and reload: everything is still readable.
	if err := os.Remove(filepath.Join(f.dir, "master-keys", oldKey+".key")); err != nil {
		t.Fatal(err)
	}
	keys, err := LoadKeyring(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"000002"}, keys.IDs()); diff != "" {
		t.Errorf("keys after removal (-want +got):\n%s", diff)
	}
	checkAll(New(f.st, keys, Options{Now: f.clock.now}))
}

func TestMissingMasterKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, _ := f.svc.Set(ctx, testVault, "s", []byte("v"), SetOptions{})
	old := f.keys.Current()
	f.keys.Rotate()
	os.Remove(filepath.Join(f.dir, "master-keys", old+".key"))
	keys, err := LoadKeyring(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(f.st, keys, Options{Now: f.clock.now, Logger: f.svc.log})
	if _, err := svc.Get(ctx, testVault, "s", b.Version); InnerOrCode(err) != CodeMasterKeyMissing {
		t.Errorf("Get: %v", err)
	}
	if _, err := svc.Reencrypt(ctx); InnerOrCode(err) != CodeMasterKeyMissing {
		t.Errorf("Reencrypt: %v", err)
	}
}

func TestConcurrentSets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := f.svc.Set(ctx, testVault, "hot", []byte(fmt.Sprint(w, "-", i)), SetOptions{}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	vs, err := f.svc.Versions(ctx, testVault, "hot")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != writers*each {
		t.Errorf("%d versions, want %d", len(vs), writers*each)
	}
	r, _ := f.st.Get(ctx, secretID(testVault, "hot"))
	var sd secretDoc
	json.Unmarshal(r.Doc, &sd)
	if sd.Serial != writers*each {
		t.Errorf("serial %d, want %d", sd.Serial, writers*each)
	}
}

// TestNoPlaintextAtRest sets secrets with distinctive plaintexts through
// the Go API and the REST handler, then reads every byte of the data
// directory (the database, its WAL and shared memory, the key files) and
// of the captured log, and asserts that no plaintext appears in any
// encoding a careless implementation might use.
func TestNoPlaintextAtRest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var canaries []string
	for i := range 8 {
		canaries = append(canaries, fmt.Sprintf("CANARY-%d-%s", i, hex.EncodeToString([]byte(t.Name()))[:20]))
	}
	for i, c := range canaries[:4] {
		b, err := f.svc.Set(ctx, testVault, fmt.Sprint("s", i), []byte(c), SetOptions{ContentType: "text/plain"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(ctx, testVault, fmt.Sprint("s", i), b.Version); err != nil {
			t.Fatal(err)
		}
		// A mistaken log of the bundle must not leak either.
		f.svc.log.Info("bundle", "b", b, "v", b.Value, "s", fmt.Sprintf("%v %s %x %q %+v", b, b.Value, b.Value, b.Value, b))
		j, _ := json.Marshal(b)
		f.svc.log.Info("json", "b", string(j))
	}
	// Through the REST handler, including failing requests that carry a value.
	h := newTestHandler(f)
	for i, c := range canaries[4:] {
		do(t, h, "PUT", fmt.Sprintf("/secrets/r%d?api-version=7.4", i), `{"value":"`+c+`"}`)
		do(t, h, "GET", fmt.Sprintf("/secrets/r%d?api-version=7.4", i), "")
		do(t, h, "PUT", fmt.Sprintf("/secrets/r%d?api-version=7.4", i), `{"value":"`+c+`","bogus":1}`)
		do(t, h, "PATCH", fmt.Sprintf("/secrets/r%d?api-version=7.4", i), `{"value":"`+c+`"}`)
		do(t, h, "PUT", fmt.Sprintf("/secrets/bad_name?api-version=7.4"), `{"value":"`+c+`"}`)
	}
	// Rotation writes too.
	f.keys.Rotate()
	if _, err := f.svc.Reencrypt(ctx); err != nil {
		t.Fatal(err)
	}
	scan := func(what string, data []byte) {
		for _, c := range canaries {
			for enc, needle := range map[string]string{
				"raw":       c,
				"base64":    base64.StdEncoding.EncodeToString([]byte(c))[:16],
				"base64url": base64.RawURLEncoding.EncodeToString([]byte(c))[:16],
				"hex":       hex.EncodeToString([]byte(c)),
			} {
				if bytes.Contains(data, []byte(needle)) {
					t.Errorf("%s holds the plaintext %s (%s)", what, c, enc)
				}
			}
		}
	}
	walk := func() int {
		files := 0
		filepath.WalkDir(f.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			files++
			scan(path, data)
			return nil
		})
		return files
	}
	if _, err := os.Stat(filepath.Join(f.dir, "vnetml.db-wal")); err != nil {
		t.Fatalf("no WAL to scan while open: %v", err)
	}
	if n := walk(); n < 3 {
		t.Fatalf("scanned %d files; want the database, its WAL and a key at least", n)
	}
	log := f.log.Bytes()
	if !bytes.Contains(log, []byte("secret set")) || !bytes.Contains(log, []byte("REDACTED")) {
		t.Fatalf("the log captured nothing useful:\n%s", log)
	}
	scan("the log", log)
	f.st.Close() // checkpoints the WAL into the database
	walk()
}
