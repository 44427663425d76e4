package cli

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/client"
)

// randomFile writes n random bytes to dir/name and returns its path and
// contents.
func randomFile(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// wantFile fails the test unless path holds want.
func wantFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the uploaded file (%d bytes, want %d)", path, len(got), len(want))
	}
}

// wantGone fails the test if any of paths exists.
func wantGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
}

// blobArgs are the flags naming the container data of account sa1.
var blobArgs = []string{"--account-name", "sa1", "-c", "data"}

func blob(verb string, args ...string) []string {
	return append(append([]string{"storage", "blob", verb}, blobArgs...), args...)
}

// listBlobs returns the blobs of sa1/data by name.
func (s *dataServer) listBlobs(args ...string) map[string]client.BlobInfo {
	s.t.Helper()
	var blobs []client.BlobInfo
	decode(s.t, s.ok(blob("list", append(args, "-o", "json")...)...), &blobs)
	out := map[string]client.BlobInfo{}
	for _, b := range blobs {
		out[b.Name] = b
	}
	return out
}

// A storage account whose firewall admits 203.0.113.0/24 serves the
// default client address (203.0.113.10): upload (one request, and blocks
// with progress for 9 MiB), list, download, delete. Once the firewall
// admits only 198.51.100.0/24 the same upload is refused, saying which
// address and rule; --client-address, VNETML_CLIENT_ADDRESS and the login
// config each move the client into the admitted range.
func TestStorageBlobThroughTheFirewall(t *testing.T) {
	s := newDataServer(t)
	out := s.ok("storage", "account", "create", "sa1", "-g", "mygroup", "--default-action", "Deny", "--ip-rule", "203.0.113.0/24")
	for _, w := range []string{"sa1   mygroup        eastus    198.18.", "Deny", "Firewall: default action Deny, bypass AzureServices", "IP rules: 203.0.113.0/24"} {
		if !strings.Contains(out, w) {
			t.Errorf("create does not show %q:\n%s", w, out)
		}
	}
	dir := t.TempDir()
	small, smallData := randomFile(t, dir, "small.txt", 1000)
	out = s.ok(blob("upload", "-f", small)...)
	if want := "Uploaded " + small + " to blob data/small.txt of storage account sa1 (1000 bytes"; !strings.HasPrefix(out, want) {
		t.Errorf("upload says %q, want %q...", out, want)
	}

	big, bigData := randomFile(t, dir, "big.bin", 9<<20)
	r := s.run(blob("upload", "-f", big, "-n", "models/big.bin")...)
	if r.code != exitOK {
		t.Fatalf("upload of 9 MiB: exit %d\n%s", r.code, r.stderr)
	}
	for _, w := range []string{"Uploading models/big.bin 100%  9.0 MiB / 9.0 MiB", "MiB/s"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the upload's progress does not show %q:\n%s", w, r.stderr)
		}
	}
	r = s.run(blob("upload", "-f", big, "-n", "quiet.bin", "--no-progress")...)
	wantOK(t, r) // no progress on stderr

	blobs := s.listBlobs()
	if len(blobs) != 3 || blobs["small.txt"].Size != 1000 || blobs["models/big.bin"].Size != 9<<20 || blobs["models/big.bin"].ContentMD5 == "" {
		t.Errorf("blobs: %+v", blobs)
	}
	if got := s.listBlobs("--prefix", "models/"); len(got) != 1 {
		t.Errorf("--prefix models/ lists %+v", got)
	}
	table := s.ok(blob("list")...)
	if !strings.Contains(table, "Name            Size     LastModified") || !strings.Contains(table, "models/big.bin  9437184  ") {
		t.Errorf("list table:\n%s", table)
	}

	got := filepath.Join(dir, "got.bin")
	r = s.run(blob("download", "-n", "models/big.bin", "-f", got)...)
	if r.code != exitOK || !strings.Contains(r.stderr, "Downloading models/big.bin 100%") {
		t.Fatalf("download: exit %d\n%s", r.code, r.stderr)
	}
	wantFile(t, got, bigData)
	wantGone(t, got+".part", got+".part.etag")
	gotSmall := filepath.Join(dir, "got.txt")
	s.ok(blob("download", "-n", "small.txt", "-f", gotSmall)...)
	wantFile(t, gotSmall, smallData)

	out = s.ok(blob("delete", "-n", "quiet.bin")...)
	if out != "Deleted blob data/quiet.bin of storage account sa1.\n" {
		t.Errorf("delete says %q", out)
	}
	if _, ok := s.listBlobs()["quiet.bin"]; ok {
		t.Error("the deleted blob is still listed")
	}
	wantFail(t, s.run(blob("delete", "-n", "quiet.bin")...), exitInput, "BlobNotFound")

	// Only 198.51.100.0/24 now: the default address is refused, with the
	// storage service's code and the address and rule that decided.
	out = s.ok("storage", "account", "update", "sa1", "-g", "mygroup", "--ip-rule", "198.51.100.0/24")
	if !strings.Contains(out, "IP rules: 198.51.100.0/24\n") {
		t.Errorf("update shows:\n%s", out)
	}
	r = s.run(blob("upload", "-f", small)...)
	wantFail(t, r, exitInput, "vnetml: AuthorizationFailure", "This request is not authorized to perform this operation",
		api.DefaultClientAddress, "storage account sa1", "defaultAction Deny")
	for _, bad := range []string{"<?xml", "<Error>", "goroutine", "panic"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("the refusal shows %q:\n%s", bad, r.stderr)
		}
	}
	// A download asks HEAD first, whose refusal has no body: it still
	// explains itself.
	wantFail(t, s.run(blob("download", "-n", "small.txt", "-f", filepath.Join(dir, "refused"))...), exitInput,
		"AuthorizationFailure", "refused the request from "+api.DefaultClientAddress)

	// The client address, by flag, environment and login config.
	s.ok(blob("upload", "-f", small, "--client-address", "198.51.100.9")...)
	t.Setenv("VNETML_CLIENT_ADDRESS", "198.51.100.9")
	s.ok(blob("upload", "-f", small)...)
	wantFail(t, s.run(blob("upload", "-f", small, "--client-address", "203.0.113.10")...), exitInput, "AuthorizationFailure", "203.0.113.10")
	t.Setenv("VNETML_CLIENT_ADDRESS", "")

	login := run(t, "login", "--endpoint", s.url, "--data-dir", s.dir, "--client-address", "198.51.100.77")
	wantOK(t, login)
	if !strings.Contains(login.stdout, "Data-plane commands call from client address 198.51.100.77.") {
		t.Errorf("login says:\n%s", login.stdout)
	}
	cfg, err := client.LoadConfig(client.ConfigPath())
	if err != nil || cfg.ClientAddress != "198.51.100.77" {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	wantOK(t, run(t, blob("upload", "-f", small)...))
	wantFail(t, run(t, blob("upload", "-f", small, "--client-address", "203.0.113.10")...), exitInput, "AuthorizationFailure")
	t.Setenv("VNETML_CLIENT_ADDRESS", "203.0.113.10")
	wantFail(t, run(t, blob("upload", "-f", small)...), exitInput, "AuthorizationFailure", "203.0.113.10")
}

// A download continues from FILE.part when FILE.part.etag holds the blob's
// ETag, checks the whole file against the blob's MD5 (so a partial file of
// other bytes is caught, which proves the kept bytes were not fetched
// again), and starts over when the blob changed.
func TestStorageBlobDownloadResumes(t *testing.T) {
	s := newDataServer(t)
	s.ok("storage", "account", "create", "sa1", "-g", "mygroup")
	dir := t.TempDir()
	src, data := randomFile(t, dir, "src.bin", 9<<20+12345)
	s.ok(blob("upload", "-f", src, "-n", "big.bin", "--no-progress")...)
	etag := s.listBlobs()["big.bin"].ETag
	if etag == "" {
		t.Fatal("the blob list shows no ETag")
	}
	file := filepath.Join(dir, "big.bin")
	part, tag := file+".part", file+".part.etag"
	const kept = 3<<20 + 7
	prepare := func(head []byte, etag string) {
		t.Helper()
		if err := os.WriteFile(part, head, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tag, []byte(etag+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	download := blob("download", "-n", "big.bin", "-f", file, "--no-progress")

	// The first bytes are there: the rest is fetched.
	prepare(data[:kept], etag)
	r := s.run(download...)
	if r.code != exitOK {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
	if want := "vnetml: resuming the download of data/big.bin at byte 3145735 of 9449529.\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	if !strings.Contains(r.stdout, "(9449529 bytes, resumed at byte 3145735)") {
		t.Errorf("stdout: %s", r.stdout)
	}
	wantFile(t, file, data)
	wantGone(t, part, tag)

	// Other bytes in the part: resumed all the same, and caught by the
	// MD5; the part is discarded, and the next run starts afresh.
	prepare(make([]byte, kept), etag)
	r = s.run(download...)
	wantFail(t, r, exitInput, "Md5Mismatch", "run the command again")
	wantGone(t, part, tag)
	s.ok(download...)
	wantFile(t, file, data)

	// The blob changed since the part was written: from the start.
	prepare(data[:kept], `"0x1234"`)
	r = s.run(download...)
	if r.code != exitOK || !strings.Contains(r.stderr, "the blob changed since "+part+" was started (ETag \"0x1234\"") ||
		!strings.Contains(r.stderr, "downloading from the start") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	wantFile(t, file, data)
	wantGone(t, part, tag)

	// A complete part whose rename did not happen: nothing to fetch.
	prepare(data, etag)
	r = s.run(download...)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	wantFile(t, file, data)
}

// update changes the fields its flags name and keeps the others; the
// --add- and --remove- flags edit the lists; bad values are usage errors
// naming the flag, the server's refusals too.
func TestStorageAccountUpdate(t *testing.T) {
	s := newDataServer(t)
	subnet := testVNet + "/subnets/default"
	s.ok("storage", "account", "create", "sa1", "-g", "mygroup", "--default-action", "Deny", "--bypass", "AzureServices,logging",
		"--ip-rule", "203.0.113.0/24", "--ip-rule", "198.51.100.7")
	s.ok("storage", "account", "update", "sa1", "--add-ip-rule", "192.0.2.0/24", "--remove-ip-rule", "198.51.100.7/32")
	var sa struct {
		Properties struct {
			NetworkAcls struct {
				DefaultAction string `json:"defaultAction"`
				Bypass        string `json:"bypass"`
				IPRules       []struct {
					Value  string `json:"value"`
					Action string `json:"action"`
				} `json:"ipRules"`
			} `json:"networkAcls"`
			PublicNetworkAccess string `json:"publicNetworkAccess"`
		} `json:"properties"`
	}
	decode(t, s.ok("storage", "account", "show", "sa1", "-o", "json"), &sa)
	acl := sa.Properties.NetworkAcls
	if acl.DefaultAction != "Deny" || acl.Bypass != "AzureServices, Logging" || len(acl.IPRules) != 2 ||
		acl.IPRules[0].Value != "203.0.113.0/24" || acl.IPRules[1].Value != "192.0.2.0/24" || acl.IPRules[1].Action != "Allow" {
		t.Errorf("after update: %+v", sa.Properties)
	}
	r := s.run("storage", "account", "update", "sa1", "--public-network-access", "disabled", "--remove-ip-rule", "198.18.0.1")
	if r.code != exitOK || !strings.Contains(r.stderr, "warning: --remove-ip-rule 198.18.0.1: there is no such IP rule") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	decode(t, s.ok("storage", "account", "show", "sa1", "-o", "json"), &sa)
	if sa.Properties.PublicNetworkAccess != "Disabled" || len(sa.Properties.NetworkAcls.IPRules) != 2 {
		t.Errorf("after update: %+v", sa.Properties)
	}
	src, _ := randomFile(t, t.TempDir(), "f", 10)
	wantFail(t, s.run(blob("upload", "-f", src)...), exitInput, "AuthorizationFailure", "203.0.113.10")
	r = s.run("storage", "account", "update", "sa1", "--default-action", "Allow")
	if r.code != exitOK || !strings.Contains(r.stderr, "warning: the firewall's default action is Allow") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}

	wantFail(t, s.run("storage", "account", "update", "sa1"), exitInput, "MissingArgument", "nothing to change")
	wantFail(t, s.run("storage", "account", "update", "sa1", "--default-action", "Block", "--ip-rule", "300.1.2.3",
		"--vnet-rule", "mynetwork/default", "--bypass", "AzureServices,None"), exitInput,
		"4 errors in the command line", "(--default-action)", "(--ip-rule)", "(--vnet-rule)", "(--bypass)")
	wantFail(t, s.run("storage", "account", "update", "sa1", "--ip-rule", "192.0.2.1", "--add-ip-rule", "192.0.2.2"), exitInput, "give one or the other")
	// The server judges what the CLI cannot: a private range, a subnet
	// that does not exist.
	wantFail(t, s.run("storage", "account", "update", "sa1", "--add-ip-rule", "10.0.0.0/8"), exitInput, "(--ip-rule)", "RFC 1918")
	wantFail(t, s.run("storage", "account", "update", "sa1", "--add-vnet-rule", subnet), exitInput, "(--vnet-rule)")
	wantFail(t, s.run("storage", "account", "update", "nosuch"), exitInput, "MissingArgument")
	wantFail(t, s.run("storage", "account", "update", "nosuch", "--default-action", "Deny"), exitInput, "NotFound", "nosuch")

	// create refuses an account that exists; list, show and delete.
	wantFail(t, s.run("storage", "account", "create", "sa1", "-g", "mygroup"), exitInput, "Conflict", "vnetml storage account update sa1")
	if out := s.ok("storage", "account", "list"); !strings.Contains(out, "sa1   mygroup") {
		t.Errorf("list:\n%s", out)
	}
	if out := s.ok("storage", "account", "delete", "sa1", "-g", "mygroup"); out != "Deleted storage account mygroup/sa1\n" {
		t.Errorf("delete: %q", out)
	}
	if out := s.ok("storage", "account", "list", "-g", "mygroup"); out != "No storage accounts in resource group mygroup.\n" {
		t.Errorf("list after delete: %q", out)
	}
}

// keys list shows both keys; renew replaces one, and the data plane
// accepts the new key (the CLI signs with key1).
func TestStorageAccountKeys(t *testing.T) {
	s := newDataServer(t)
	s.ok("storage", "account", "create", "sa1", "-g", "mygroup")
	var before, after []accountKey
	decode(t, s.ok("storage", "account", "keys", "list", "sa1", "-o", "json"), &before)
	if len(before) != 2 || before[0].KeyName != "key1" || before[1].KeyName != "key2" || before[0].Value == before[1].Value {
		t.Fatalf("keys: %+v", before)
	}
	if out := s.ok("storage", "account", "keys", "list", "sa1", "-g", "mygroup"); !strings.Contains(out, "key1     FULL         "+before[0].Value) {
		t.Errorf("keys table:\n%s", out)
	}
	decode(t, s.ok("storage", "account", "keys", "renew", "sa1", "--key", "KEY1", "-o", "json"), &after)
	if len(after) != 2 || after[0].Value == before[0].Value || after[1].Value != before[1].Value {
		t.Errorf("renew key1: before %+v, after %+v", before, after)
	}
	src, _ := randomFile(t, t.TempDir(), "f", 10)
	s.ok(blob("upload", "-f", src)...)
	s.ok(blob("upload", "-f", src, "--auth-mode", "login")...)
	wantFail(t, s.run("storage", "account", "keys", "renew", "sa1"), exitInput, "(--key)")
	wantFail(t, s.run("storage", "account", "keys", "renew", "sa1", "--key", "key3"), exitInput, "(--key)")
}

// The blob commands find the account by name in the subscription, and say
// so when there is none; their flags are checked before anything is sent.
func TestStorageBlobUsage(t *testing.T) {
	s := newDataServer(t)
	s.ok("storage", "account", "create", "sa1", "-g", "mygroup")
	wantFail(t, s.run("storage", "blob", "list", "--account-name", "nosuch", "-c", "data"), exitInput,
		`NotFound (--account-name): Storage account "nosuch" was not found in subscription`, "known: sa1")
	wantFail(t, s.run("storage", "blob", "upload"), exitInput,
		"3 errors in the command line", "(--account-name)", "(--container-name)", "(--file)")
	wantFail(t, s.run(blob("upload", "-f", filepath.Join(t.TempDir(), "missing"))...), exitInput, "(--file)", "cannot read")
	wantFail(t, s.run(blob("list", "--auth-mode", "sas")...), exitInput, "(--auth-mode)")
	wantFail(t, s.run(blob("list", "--client-address", "10.1.2.3")...), exitInput, "(--client-address)", "not a public address")
	wantFail(t, s.run(blob("list", "--client-address", "2001:db8::1")...), exitInput, "(--client-address)", "not an IPv4 address")
	wantFail(t, s.run(blob("list")...), exitInput, "ContainerNotFound")
	wantFail(t, s.run(blob("download", "-n", "x", "-f", filepath.Join(t.TempDir(), "x"))...), exitInput, "ContainerNotFound")
	wantFail(t, run(t, "login", "--endpoint", s.url, "--data-dir", s.dir, "--client-address", "192.168.1.1"), exitInput, "(--client-address)")

	// The file share endpoint (445) is another store than the blob one.
	src, _ := randomFile(t, t.TempDir(), "shared.txt", 5)
	s.ok("storage", "blob", "upload", "--account-name", "sa1", "-c", "share1", "-f", src, "--file-share")
	if out := s.ok("storage", "blob", "list", "--account-name", "sa1", "-c", "share1", "--file-share"); !strings.Contains(out, "shared.txt  5     ") {
		t.Errorf("file share list:\n%s", out)
	}
	wantFail(t, s.run("storage", "blob", "list", "--account-name", "sa1", "-c", "share1"), exitInput, "ContainerNotFound")
	if diff := cmp.Diff("No blobs in container data of storage account sa1.\n", func() string {
		src, _ := randomFile(t, t.TempDir(), "f", 1)
		s.ok(blob("upload", "-f", src)...)
		s.ok(blob("delete", "-n", "f")...)
		return s.ok(blob("list")...)
	}()); diff != "" {
		t.Errorf("empty list (-want +got):\n%s", diff)
	}
	wantFail(t, s.run(blob("download", "-n", "x", "-f", filepath.Join(t.TempDir(), "x"))...), exitInput,
		"BlobNotFound (--name): The specified blob does not exist: there is no blob x in container data of storage account sa1.")
}
